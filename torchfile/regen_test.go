package torchfile

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// The committed checkpoints are what testdata/gen/h3_import.py writes: byte for byte,
// except the legacy-format files, whose storage keys are torch's memory addresses; those
// must hold the same tensors under the same names. Needs Debian's python3-torch.
func TestGeneratorReproducesFiles(t *testing.T) {
	if exec.Command("/usr/bin/python3", "-c", "import torch, numpy").Run() != nil {
		t.Skip("/usr/bin/python3 with torch and numpy is not installed (apt-get install python3-torch python3-numpy)")
	}
	if testing.Short() {
		t.Skip("runs PyTorch for a few seconds")
	}
	out := t.TempDir()
	cmd := exec.Command("/usr/bin/python3", filepath.Join("..", "testdata", "gen", "h3_import.py"))
	cmd.Env = append(os.Environ(), "H3_IMPORT_OUT="+out)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, msg)
	}
	committed, _ := filepath.Glob(filepath.Join(importDir, "*"))
	fresh, _ := filepath.Glob(filepath.Join(out, "*"))
	if len(committed) != len(fresh) {
		t.Fatalf("the generator writes %d files, %d are committed", len(fresh), len(committed))
	}
	for _, path := range committed {
		name := filepath.Base(path)
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		if name != "legacy_f32.pt" && name != "seed_legacy.pt" {
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from the generator's output", name)
			}
			continue
		}
		a, err := readBytes(want)
		if err != nil {
			t.Fatal(err)
		}
		b, err := readBytes(got)
		if err != nil {
			t.Fatal(err)
		}
		if len(a) != len(b) {
			t.Fatalf("%s: %d tensors, the generator writes %d", name, len(a), len(b))
		}
		for i := range a {
			x, _ := a[i].Tensor.Bytes()
			y, _ := b[i].Tensor.Bytes()
			if a[i].Name != b[i].Name || !bytes.Equal(x, y) {
				t.Errorf("%s: tensor %s differs from the generator's", name, a[i].Name)
			}
		}
	}
}
