package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hungry-ssm/hungry/synth"
)

func TestSynthBadFlags(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown task", []string{"--task", "copying"}, `unknown task "copying"`},
		{"unknown model", []string{"--models", "h3,gss"}, `unknown model "gss"`},
		{"empty model", []string{"--models", "h3,,s4d"}, "empty model name"},
		{"repeated model", []string{"--models", "h3,s4d,h3"}, `"h3" listed twice`},
		{"zero epochs", []string{"--epochs", "0"}, "epochs must be positive"},
		{"negative patience", []string{"--patience", "-1"}, "patience must not be negative"},
		{"stop accuracy", []string{"--stop-accuracy", "2"}, "stop accuracy"},
		{"zero learning rate", []string{"--lr", "0"}, "learning rate must be positive"},
		{"infinite learning rate", []string{"--lr", "Inf"}, "learning rate must be positive and finite"},
		{"negative weight decay", []string{"--weight-decay", "-0.1"}, "weight decay must be non-negative"},
		{"zero batch", []string{"--batch", "0"}, "batch must be positive"},
		{"zero width", []string{"--d-model", "0"}, "d_model must be positive"},
		{"attention dropout", []string{"--attn-dropout", "1"}, "attention dropout must be in [0, 1)"},
		{"negative clip", []string{"--clip", "-1"}, "gradient clip must be non-negative"},
		{"negative parallel", []string{"--parallel", "-2"}, "parallel"},
		{"unknown schedule", []string{"--schedule", "step"}, `unknown schedule "step"`},
		{"unknown recipe", []string{"--recipe", "fast"}, `unknown recipe "fast"`},
		{"bad seed", []string{"--seed", "x"}, "invalid value"},
		{"stray argument", []string{"induction"}, "unexpected argument"},
		{"unknown flag", []string{"--layers", "4"}, "flag provided but not defined"},
		{"unwritable out", []string{"--out", filepath.Join(file, "sub")}, "cannot create the output folder"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(append([]string{"synth"}, tc.args...), &stdout, &stderr)
		msg := stderr.String()
		if code != 2 || !strings.Contains(msg, tc.want) || strings.Count(strings.TrimSpace(msg), "\n") != 0 {
			t.Errorf("%s: exit %d, stderr %q; want status 2 and one line containing %q", tc.name, code, msg, tc.want)
		}
	}
}

// TestSynthWritesTableAndJSON runs the cheapest pair (the shift model on associative
// recall, one epoch) through the command and checks what it prints and writes.
func TestSynthWritesTableAndJSON(t *testing.T) {
	out := filepath.Join(t.TempDir(), "synth")
	var stdout, stderr bytes.Buffer
	if code := run([]string{"synth", "--task", "recall", "--models", "shift", "--epochs", "1", "--out", out}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if !strings.Contains(stdout.String(), "| recall | 25.0 |") {
		t.Errorf("table missing from stdout:\n%s", stdout.String())
	}
	md, err := os.ReadFile(filepath.Join(out, "table.md"))
	if err != nil || !strings.Contains(string(md), "| recall | shift |") {
		t.Errorf("table.md: %v\n%s", err, md)
	}
	js, err := os.ReadFile(filepath.Join(out, "results.json"))
	if err != nil || !strings.Contains(string(js), `"test_accuracy"`) {
		t.Errorf("results.json: %v\n%s", err, js)
	}
	// --epochs, named on the command line, reaches the run with its own recipe too;
	// the flags left out keep that recipe's values.
	var rep synth.Report
	if err := json.Unmarshal(js, &rep); err != nil {
		t.Fatal(err)
	}
	own := rep.Options.PerRun[synth.RunKey(synth.TaskInduction, synth.ModelAttention)]
	want := synth.AttentionInductionRecipe()
	want.Epochs = 1
	if own != want || rep.Options.Epochs != 1 {
		t.Errorf("recipes after --epochs 1: shared %+v, attention on induction %+v; want epochs 1 and otherwise %+v",
			rep.Options.Recipe, own, want)
	}
}

// TestSynthPaperRecipe checks that --recipe paper starts every run from the paper's
// recipe and that recipe flags named on the command line still apply over it.
func TestSynthPaperRecipe(t *testing.T) {
	out := filepath.Join(t.TempDir(), "synth")
	var stdout, stderr bytes.Buffer
	args := []string{"synth", "--recipe", "paper", "--task", "recall", "--models", "shift", "--epochs", "1", "--json", "--out", out}
	if code := run(args, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	var rep synth.Report
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	want := synth.PaperRecipe(synth.TaskRecall)
	want.Epochs = 1
	if len(rep.Results) != 1 || rep.Results[0].Recipe != want {
		t.Errorf("results %+v; want one run with recipe %+v", rep.Results, want)
	}
}
