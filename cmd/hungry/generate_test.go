package main

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hungry-ssm/hungry"
	"github.com/hungry-ssm/hungry/safetensors"
	"github.com/hungry-ssm/hungry/sample"
)

func runIn(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	err := generate(args, strings.NewReader(stdin), &out, &errb)
	if err != nil {
		code = 1
		if _, ok := err.(*usageError); ok {
			code = 2
		}
		errb.WriteString(err.Error())
	}
	return code, out.String(), errb.String()
}

// TestTemperatureZeroIsGreedyInTheCLI: --temperature 0 used to sample at temperature 1.
func TestTemperatureZeroIsGreedyInTheCLI(t *testing.T) {
	ckpt := tinyCheckpoint(t)
	base := []string{"--model", ckpt, "--device", "cpu", "--prompt", "It is", "--max-new", "40"}
	_, greedy, _ := runIn(t, "", append(base, "--greedy")...)
	_, zero, errs := runIn(t, "", append(base, "--temperature", "0")...)
	_, hot, _ := runIn(t, "", append(base, "--temperature", "1")...)
	if zero != greedy || greedy == "" {
		t.Errorf("--temperature 0 gave %q, --greedy %q (%s)", zero, greedy, errs)
	}
	// An untrained byte model is near uniform: 40 draws at temperature 1 cannot all be
	// the greedy token.
	if hot == greedy {
		t.Error("--temperature 1 gave the greedy text")
	}
	if code, _, msg := runIn(t, "", append(base, "--top-p", "0")...); code != 2 || !strings.Contains(msg, "top-p") {
		t.Errorf("--top-p 0: exit %d, %q; want exit 2 naming top-p", code, msg)
	}
}

// countingWriter counts Write calls: a streamed generation writes token by token.
type countingWriter struct {
	bytes.Buffer
	writes int
}

func (w *countingWriter) Write(p []byte) (int, error) { w.writes++; return w.Buffer.Write(p) }

func TestGenerateReadsThePromptFromStdinAndStreams(t *testing.T) {
	ckpt := tinyCheckpoint(t)
	prompt := strings.Repeat("a long prompt ", 20_000) // 280 KB: more than argv holds
	var out countingWriter
	var errb bytes.Buffer
	if err := generate([]string{"--model", ckpt, "--device", "cpu", "--prompt-file", "-", "--max-new", "25", "--temperature", "0"},
		strings.NewReader(prompt), &out, &errb); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), prompt) || len(out.String()) != len(prompt)+25+1 {
		t.Errorf("output is %d bytes, want the %d-byte prompt, 25 tokens and a newline", len(out.String()), len(prompt))
	}
	if out.writes < 25 {
		t.Errorf("%d writes for 25 tokens: the text is not streamed", out.writes)
	}
	file := filepath.Join(t.TempDir(), "prompt.txt")
	os.WriteFile(file, []byte("It is a truth"), 0o644)
	if code, got, msg := runIn(t, "", "--model", ckpt, "--device", "cpu", "--prompt-file", file, "--max-new", "5"); code != 0 || !strings.HasPrefix(got, "It is a truth") {
		t.Errorf("--prompt-file FILE: exit %d, %q, %s", code, got, msg)
	}
}

// TestChatContinuesTheConversation: each line is a turn; the second reply equals
// generating from the whole conversation so far (the state carried over).
func TestChatContinuesTheConversation(t *testing.T) {
	ckpt := tinyCheckpoint(t)
	code, out, msg := runIn(t, "Hello there\nHow are you?\n", "--model", ckpt, "--device", "cpu", "-i", "--max-new", "8", "--temperature", "0", "--prompt", "A chat. ")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, msg)
	}
	m, err := hungry.Load(ckpt, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Replies may hold newlines; split by the known lengths (byte tokenizer: 8 bytes).
	reply1, reply2 := out[:8], out[9:17]
	want1, _ := m.Generate([]byte("A chat. Hello there\n"), 8, sample.Options{}, 1)
	want2, _ := m.Generate([]byte("A chat. Hello there\n"+reply1+"How are you?\n"), 8, sample.Options{}, 1)
	if reply1 != string(want1) || reply2 != string(want2) || len(out) != 18 {
		t.Errorf("chat printed %q; want %q, newline, %q, newline", out, want1, want2)
	}
}

func TestEvalScoresWholeFilesAndFolders(t *testing.T) {
	ckpt := tinyCheckpoint(t)
	dir := t.TempDir()
	long := bytes.Repeat([]byte("It is a truth universally acknowledged.\n"), 75) // 3000 bytes
	os.WriteFile(filepath.Join(dir, "a.txt"), long, 0o644)
	os.WriteFile(filepath.Join(dir, "b.txt"), []byte("a single man in possession of a good fortune"), 0o644)
	evalJSON := func(args ...string) map[string]any {
		t.Helper()
		var out, errb bytes.Buffer
		if err := runEval(append([]string{"--model", ckpt, "--device", "cpu", "--json"}, args...), &out, &errb); err != nil {
			t.Fatalf("eval %v: %v", args, err)
		}
		var r map[string]any
		if err := json.Unmarshal(out.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	// The whole file, not its first 1024 tokens.
	r := evalJSON("--text", filepath.Join(dir, "a.txt"))
	if r["tokens"] != 3000.0 || r["predicted"] != 2999.0 {
		t.Errorf("one file: %v tokens, %v predicted; want 3000 and 2999", r["tokens"], r["predicted"])
	}
	// Windows of 64 advancing by 16 score the same tokens, each with more context.
	w := evalJSON("--text", filepath.Join(dir, "a.txt"), "--context", "64", "--stride", "16")
	if w["predicted"] != 2999.0 || w["mean_nll"] == r["mean_nll"] {
		t.Errorf("windows of 64: %v predicted, mean NLL %v (full: %v)", w["predicted"], w["mean_nll"], r["mean_nll"])
	}
	// A folder, and two --text: each file a sequence of its own.
	f := evalJSON("--text", dir)
	if f["tokens"] != 3044.0 || f["predicted"] != 3042.0 || len(f["files"].([]any)) != 2 {
		t.Errorf("folder: %v tokens, %v predicted, %d files", f["tokens"], f["predicted"], len(f["files"].([]any)))
	}
	two := evalJSON("--text", filepath.Join(dir, "a.txt"), "--text", filepath.Join(dir, "b.txt"))
	if two["tokens"] != f["tokens"] || math.Abs(two["mean_nll"].(float64)-f["mean_nll"].(float64)) > 1e-12 {
		t.Errorf("two --text %v, folder %v", two, f)
	}
	bin := filepath.Join(t.TempDir(), "bin.txt")
	os.WriteFile(bin, []byte("abc\x00def"), 0o644)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--text", bin}, "binary data"},
		{[]string{"--text", dir, "--context", "64", "--stride", "64"}, "stride"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(append([]string{"eval", "--model", ckpt, "--device", "cpu"}, tc.args...), &stdout, &stderr)
		if code != 2 || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("%v: exit %d, %q", tc.args, code, stderr.String())
		}
	}
}

// TestBadCheckpointsExit2: every damaged checkpoint is bad input, in one line.
func TestBadCheckpointsExit2(t *testing.T) {
	ckpt := tinyCheckpoint(t)
	corpus := tinyCorpus(t)
	copyCkpt := func(edit func(dir string)) string {
		dir := t.TempDir()
		for _, n := range []string{"config.json", "model.safetensors"} {
			b, _ := os.ReadFile(filepath.Join(ckpt, n))
			os.WriteFile(filepath.Join(dir, n), b, 0o644)
		}
		edit(dir)
		return dir
	}
	nan := copyCkpt(func(dir string) {
		path := filepath.Join(dir, "model.safetensors")
		f, _ := safetensors.ReadFile(path)
		ts, _ := f.Tensors()
		const name = "backbone.layers.1.mlp.fc2.weight"
		w, _ := ts[name].F32()
		w[2] = float32(math.NaN())
		ts[name], _ = safetensors.FromF32(ts[name].Shape, w)
		safetensors.WriteFileAtomic(path, ts, nil)
	})
	truncated := copyCkpt(func(dir string) {
		path := filepath.Join(dir, "model.safetensors")
		b, _ := os.ReadFile(path)
		os.WriteFile(path, b[:len(b)/2], 0o644)
	})
	noWeights := copyCkpt(func(dir string) { os.Remove(filepath.Join(dir, "model.safetensors")) })
	for name, tc := range map[string]struct {
		dir, want string
	}{
		"NaN weight": {nan, "backbone.layers.1.mlp.fc2.weight"},
		"truncated":  {truncated, "safetensors"},
		"no weights": {noWeights, "model.safetensors"},
	} {
		for _, cmd := range [][]string{{"eval", "--text", corpus}, {"generate", "--prompt", "a"}} {
			var stdout, stderr bytes.Buffer
			code := run(append([]string{cmd[0], "--model", tc.dir, "--device", "cpu"}, cmd[1:]...), &stdout, &stderr)
			msg := strings.TrimSpace(stderr.String())
			if code != 2 || !strings.Contains(msg, tc.want) || strings.Contains(msg, "\n") {
				t.Errorf("%s, %s: exit %d, %q", name, cmd[0], code, msg)
			}
		}
	}
}
