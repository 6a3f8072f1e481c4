package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hungry-ssm/hungry/train"
)

// The test binary doubles as the hungry command when this variable is set, so tests can
// run it as a separate process and kill it.
const asCommand = "HUNGRY_TEST_RUN_AS_COMMAND"

func TestMain(m *testing.M) {
	if os.Getenv(asCommand) == "1" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// childCommand prepares the hungry command as a child process.
func childCommand(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), asCommand+"=1")
	return cmd
}

// tinyCorpus writes a small English text whose validation split is long enough for the
// tiny models of these tests.
func tinyCorpus(t *testing.T) string {
	t.Helper()
	para := "It is a truth universally acknowledged, that a single man in possession of a good fortune, must be in want of a wife.\n" +
		"However little known the feelings or views of such a man may be on his first entering a neighbourhood, this truth is so well fixed.\n"
	path := filepath.Join(t.TempDir(), "tiny.txt")
	if err := os.WriteFile(path, []byte(strings.Repeat(para, 60)), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func tinyTrainArgs(corpus, out, name string) []string {
	return []string{"train", "--data", corpus, "--out", out, "--name", name, "--layers", "2", "--d-model", "16",
		"--context", "32", "--batch", "4", "--steps", "30", "--checkpoint-every", "5", "--log-every", "1",
		"--eval-every", "10", "--eval-batches", "1", "--sample", "0", "--seed", "7", "--dropout", "0.1"}
}

// stepLosses reads (step, loss, lr, grad norm) of every training record of a run.
func stepLosses(t *testing.T, runDir string) []train.Record {
	t.Helper()
	recs, err := train.ReadMetrics(filepath.Join(runDir, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var out []train.Record
	for _, r := range recs {
		if r.Loss > 0 {
			out = append(out, train.Record{Step: r.Step, Loss: r.Loss, LR: r.LR, GradNorm: r.GradNorm, ValLoss: r.ValLoss})
		}
	}
	return out
}

func TestResumeAfterSIGKILLReproducesTheUninterruptedRun(t *testing.T) {
	if testing.Short() {
		t.Skip("trains two tiny models in child processes")
	}
	corpus, out := tinyCorpus(t), t.TempDir()
	var stderr bytes.Buffer
	whole := childCommand(t, tinyTrainArgs(corpus, out, "whole")...)
	whole.Stderr = &stderr
	if err := whole.Run(); err != nil {
		t.Fatalf("uninterrupted run: %v\n%s", err, stderr.String())
	}
	// The command, not the training loop, draws the plot.
	if png, err := os.ReadFile(filepath.Join(out, "whole", "loss.png")); err != nil || !bytes.HasPrefix(png, []byte("\x89PNG")) {
		t.Errorf("no loss plot after the run: %v", err)
	}

	killed := childCommand(t, tinyTrainArgs(corpus, out, "killed")...)
	if err := killed.Start(); err != nil {
		t.Fatal(err)
	}
	runDir := filepath.Join(out, "killed")
	// Kill it once a checkpoint past the first exists, mid-run.
	deadline := time.Now().Add(60 * time.Second)
	for {
		recs, _ := train.ReadMetrics(filepath.Join(runDir, "metrics.jsonl"))
		if len(recs) >= 12 {
			break
		}
		if time.Now().After(deadline) {
			_ = killed.Process.Kill()
			t.Fatal("the run made no progress in 60 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := killed.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = killed.Wait()
	recs, _ := train.ReadMetrics(filepath.Join(runDir, "metrics.jsonl"))
	if last := recs[len(recs)-1].Step; last >= 30 {
		t.Skipf("the run finished (step %d) before it could be killed", last)
	}

	stderr.Reset()
	resumed := childCommand(t, "train", "--resume", runDir, "--sample", "0")
	resumed.Stderr = &stderr
	if err := resumed.Run(); err != nil {
		t.Fatalf("resume: %v\n%s", err, stderr.String())
	}
	want, got := stepLosses(t, filepath.Join(out, "whole")), stepLosses(t, runDir)
	if len(got) != len(want) || len(want) != 30 {
		t.Fatalf("resumed run logged %d steps, uninterrupted %d (want 30)", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("step %d differs after resume: %+v vs uninterrupted %+v", want[i].Step, got[i], want[i])
		}
	}
}

func TestBadInputGivesOneLineAndStatus2(t *testing.T) {
	corpus := tinyCorpus(t)
	empty := filepath.Join(t.TempDir(), "empty.txt")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	notUTF8 := filepath.Join(t.TempDir(), "latin1.txt")
	if err := os.WriteFile(notUTF8, []byte("caf\xe9 au lait\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	corrupt := t.TempDir()
	if err := os.WriteFile(filepath.Join(corrupt, "config.json"), []byte(`{"model_type":"h3","d_model":16`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown command", []string{"fly"}, "unknown command"},
		{"unknown flag", []string{"train", "--bogus"}, "flag provided but not defined"},
		{"context 0", []string{"train", "--context", "0"}, "context must be positive"},
		{"heads do not divide", []string{"train", "--model", "hybrid", "--d-model", "30", "--heads", "4", "--data", corpus}, "not divisible"},
		{"missing data", []string{"train", "--data", "/nonexistent/corpus.txt"}, "does not exist"},
		{"empty data", []string{"train", "--data", empty}, "empty"},
		{"not UTF-8", []string{"train", "--data", notUTF8}, "UTF-8"},
		{"unknown family", []string{"train", "--model", "rnn"}, "unknown model family"},
		{"resume nothing", []string{"train", "--resume", t.TempDir()}, "cannot resume"},
		{"eval without model", []string{"eval", "--text", corpus}, "--model and --text are required"},
		{"corrupt checkpoint", []string{"eval", "--model", corrupt, "--text", corpus}, "config"},
		{"bad top-p", []string{"generate", "--model", corrupt, "--prompt", "a", "--top-p", "2"}, "top-p"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(tc.args, &stdout, &stderr)
		msg := stderr.String()
		// --device auto notes a fallback to the CPU on a line of its own before any work.
		if first, rest, ok := strings.Cut(msg, "\n"); ok && strings.HasSuffix(first, "running on the CPU") {
			msg = rest
		}
		if code != 2 || !strings.Contains(msg, tc.want) || strings.Count(strings.TrimSpace(msg), "\n") != 0 {
			t.Errorf("%s: exit %d, stderr %q; want status 2 and one line containing %q", tc.name, code, msg, tc.want)
		}
	}
}
