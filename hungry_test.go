package hungry

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hungry-ssm/hungry/data"
)

func TestFamiliesHaveMatchedSizes(t *testing.T) {
	spec := DefaultSpec()
	spec.DModel, spec.Layers = 64, 3
	sizes := map[string]int{}
	for _, fam := range []string{"h3", "hybrid", "transformer"} {
		spec.Family = fam
		cfg, err := spec.ModelConfig(256, 128)
		if err != nil {
			t.Fatal(err)
		}
		sizes[fam] = cfg.NumParams()
	}
	// One unit of d_inner moves the count by n_layer·(2·d_model+1) = 387, so rounding
	// leaves at most half of that.
	for _, fam := range []string{"hybrid", "transformer"} {
		if d := sizes[fam] - sizes["h3"]; d < -194 || d > 194 {
			t.Errorf("%s has %d parameters, h3 %d", fam, sizes[fam], sizes["h3"])
		}
	}
}

func TestSpecRejectsUnknownFamilyAndTokenizer(t *testing.T) {
	for _, s := range []Spec{{Family: "rnn"}, {Family: "h3", Tokenizer: "chars"}} {
		base := DefaultSpec()
		base.Family = s.Family
		if s.Tokenizer != "" {
			base.Tokenizer = s.Tokenizer
		}
		if _, err := base.ModelConfig(256, 64); err == nil {
			t.Errorf("%+v accepted", s)
		}
	}
}

// TestLibraryImportsNoUI keeps drawing out of the library: the root package, train and
// model must not depend, even indirectly, on a plotting, font or terminal package. Those
// belong to cmd/hungry, which draws the progress bar and the loss plot from train's events.
func TestLibraryImportsNoUI(t *testing.T) {
	// go test puts its own toolchain first on the PATH.
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("no go command to list the dependencies with: %v", err)
	}
	const module = "github.com/hungry-ssm/hungry"
	for _, pkg := range []string{module, module + "/train", module + "/model"} {
		out, err := exec.Command(goTool, "list", "-deps", pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps %s: %v\n%s", pkg, err, out)
		}
		deps := strings.Fields(string(out))
		if !slices.Contains(deps, pkg) || !slices.Contains(deps, module+"/tensor") {
			t.Fatalf("go list -deps %s does not list the package and its tensor dependency:\n%s", pkg, out)
		}
		for _, dep := range deps {
			for _, banned := range []string{"gonum.org/v1/plot", "github.com/schollz/progressbar", "golang.org/x/term",
				"codeberg.org/go-fonts", "golang.org/x/image"} {
				if dep == banned || strings.HasPrefix(dep, banned+"/") {
					t.Errorf("%s depends on %s", pkg, dep)
				}
			}
		}
	}
}

// TestModelSaveReplacesTheFolder saves a model over a folder holding another file: the
// folder is replaced whole (WriteDirAtomic) and loads back as the same model.
func TestModelSaveReplacesTheFolder(t *testing.T) {
	corpus, err := data.CorpusFromText("text", []byte(strings.Repeat("the cat sat on the mat. ", 40)))
	if err != nil {
		t.Fatal(err)
	}
	spec := DefaultSpec()
	spec.Layers, spec.DModel = 1, 8
	m, err := New(spec, corpus, 16, nil, 3)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "model")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "stale.txt"), []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := m.Save(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "stale.txt")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the old folder's file survived the save: %v", err)
	}
	if siblings, _ := os.ReadDir(filepath.Dir(dir)); len(siblings) != 1 {
		t.Errorf("the save left %d entries beside the folder, want 1", len(siblings))
	}
	back, err := Load(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	a, b := m.LM.Params(), back.LM.Params()
	for i := range a {
		if !slices.Equal(a[i].Value.Host(), b[i].Value.Host()) {
			t.Fatalf("%s changed through Save and Load", a[i].Name)
		}
	}
}
