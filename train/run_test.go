package train_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/hungry-ssm/hungry/data"
	"github.com/hungry-ssm/hungry/model"
	"github.com/hungry-ssm/hungry/train"
)

// tinyRun prepares a run of tinyModel on a repeating token stream in a fresh folder.
func tinyRun(t *testing.T, opts train.Options) *train.Run {
	t.Helper()
	tokens := make([]int32, 400)
	for i := range tokens {
		tokens[i] = int32(i*i+3*i) % 7
	}
	batches, err := data.NewSampler(tokens[:300], opts.Batch, opts.Context, opts.Seed)
	if err != nil {
		t.Fatal(err)
	}
	val, err := data.NewValidation(tokens[300:], opts.Batch, opts.Context)
	if err != nil {
		t.Fatal(err)
	}
	m := tinyModel(t, 3)
	return &train.Run{Dir: filepath.Join(t.TempDir(), "run"), Model: m, Batches: batches, Val: val, Opts: opts,
		SaveModel: func(dir string) error { return model.Save(dir, m) }}
}

// describe turns an event into a line without the times, which vary between runs.
func describe(ev train.Event) string {
	switch e := ev.(type) {
	case train.Started:
		return fmt.Sprintf("started %d/%d", e.Step, e.TotalSteps)
	case train.Stepped:
		return fmt.Sprintf("step %d/%d tokens %d", e.Step, e.TotalSteps, e.Tokens)
	case train.Logged:
		return fmt.Sprintf("logged %d/%d val %v final %v", e.Record.Step, e.TotalSteps, e.Record.ValLoss > 0, e.Final)
	case train.Saved:
		return fmt.Sprintf("saved %d in %s interrupted %v", e.Step, filepath.Base(e.Dir), e.Interrupted)
	case train.Stopped:
		return fmt.Sprintf("stopped %d/%d", e.Step, e.TotalSteps)
	}
	return fmt.Sprintf("unknown %T", ev)
}

// TestTrainEmitsItsRecords checks the loop's event stream against its schedule (metrics
// every 2 steps, validation every 4, checkpoints every 3) and that every Logged record is
// the line written to metrics.jsonl.
func TestTrainEmitsItsRecords(t *testing.T) {
	r := tinyRun(t, train.Options{Batch: 2, Context: 8, Steps: 6, LR: 1e-2, LogEvery: 2, EvalEvery: 4, EvalBatches: 1, CheckpointEvery: 3, Seed: 5})
	var got []string
	var logged []train.Record
	r.Events = func(ev train.Event) {
		got = append(got, describe(ev))
		if e, ok := ev.(train.Logged); ok {
			logged = append(logged, e.Record)
		}
	}
	sum, err := r.Train(context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"started 0/6",
		"step 1/6 tokens 16", "logged 1/6 val false final false",
		"step 2/6 tokens 32", "logged 2/6 val false final false",
		"step 3/6 tokens 48", "saved 3 in checkpoint interrupted false",
		"step 4/6 tokens 64", "logged 4/6 val true final false",
		"step 5/6 tokens 80",
		"step 6/6 tokens 96", "logged 6/6 val false final false", "saved 6 in checkpoint interrupted false",
		"stopped 6/6",
		"logged 6/6 val true final true", "saved 6 in checkpoint interrupted false",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	recs, err := train.ReadMetrics(train.Folder(r.Dir).Metrics())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(recs, logged) {
		t.Errorf("metrics.jsonl holds %+v, the events logged %+v", recs, logged)
	}
	if last := logged[len(logged)-1]; last.ValLoss != sum.Val.NLL {
		t.Errorf("final record's validation loss %v, summary's %v", last.ValLoss, sum.Val.NLL)
	}
	if _, err := os.Stat(train.Folder(r.Dir).LossPlot()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the loop drew a loss plot (%v); drawing is the command's", err)
	}
	// One writer: the checkpoint holds exactly its files, and no temporary file or folder
	// is left anywhere in the run.
	if got, want := listTree(t, r.Dir), []string{"checkpoint/", "checkpoint/config.json", "checkpoint/model.safetensors",
		"checkpoint/optimizer.safetensors", "checkpoint/trainer.json", "metrics.jsonl"}; !reflect.DeepEqual(got, want) {
		t.Errorf("run folder holds %v, want %v", got, want)
	}
}

// listTree lists the files and folders (with a trailing slash) under root, sorted.
func listTree(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil || path == root {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			rel += "/"
		}
		out = append(out, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestTrainInterruptedCheckpointsAndResumes cancels a run from its own event stream after
// step 2, then resumes it: the checkpoint is reported as interrupted, and the resumed run
// starts at step 2 and ends with the same weights as a run never interrupted.
func TestTrainInterruptedCheckpointsAndResumes(t *testing.T) {
	opts := train.Options{Batch: 2, Context: 8, Steps: 5, LR: 1e-2, Seed: 5, Warmup: 0.2}
	whole := tinyRun(t, opts)
	if _, err := whole.Train(context.Background(), false); err != nil {
		t.Fatal(err)
	}

	cut := tinyRun(t, opts)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var got []string
	cut.Events = func(ev train.Event) {
		got = append(got, describe(ev))
		if e, ok := ev.(train.Stepped); ok && e.Step == 2 {
			cancel()
		}
	}
	if _, err := cut.Train(ctx, false); !errors.Is(err, train.ErrInterrupted) {
		t.Fatalf("cancelled run returned %v, want ErrInterrupted", err)
	}
	if last := got[len(got)-1]; last != "saved 2 in checkpoint interrupted true" {
		t.Fatalf("cancelled run's last event %q", last)
	}

	// A fresh model and sampler, as a new process would have, restored from the folder.
	resumed := tinyRun(t, opts)
	resumed.Dir = cut.Dir
	var first train.Event
	resumed.Events = func(ev train.Event) {
		if first == nil {
			first = ev
		}
	}
	dir, err := train.Folder(cut.Dir).LatestCheckpoint()
	if err != nil {
		t.Fatal(err)
	}
	lm, err := model.Load(dir, resumed.Model.Params()[0].Device())
	if err != nil {
		t.Fatal(err)
	}
	resumed.Model = lm
	resumed.SaveModel = func(dir string) error { return model.Save(dir, lm) }
	if _, err := resumed.Train(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	if s, ok := first.(train.Started); !ok || s.Step != 2 || !s.Resumed {
		t.Errorf("resumed run opened with %#v", first)
	}
	a, b := whole.Model.Params(), lm.Params()
	for i := range a {
		if !reflect.DeepEqual(a[i].Value.Host(), b[i].Value.Host()) {
			t.Fatalf("%s differs between the whole and the resumed run", a[i].Name)
		}
	}
}

// TestCancelDuringTheClosingValidationPass cancels the run once its steps are over: the
// closing pass stops, the checkpoint is saved as interrupted, and resuming runs only the
// closing pass.
func TestCancelDuringTheClosingValidationPass(t *testing.T) {
	opts := train.Options{Batch: 2, Context: 8, Steps: 4, LR: 1e-2, Seed: 5}
	r := tinyRun(t, opts)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var got []string
	r.Events = func(ev train.Event) {
		got = append(got, describe(ev))
		if _, ok := ev.(train.Stopped); ok {
			cancel()
		}
	}
	if _, err := r.Train(ctx, false); !errors.Is(err, train.ErrInterrupted) {
		t.Fatalf("run cancelled in its closing pass returned %v, want ErrInterrupted", err)
	}
	if tail := strings.Join(got[len(got)-2:], "; "); tail != "stopped 4/4; saved 4 in checkpoint interrupted true" {
		t.Errorf("events end with %q", tail)
	}
	got = nil
	if _, err := r.Train(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	if want := "started 4/4; stopped 4/4; logged 4/4 val true final true; saved 4 in checkpoint interrupted false"; strings.Join(got, "; ") != want {
		t.Errorf("resumed events %q, want %q", strings.Join(got, "; "), want)
	}
}

// TestResumeWithANewBudget extends a finished 4-step run by 3 steps: it runs steps 5 to
// 7 on a fresh learning-rate cycle (warmup from the checkpoint, decay to the floor at
// step 7) with the resumed run's cadence, and refuses options that would change the
// updates.
func TestResumeWithANewBudget(t *testing.T) {
	opts := train.Options{Batch: 2, Context: 8, Steps: 4, LR: 1e-2, Seed: 5, Warmup: 0.3, LogEvery: 1}
	r := tinyRun(t, opts)
	if _, err := r.Train(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	bad := r.Opts
	bad.Batch = 3
	r.Opts, r.Extend = bad, true
	if _, err := r.Train(context.Background(), true); err == nil || !strings.Contains(err.Error(), "batch 3 differs") {
		t.Errorf("resume with another batch size: %v", err)
	}
	more := opts
	more.Steps, more.LogEvery = 3, 2
	r.Opts = more
	var lrs []float64
	var steps []int
	r.Events = func(ev train.Event) {
		if e, ok := ev.(train.Stepped); ok {
			steps = append(steps, e.Step)
			lrs = append(lrs, e.Result.LR)
		}
	}
	if _, err := r.Train(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	// Warmup ceil(0.3·3) = 1 step at the peak, then the cosine over the other two.
	if want := []int{5, 6, 7}; !reflect.DeepEqual(steps, want) {
		t.Fatalf("extended run's steps %v, want %v", steps, want)
	}
	if lrs[0] != 1e-2 || lrs[2] != 1e-3 || !(lrs[1] < lrs[0] && lrs[1] > lrs[2]) {
		t.Errorf("extended run's learning rates %v, want 1e-2, between, 1e-3", lrs)
	}
	recs, err := train.ReadMetrics(train.Folder(r.Dir).Metrics())
	if err != nil {
		t.Fatal(err)
	}
	var logged []int
	for _, rec := range recs {
		if rec.Loss > 0 && rec.Step > 4 {
			logged = append(logged, rec.Step)
		}
	}
	// LogEvery 2 from the resumed options: step 6, and the last step.
	if want := []int{6, 7}; !reflect.DeepEqual(logged, want) {
		t.Errorf("extended run logged steps %v, want %v", logged, want)
	}
}
