package main

import (
	"archive/zip"
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var importData = filepath.Join("..", "..", "testdata", "import")

// smallImportConfig describes the generated checkpoints (their heads are not in the weights).
const smallImportConfig = `{"model_type": "h3", "d_model": 32, "n_layer": 3, "d_inner": 64, "vocab_size": 264,
 "attn_layer_idx": [1], "attn_n_heads": 2, "ssm_discretization": "bilinear", "tokenizer": "byte", "embed_dropout": 0}`

func TestImportThenEvalAndGenerate(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(cfg, []byte(smallImportConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	text := filepath.Join(t.TempDir(), "text.txt")
	if err := os.WriteFile(text, []byte("Hungry Hungry Hippos"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"old_f32.pt", "new_f16.pt", "legacy_f32.pt"} {
		out := filepath.Join(t.TempDir(), "model")
		var stdout, stderr bytes.Buffer
		if code := run([]string{"import", "--from", filepath.Join(importData, name), "--config", cfg, "--out", out}, &stdout, &stderr); code != 0 {
			t.Fatalf("%s: import exit %d: %s", name, code, stderr.String())
		}
		if !strings.Contains(stdout.String(), "imported") {
			t.Fatalf("%s: import printed %q", name, stdout.String())
		}
		if code := run([]string{"eval", "--model", out, "--text", text, "--device", "cpu"}, &stdout, &stderr); code != 0 {
			t.Fatalf("%s: eval exit %d: %s", name, code, stderr.String())
		}
		stdout.Reset()
		if code := run([]string{"generate", "--model", out, "--prompt", "H3", "--max-new", "5", "--greedy", "--device", "cpu"}, &stdout, &stderr); code != 0 || !strings.HasPrefix(stdout.String(), "H3") {
			t.Fatalf("%s: generate exit %d: %q %s", name, code, stdout.String(), stderr.String())
		}
	}
}

// hostileCheckpoint is a torch zip whose pickle calls os.system.
func hostileCheckpoint(t *testing.T) string {
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	f, err := w.CreateHeader(&zip.FileHeader{Name: "archive/data.pkl", Method: zip.Store})
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("\x80\x02cos\nsystem\nX\x02\x00\x00\x00ls\x85R."))
	w.Close()
	path := filepath.Join(t.TempDir(), "evil.pt")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestImportBadInput(t *testing.T) {
	full := t.TempDir()
	os.WriteFile(filepath.Join(full, "x"), nil, 0o644)
	good := filepath.Join(importData, "new_f32.pt")
	notPT := filepath.Join(t.TempDir(), "text.pt")
	os.WriteFile(notPT, []byte("not a checkpoint at all"), 0o644)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no --from", []string{"import", "--out", t.TempDir()}, "--from is required"},
		{"no --out", []string{"import", "--from", good}, "--out is required"},
		{"both", []string{"import", "--from", good, "--preset", "h3-125m", "--config", "c.json", "--out", t.TempDir()}, "not both"},
		{"unknown preset", []string{"import", "--from", good, "--preset", "h3-7b", "--out", t.TempDir()}, "unknown preset"},
		{"non-empty out", []string{"import", "--from", good, "--out", full}, "not empty"},
		{"missing file", []string{"import", "--from", "/nonexistent.pt", "--out", t.TempDir()}, "no such file"},
		{"not a checkpoint", []string{"import", "--from", notPT, "--out", t.TempDir()}, "neither the zip format"},
		{"hostile pickle", []string{"import", "--from", hostileCheckpoint(t), "--out", t.TempDir()}, "global os.system is not allowed"},
		{"preset vocabulary", []string{"import", "--from", good, "--preset", "h3-125m", "--out", filepath.Join(t.TempDir(), "m")}, "smaller than GPT-2's"},
		{"no heads", []string{"import", "--from", good, "--out", t.TempDir()}, "attention heads"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(tc.args, &stdout, &stderr)
		msg := stderr.String()
		if code != 2 || !strings.Contains(msg, tc.want) || strings.Count(strings.TrimSpace(msg), "\n") != 0 {
			t.Errorf("%s: exit %d, stderr %q; want status 2 and one line containing %q", tc.name, code, msg, tc.want)
		}
	}
}

// The GPT-2 files are found under OpenAI's names or Hugging Face's.
func TestLoadGPT2(t *testing.T) {
	src := filepath.Join("..", "..", "data", "tokenizer", "testdata", "gpt2")
	for _, names := range [][2]string{{"encoder.json", "vocab.bpe"}, {"vocab.json", "merges.txt"}} {
		dir := t.TempDir()
		for i, from := range []string{"encoder.json.gz", "vocab.bpe.gz"} {
			f, err := os.Open(filepath.Join(src, from))
			if err != nil {
				t.Fatal(err)
			}
			zr, err := gzip.NewReader(f)
			if err != nil {
				t.Fatal(err)
			}
			data, err := io.ReadAll(zr)
			f.Close()
			if err != nil {
				t.Fatal(err)
			}
			os.WriteFile(filepath.Join(dir, names[i]), data, 0o644)
		}
		tok, err := loadGPT2(dir)
		if err != nil || tok.VocabSize() != 50257 {
			t.Fatalf("%v: %v", names, err)
		}
	}
	if _, err := loadGPT2(t.TempDir()); err == nil || !strings.Contains(err.Error(), "--tokenizer") {
		t.Fatalf("empty folder: %v", err)
	}
}
