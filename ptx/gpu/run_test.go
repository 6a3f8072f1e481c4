package gpu

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hungry-ssm/hungry"
	"github.com/hungry-ssm/hungry/sample"
	"github.com/hungry-ssm/hungry/tensor"
	"github.com/hungry-ssm/hungry/train"
)

// TestRunTrainScoreGenerate drives the library as the CLI does — a training run with a
// checkpoint and the final validation, then scoring and recurrent generation — with the
// model on the interpreted device, and compares the score of the trained weights with the
// CPU's.
func TestRunTrainScoreGenerate(t *testing.T) {
	text := strings.Repeat("It is a truth universally acknowledged, that a single man in possession of a good fortune, must be in want of a wife. ", 12)
	path := filepath.Join(t.TempDir(), "corpus.txt")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	corpus, err := hungry.LoadCorpus(path)
	if err != nil {
		t.Fatal(err)
	}
	spec := hungry.DefaultSpec()
	spec.Family, spec.Layers, spec.DModel, spec.DInner, spec.Heads, spec.Dropout = "hybrid", 2, 16, 32, 2, 0.1
	dev := NewInterpreted()
	const window = 16
	m, err := hungry.New(spec, corpus, window, dev, 1)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "run")
	opts := train.Options{Batch: 2, Context: window, Steps: 3, LR: 3e-3, CheckpointEvery: 2, EvalBatches: 1, LogEvery: 1, Seed: 1}
	run, err := hungry.NewRun(dir, m, spec.Family, corpus, path, opts)
	if err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	run.Out = &log
	sum, err := run.Train(context.Background())
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	if sum.Steps != 3 || math.IsNaN(sum.LastLoss) || sum.Val.Tokens == 0 {
		t.Fatalf("summary %+v", sum)
	}
	if fb := dev.HostFallbacks(); len(fb) > 0 {
		t.Errorf("the run fell back to the host: %v", fb)
	}

	saved := filepath.Join(t.TempDir(), "model")
	if err := m.Save(saved); err != nil {
		t.Fatal(err)
	}
	onCPU, err := hungry.Load(saved, tensor.DefaultCPU())
	if err != nil {
		t.Fatal(err)
	}
	probe := []byte("a single man in want of a wife")
	sg, err := m.Score(probe, 64)
	if err != nil {
		t.Fatal(err)
	}
	sc, err := onCPU.Score(probe, 64)
	if err != nil {
		t.Fatal(err)
	}
	// The same weights: the scores differ by the TF32 rounding of the products only.
	if math.Abs(sg.NLL-sc.NLL) > rtolStepLoss*sc.NLL {
		t.Errorf("score on the device %v, on the CPU %v", sg.NLL, sc.NLL)
	}
	out, err := m.Generate([]byte("It is"), 6, sample.Options{Greedy: true}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Error("generation produced nothing")
	}
	t.Logf("score %.5f nats (CPU %.5f); generated %q; host fallbacks %v", sg.NLL, sc.NLL, out, dev.HostFallbacks())
}
