package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hungry-ssm/hungry"
	"github.com/hungry-ssm/hungry/sample"
	"github.com/hungry-ssm/hungry/train"
)

// runCmd runs the command in this process and returns its exit status and output.
func runCmd(args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	code := run(args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// quickArgs are tinyTrainArgs for a run of a few steps.
func quickArgs(corpus, out, name string, steps int) []string {
	args := tinyTrainArgs(corpus, out, name)
	for i, a := range args {
		if a == "--steps" {
			args[i+1] = fmt.Sprint(steps)
		}
	}
	return args
}

func TestTrainNeverClobbersARunFolder(t *testing.T) {
	corpus, out := tinyCorpus(t), t.TempDir()
	if code, _, stderr := runCmd(quickArgs(corpus, out, "dup", 3)...); code != 0 {
		t.Fatalf("first run: exit %d: %s", code, stderr)
	}
	dir := filepath.Join(out, "dup")
	before, err := os.ReadFile(filepath.Join(dir, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	// The same name again is refused, in one line, and the finished run stays as it was.
	code, _, stderr := runCmd(quickArgs(corpus, out, "dup", 4)...)
	if code != 2 || !strings.Contains(stderr, "already holds") || !strings.Contains(stderr, "checkpoint/ (step 3)") || strings.Count(stderr, "\n") != 1 {
		t.Errorf("second run on the name: exit %d, stderr %q", code, stderr)
	}
	if after, _ := os.ReadFile(filepath.Join(dir, "metrics.jsonl")); !bytes.Equal(after, before) {
		t.Error("a refused run changed the finished run's metrics")
	}
	// --force says what it replaces.
	code, stdout, stderr := runCmd(append(quickArgs(corpus, out, "dup", 4), "--force")...)
	if code != 0 || !strings.Contains(stdout, "replaced checkpoint/ (step 3)") {
		t.Errorf("--force: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	// Names that leave --out, or are --out itself, are refused before anything is
	// written.
	for _, name := range []string{".", "..", "../escape", "a/../..", filepath.Join(out, "abs")} {
		code, _, stderr := runCmd(quickArgs(corpus, out, name, 1)...)
		if code != 2 || !strings.Contains(stderr, "must name a folder inside --out") {
			t.Errorf("--name %q: exit %d, stderr %q", name, code, stderr)
		}
	}
	if des, _ := os.ReadDir(out); len(des) != 1 {
		t.Errorf("--out holds %d entries after the refused names, want only dup", len(des))
	}
	// A start that fails after the folder was made (the text is too short for the
	// window) leaves no folder.
	code, _, stderr = runCmd(append(quickArgs(corpus, out, "short", 1), "--context", "100000")...)
	if code != 2 || !strings.Contains(stderr, "fewer than one window") {
		t.Errorf("too long a context: exit %d, stderr %q", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(out, "short")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a failed start left its folder: %v", err)
	}
}

func TestDefaultRunNamesAreUnique(t *testing.T) {
	corpus, out := tinyCorpus(t), t.TempDir()
	// Runs started in this second and the next already hold the default names.
	now := time.Now()
	for _, at := range []time.Time{now, now.Add(time.Second)} {
		if err := os.MkdirAll(filepath.Join(out, "h3-"+at.Format("20060102-150405"), "checkpoint"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	args := quickArgs(corpus, out, "", 1)
	for i, a := range args {
		if a == "--name" {
			args = append(args[:i:i], args[i+2:]...)
			break
		}
	}
	code, stdout, stderr := runCmd(args...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "-2\n") {
		t.Errorf("the run did not take a fresh name beside the taken one: %q", stdout)
	}
}

// TestResumeFlagsApplyOrAreRefused resumes a finished 4-step run: --steps is a new budget
// counted from it, cadence flags apply, and flags that contradict the checkpoint are
// errors rather than ignored.
func TestResumeFlagsApplyOrAreRefused(t *testing.T) {
	corpus, out := tinyCorpus(t), t.TempDir()
	if code, _, stderr := runCmd(quickArgs(corpus, out, "r", 4)...); code != 0 {
		t.Fatalf("first run: exit %d: %s", code, stderr)
	}
	dir := filepath.Join(out, "r")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--layers", "3"}, "--layers 3 conflicts with the checkpoint"},
		{[]string{"--model", "transformer"}, "--model transformer conflicts"},
		{[]string{"--d-model", "32"}, "--d-model 32 conflicts"},
		{[]string{"--tokenizer", "bpe"}, "--tokenizer bpe conflicts"},
		{[]string{"--batch", "8"}, "--batch 8 conflicts"},
		{[]string{"--lr", "0.1"}, "--lr 0.1 conflicts"},
		{[]string{"--data", "other.txt"}, "--data other.txt conflicts"},
		{[]string{"--name", "x"}, "--name does not apply with --resume"},
	} {
		code, _, stderr := runCmd(append([]string{"train", "--resume", dir, "--sample", "0"}, tc.args...)...)
		if code != 2 || !strings.Contains(stderr, tc.want) || strings.Count(stderr, "\n") != 1 {
			t.Errorf("resume %v: exit %d, stderr %q; want status 2 and %q", tc.args, code, stderr, tc.want)
		}
	}
	// Flags equal to the checkpoint's are fine.
	code, _, stderr := runCmd("train", "--resume", dir, "--sample", "0", "--layers", "2", "--steps", "3", "--log-every", "2", "--eval-every", "2")
	if code != 0 {
		t.Fatalf("resume with a new budget: exit %d: %s", code, stderr)
	}
	recs, err := train.ReadMetrics(filepath.Join(dir, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var steps []int
	var evals []int
	for _, r := range recs {
		if r.Step > 4 && r.Loss > 0 {
			steps = append(steps, r.Step)
			if r.ValLoss > 0 {
				evals = append(evals, r.Step)
			}
		}
	}
	if !reflect.DeepEqual(steps, []int{6, 7}) || !reflect.DeepEqual(evals, []int{6}) {
		t.Errorf("resumed run logged steps %v with validation at %v; want 6 and 7, validation at 6", steps, evals)
	}
}

// TestInitFromStartsFromTheWeights fine-tunes a trained run in a new folder: the new run
// starts at step 0 with a fresh optimizer, from the trained weights.
func TestInitFromStartsFromTheWeights(t *testing.T) {
	corpus, out := tinyCorpus(t), t.TempDir()
	if code, _, stderr := runCmd(quickArgs(corpus, out, "base", 30)...); code != 0 {
		t.Fatalf("base run: exit %d: %s", code, stderr)
	}
	base := filepath.Join(out, "base")
	code, _, stderr := runCmd("train", "--init-from", base, "--data", corpus, "--out", out, "--name", "ft", "--context", "32",
		"--batch", "4", "--steps", "2", "--log-every", "1", "--sample", "0", "--lr", "1e-4")
	if code != 0 {
		t.Fatalf("--init-from: exit %d: %s", code, stderr)
	}
	first := stepLosses(t, filepath.Join(out, "ft"))[0]
	baseLosses := stepLosses(t, base)
	if first.Step != 1 || first.Loss > baseLosses[0].Loss-1 {
		t.Errorf("fine-tuning's first step (%d) has loss %.3f; the base run began at %.3f and ended at %.3f",
			first.Step, first.Loss, baseLosses[0].Loss, baseLosses[len(baseLosses)-1].Loss)
	}
	var settings map[string]any
	b, _ := os.ReadFile(filepath.Join(out, "ft", "run.json"))
	if err := json.Unmarshal(b, &settings); err != nil || settings["init_from"] != base {
		t.Errorf("run.json %s does not record the weights' origin", b)
	}
	code, _, stderr = runCmd("train", "--init-from", base, "--out", out, "--name", "ft2", "--layers", "5", "--steps", "1")
	if code != 2 || !strings.Contains(stderr, "--layers 5 conflicts") {
		t.Errorf("--init-from with another shape: exit %d, stderr %q", code, stderr)
	}
}

// TestTrainWithATokenizerFolder trains with the tokenizer `hungry tokenizer train` wrote,
// and with GPT-2's files when the shared data holds them.
func TestTrainWithATokenizerFolder(t *testing.T) {
	corpus, out := tinyCorpus(t), t.TempDir()
	tok := filepath.Join(t.TempDir(), "tok")
	if code, _, stderr := runCmd("tokenizer", "train", "--data", corpus, "--vocab", "300", "--out", tok); code != 0 {
		t.Fatalf("tokenizer train: exit %d: %s", code, stderr)
	}
	code, stdout, stderr := runCmd(append(quickArgs(corpus, out, "bpe", 2), "--tokenizer", tok)...)
	if code != 0 || !strings.Contains(stdout, "bpe tokenizer (vocab 300)") {
		t.Fatalf("--tokenizer %s: exit %d, stdout %q, stderr %q", tok, code, stdout, stderr)
	}
	m, err := hungry.Load(filepath.Join(out, "bpe"), nil)
	if err != nil || m.Tokenizer.VocabSize() != 300 {
		t.Fatalf("the run's checkpoint: %v", err)
	}
	code, _, stderr = runCmd(append(quickArgs(corpus, out, "none", 2), "--tokenizer", t.TempDir())...)
	if code != 2 || !strings.Contains(stderr, "holds no tokenizer") {
		t.Errorf("--tokenizer of an empty folder: exit %d, stderr %q", code, stderr)
	}
	gpt2 := filepath.Join("..", "..", "..", "shared", "data", "gpt2")
	if _, err := os.Stat(filepath.Join(gpt2, "encoder.json")); err != nil {
		t.Skipf("no GPT-2 files beside the checkout (%v)", err)
	}
	code, stdout, stderr = runCmd(append(quickArgs(corpus, out, "gpt2", 1), "--tokenizer", gpt2, "--d-model", "8", "--layers", "1")...)
	if code != 0 || !strings.Contains(stdout, "gpt2 tokenizer (vocab 50257)") {
		t.Errorf("--tokenizer %s: exit %d, stdout %q, stderr %q", gpt2, code, stdout, stderr)
	}
}

func TestTokenizerHelpListsItsFlags(t *testing.T) {
	code, _, stderr := runCmd("tokenizer", "--help")
	// The flags with their descriptions and defaults, not only the usage line.
	for _, f := range []string{"-data string", "-vocab int", "-out string", "(default 4096)"} {
		if code != 0 || !strings.Contains(stderr, f) {
			t.Errorf("tokenizer --help: exit %d, %q lacks %s", code, stderr, f)
		}
	}
}

func TestDefaultOptionsAreTheCommandsDefaults(t *testing.T) {
	f := newTrainFlags(&bytes.Buffer{})
	if err := f.fs.parse(nil); err != nil {
		t.Fatal(err)
	}
	if got, want := f.options(), train.DefaultOptions(); got != want {
		t.Errorf("hungry train's defaults %+v, train.DefaultOptions %+v", got, want)
	}
	if got, want := f.spec(), hungry.DefaultSpec(); got != want {
		t.Errorf("hungry train's model %+v, hungry.DefaultSpec %+v", got, want)
	}
}

// TestTransformerDefaultsEndWithASample trains the transformer with the default context
// (256 learned positions) and sample length (300 tokens): the sample is cut to what the
// positions hold instead of failing after training.
func TestTransformerDefaultsEndWithASample(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a transformer with 256-token windows")
	}
	corpus, out := tinyCorpus(t), t.TempDir()
	code, stdout, stderr := runCmd("train", "--model", "transformer", "--data", corpus, "--out", out, "--name", "tf",
		"--steps", "1", "--batch", "1", "--layers", "1", "--d-model", "16")
	if code != 0 || !strings.Contains(stdout, "sample: 256 tokens") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	m, err := hungry.Load(filepath.Join(out, "tf"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Generate([]byte("\n"), 257, sample.Options{Greedy: true}, 1); err == nil || !strings.Contains(err.Error(), "learned positions for 256 tokens") {
		t.Errorf("generating past the learned positions: %v", err)
	}
}

func TestInvokedAs(t *testing.T) {
	for arg0, want := range map[string]string{
		"/tmp/go-build3478/b001/exe/hungry": "go run ./cmd/hungry",
		"./hungry":                          "./hungry",
		"hungry":                            "hungry",
		"/opt/my tools/hungry":              "'/opt/my tools/hungry'",
	} {
		if got := invokedAs(arg0); got != want {
			t.Errorf("invokedAs(%q) = %q, want %q", arg0, got, want)
		}
	}
}

// TestLegendLeavesTheCurveVisible checks the plot's axes hold the first step's loss and
// leave the legend's corner free of every point.
func TestLegendLeavesTheCurveVisible(t *testing.T) {
	for name, recs := range map[string][]train.Record{
		"falls": {{Step: 1, Loss: 5.5}, {Step: 10, Loss: 3}, {Step: 100, Loss: 1.5, ValLoss: 1.6}},
		"flat":  {{Step: 1, Loss: 2}, {Step: 10, Loss: 2.01}, {Step: 100, Loss: 2, ValLoss: 2.02}},
		"rises": {{Step: 1, Loss: 1}, {Step: 50, Loss: 2}, {Step: 100, Loss: 3, ValLoss: 3.1}},
	} {
		p, err := lossPlot(name, recs)
		if err != nil {
			t.Fatal(err)
		}
		if !p.Legend.Top || p.Y.Min > recs[0].Loss || p.Y.Max < recs[0].Loss {
			t.Errorf("%s: legend top %v, y range [%g, %g] for a first loss of %g", name, p.Legend.Top, p.Y.Min, p.Y.Max, recs[0].Loss)
		}
		for _, r := range recs {
			for _, y := range []float64{r.Loss, r.ValLoss} {
				inRight := float64(r.Step) >= p.X.Max-legendRight*(p.X.Max-p.X.Min)
				if y > 0 && inRight && y > p.Y.Max-legendTop*(p.Y.Max-p.Y.Min) {
					t.Errorf("%s: the point (%d, %g) lies under the legend", name, r.Step, y)
				}
			}
		}
	}
}

// TestTwoTrainingsOnOneFolder starts a run, then a second training (a resumption and a
// new run of the same name) on its folder while the first holds it.
func TestTwoTrainingsOnOneFolder(t *testing.T) {
	if testing.Short() {
		t.Skip("trains in a child process")
	}
	corpus, out := tinyCorpus(t), t.TempDir()
	first := childCommand(t, quickArgs(corpus, out, "busy", 100000)...)
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = first.Process.Kill(); _ = first.Wait() }()
	dir := filepath.Join(out, "busy")
	waitFor(t, func() bool { recs, _ := train.ReadMetrics(filepath.Join(dir, "metrics.jsonl")); return len(recs) >= 6 })
	for _, args := range [][]string{{"train", "--resume", dir}, quickArgs(corpus, out, "busy", 10)} {
		code, _, stderr := runCmd(args...)
		if code != 2 || !strings.Contains(stderr, fmt.Sprintf("in use by pid %d", first.Process.Pid)) || strings.Count(stderr, "\n") != 1 {
			t.Errorf("%v while another trains: exit %d, stderr %q", args[:3], code, stderr)
		}
	}
	// A kill leaves a half-written checkpoint folder behind at worst; the next claim
	// clears it.
	if err := first.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = first.Wait()
	if err := os.MkdirAll(filepath.Join(dir, "checkpoint.tmp-999"), 0o755); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runCmd("train", "--resume", dir, "--steps", "1", "--sample", "0")
	if code != 0 {
		t.Fatalf("resume after the kill: exit %d: %s", code, stderr)
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "checkpoint.tmp-*")); len(m) != 0 {
		t.Errorf("stale checkpoint folders remain: %v", m)
	}
}

// TestSIGINTDuringTheClosingValidationPass interrupts a run whose steps are over while it
// scores a large validation split: it saves its checkpoint, exits 130 and says how to
// resume.
func TestSIGINTDuringTheClosingValidationPass(t *testing.T) {
	if testing.Short() {
		t.Skip("trains in a child process")
	}
	// 5% of 8 MB, about 400 kB of validation text: seconds of scoring.
	para := "It is a truth universally acknowledged, that a single man in possession of a good fortune, must be in want of a wife.\n"
	corpus := filepath.Join(t.TempDir(), "big.txt")
	if err := os.WriteFile(corpus, []byte(strings.Repeat(para, 8<<20/len(para))), 0o644); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	cmd := childCommand(t, quickArgs(corpus, out, "int", 3)...)
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var lines []string
	sc := bufio.NewScanner(pipe)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if strings.Contains(sc.Text(), "scoring the whole validation split") {
			if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
				t.Fatal(err)
			}
		}
	}
	err = cmd.Wait()
	var exit interface{ ExitCode() int }
	if !errors.As(err, &exit) || exit.ExitCode() != 130 {
		t.Fatalf("exit %v; want 130\nstdout:\n%s\nstderr:\n%s", err, strings.Join(lines, "\n"), stderr.String())
	}
	dir := filepath.Join(out, "int")
	text := strings.Join(lines, "\n")
	if !strings.Contains(text, "interrupted at step 3; checkpoint saved") || !strings.Contains(text, "train --resume "+dir) {
		t.Errorf("stdout does not say what was saved and how to resume:\n%s", text)
	}
	if png, err := os.ReadFile(filepath.Join(dir, "loss.png")); err != nil || !bytes.HasPrefix(png, []byte("\x89PNG")) {
		t.Errorf("no loss plot after the interrupt: %v", err)
	}
	if opts, err := train.Folder(dir).Options(); err != nil || opts.Steps != 3 {
		t.Errorf("checkpoint after the interrupt: %+v, %v", opts, err)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("no progress in 60 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestCtrlCDuringTheSample stops the closing sample: the command exits 130 at once,
// whether the Ctrl-C came before the sample or during it.
func TestCtrlCDuringTheSample(t *testing.T) {
	corpus, out := tinyCorpus(t), t.TempDir()
	if code, _, stderr := runCmd(quickArgs(corpus, out, "s", 2)...); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	m, err := hungry.Load(filepath.Join(out, "s"), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var stdout bytes.Buffer
	if err := endSample(ctx, m, 100000, 1, &stdout); !errors.As(err, new(interrupted)) {
		t.Errorf("sample after Ctrl-C: %v, stdout %q", err, stdout.String())
	}
	ctx, cancel = context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	// 50000 tokens take seconds even for this tiny model; the Ctrl-C must not wait for them.
	if err := endSample(ctx, m, 50000, 1, &stdout); !errors.As(err, new(interrupted)) || time.Since(start) > 10*time.Second {
		t.Errorf("sample interrupted after 50 ms: %v after %v", err, time.Since(start))
	}
}
