package hungry_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hungry-ssm/hungry"
	"github.com/hungry-ssm/hungry/data"
	"github.com/hungry-ssm/hungry/sample"
	"github.com/hungry-ssm/hungry/train"
)

// TestTrainTextReportsProgressAndKeepsItsFolder checks TrainText's progress callback and
// that a second run never replaces the first one's folder.
func TestTrainTextReportsProgressAndKeepsItsFolder(t *testing.T) {
	text := strings.Repeat("It is a truth universally acknowledged, that a single man in possession of a good fortune, must be in want of a wife.\n", 40)
	spec := hungry.DefaultSpec()
	spec.Layers, spec.DModel = 1, 8
	opts := train.Options{Batch: 2, Context: 16, Steps: 3, LR: 3e-3, Seed: 1}
	dir := filepath.Join(t.TempDir(), "run")
	var kinds []string
	progress := func(ev train.Event) {
		switch ev.(type) {
		case train.Started:
			kinds = append(kinds, "started")
		case train.Stepped:
			kinds = append(kinds, "stepped")
		case train.Stopped:
			kinds = append(kinds, "stopped")
		}
	}
	if _, _, err := hungry.TrainText(context.Background(), strings.NewReader(text), spec, opts, dir, progress); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(kinds, " "); got != "started stepped stepped stepped stopped" {
		t.Errorf("progress saw %q", got)
	}
	var exists *train.ExistsError
	if _, _, err := hungry.TrainText(context.Background(), strings.NewReader(text), spec, opts, dir, nil); !errors.As(err, &exists) {
		t.Errorf("a second TrainText in the folder: %v, want ExistsError", err)
	}
	// Close releases the folder for a resumption.
	run, err := hungry.ResumeRun(dir, nil, nil)
	if err == nil || !strings.Contains(err.Error(), "reader") {
		t.Errorf("resuming a reader's run without its text: %v", err)
	}
	if run != nil {
		run.Close()
	}
}

// TestGenerateRefusesToRunPastLearnedPositions: a transformer with 8 learned positions
// continues a 3-token prompt by at most 6 tokens (the last is never fed back), and a
// longer request fails at once with a message that says so.
func TestGenerateRefusesToRunPastLearnedPositions(t *testing.T) {
	corpus, err := data.CorpusFromText("t", []byte(strings.Repeat("abc def ghi\n", 40)))
	if err != nil {
		t.Fatal(err)
	}
	spec := hungry.DefaultSpec()
	spec.Family, spec.Layers, spec.DModel, spec.Heads = "transformer", 1, 8, 2
	m, err := hungry.New(spec, corpus, 8, nil, 1)
	if err != nil {
		t.Fatal(err)
	}
	if got := m.MaxNew(3); got != 6 {
		t.Errorf("MaxNew(3) = %d, want 6", got)
	}
	if out, err := m.Generate([]byte("abc"), 6, sample.Options{Greedy: true}, 1); err != nil || len(out) != 6 {
		t.Errorf("6 new tokens: %q, %v", out, err)
	}
	_, err = m.Generate([]byte("abc"), 7, sample.Options{Greedy: true}, 1)
	if err == nil || !strings.Contains(err.Error(), "learned positions for 8 tokens") || !strings.Contains(err.Error(), "room for 6 new tokens, not 7") {
		t.Errorf("7 new tokens: %v", err)
	}
}
