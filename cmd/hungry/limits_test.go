package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hungry-ssm/hungry"
	"github.com/hungry-ssm/hungry/data"
)

// tinyCheckpoint saves an untrained byte-level H3 model (2 layers, d_model 16) and
// returns its folder.
func tinyCheckpoint(t *testing.T) string {
	t.Helper()
	corpus, err := data.CorpusFromText("t", bytes.Repeat([]byte("the cat sat on the mat.\n"), 20))
	if err != nil {
		t.Fatal(err)
	}
	spec := hungry.DefaultSpec()
	spec.Layers, spec.DModel = 2, 16
	m, err := hungry.New(spec, corpus, 64, nil, 3)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "ckpt")
	if err := m.Save(dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

// withConfig copies the checkpoint in src with config key set to value.
func withConfig(t *testing.T, src, key string, value any) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{"config.json", "model.safetensors"} {
		b, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			t.Fatal(err)
		}
		if name == "config.json" {
			var cfg map[string]any
			if err := json.Unmarshal(b, &cfg); err != nil {
				t.Fatal(err)
			}
			cfg[key] = value
			b, _ = json.Marshal(cfg)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// gzipBomb writes a valid .txt.gz of about 8 KB that decompresses to 1 GiB of 'a':
// one compressed MiB repeated as 1024 gzip members, which a gzip reader concatenates.
func gzipBomb(t *testing.T) string {
	t.Helper()
	var member bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&member, gzip.BestCompression)
	zw.Write(bytes.Repeat([]byte("a"), 1<<20))
	zw.Close()
	path := filepath.Join(t.TempDir(), "bomb.txt.gz")
	if err := os.WriteFile(path, bytes.Repeat(member.Bytes(), 1024), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestOversizedInputsUnderAddressSpaceLimit is issue 15's acceptance test for item 4:
// under a 4 GB address-space limit (ulimit -v), each oversized size from a config, a
// flag or an input prints one line and exits 2, without a goroutine dump. Before, most
// of them died in the runtime ("fatal error: out of memory" and every goroutine's stack)
// or, for /dev/zero, read forever.
func TestOversizedInputsUnderAddressSpaceLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the command 18 times in child processes")
	}
	if _, err := os.Stat("/dev/zero"); err != nil {
		t.Skip("needs /dev/zero and a POSIX shell")
	}
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("needs a POSIX shell")
	}
	ckpt, corpus, bomb := tinyCheckpoint(t), tinyCorpus(t), gzipBomb(t)
	linked := t.TempDir()
	st, _ := os.ReadFile(filepath.Join(ckpt, "model.safetensors"))
	os.WriteFile(filepath.Join(linked, "model.safetensors"), st, 0o644)
	if err := os.Symlink("/dev/zero", filepath.Join(linked, "config.json")); err != nil {
		t.Fatal(err)
	}
	text := []string{"--text", corpus}
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"d_model", append([]string{"eval", "--model", withConfig(t, ckpt, "d_model", 1_000_000_000)}, text...), "d_model"},
		{"vocab_size", append([]string{"eval", "--model", withConfig(t, ckpt, "vocab_size", 4_000_000)}, text...), "vocab_size"},
		{"n_layer", append([]string{"eval", "--model", withConfig(t, ckpt, "n_layer", 1000)}, text...), "n_layer"},
		{"d_state", append([]string{"eval", "--model", withConfig(t, ckpt, "d_state", 4096)}, text...), "d_state"},
		{"d_inner", append([]string{"eval", "--model", withConfig(t, ckpt, "d_inner", 200_000)}, text...), "d_inner"},
		{"max_position_embeddings", append([]string{"eval", "--model", withConfig(t, ckpt, "max_position_embeddings", 10_000_000)}, text...), "does not match"},
		{"symlinked config", []string{"generate", "--model", linked, "--prompt", "a"}, "not a regular file"},
		{"--max-new", []string{"generate", "--model", ckpt, "--prompt", "a", "--max-new", "1000000000000"}, "position"},
		{"--max-new kept", []string{"generate", "--model", ckpt, "--prompt", "a", "--max-new", "2000000000", "--json"}, "needs"},
		{"--batch", []string{"train", "--data", corpus, "--batch", "1000000000"}, "needs"},
		{"--context", []string{"train", "--data", corpus, "--context", "1000000000"}, "needs"},
		{"--context transformer", []string{"train", "--data", corpus, "--model", "transformer", "--context", "1000000000"}, "max_position_embeddings"},
		{"--sample", []string{"train", "--data", corpus, "--sample", "2000000000"}, "needs"},
		{"eval /dev/zero", []string{"eval", "--model", ckpt, "--text", "/dev/zero"}, "not a regular file"},
		{"prompt /dev/zero", []string{"generate", "--model", ckpt, "--prompt-file", "/dev/zero"}, "not a regular file"},
		{"train /dev/zero", []string{"train", "--data", "/dev/zero"}, "not a regular file"},
		{"train gzip bomb", []string{"train", "--data", bomb}, "fits in memory"},
		{"eval gzip bomb", []string{"eval", "--model", ckpt, "--text", bomb}, "fits in memory"},
	}
	for _, tc := range cases {
		exe, _ := os.Executable()
		args := append([]string{"-c", `ulimit -v 4194304 && exec "$0" "$@"`, exe}, append(tc.args, "--device", "cpu")...)
		cmd := exec.Command("sh", args...)
		cmd.Env = append(os.Environ(), asCommand+"=1")
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		code := cmd.ProcessState.ExitCode()
		msg := strings.TrimSpace(stderr.String())
		if code != 2 || strings.Contains(msg, "\n") || strings.Contains(msg, "goroutine") || !strings.Contains(msg, tc.want) {
			t.Errorf("%s: exit %d (%v), stderr %q; want exit 2 and one line containing %q", tc.name, code, err, firstBytes(msg, 400), tc.want)
		}
	}
}

func firstBytes(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
