package main

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCommittedAssemblyIsCurrent fails when the .s files under tensor/internal, or the
// Go files declaring their functions, differ from what the generator writes now: run `go generate ./tensor/internal/...` and commit
// the result.
func TestCommittedAssemblyIsCurrent(t *testing.T) {
	for _, p := range packages {
		dir := t.TempDir()
		if err := generate(p.name, dir); err != nil {
			t.Fatal(err)
		}
		gen, err := filepath.Glob(filepath.Join(dir, "*.s"))
		if err != nil || len(gen) == 0 {
			t.Fatalf("%s: generator wrote no .s files (%v)", p.name, err)
		}
		pkgDir := filepath.Join("..", "..", "tensor", "internal", p.name)
		committed, _ := filepath.Glob(filepath.Join(pkgDir, "*.s"))
		if len(committed) != len(gen) {
			t.Errorf("%s has %d .s files, the generator writes %d", pkgDir, len(committed), len(gen))
		}
		gen = append(gen, filepath.Join(dir, declName))
		for _, g := range gen {
			want, _ := os.ReadFile(g)
			got, err := os.ReadFile(filepath.Join(pkgDir, filepath.Base(g)))
			if err != nil {
				t.Errorf("%s: %v", filepath.Base(g), err)
				continue
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s/%s is stale: regenerate with `go generate ./tensor/internal/%s`", p.name, filepath.Base(g), p.name)
			}
		}
	}
}

// TestGenerationIsDeterministic renders every file twice and compares.
func TestGenerationIsDeterministic(t *testing.T) {
	for _, p := range packages {
		for _, gen := range p.files {
			a, b := gen(), gen()
			if a.Text() != b.Text() {
				t.Errorf("%s/%s differs between two renderings", p.name, a.Name)
			}
		}
	}
}

func TestUnknownPackageIsAnError(t *testing.T) {
	if err := generate("nosuch", t.TempDir()); err == nil {
		t.Error("generate accepted a package without assembly")
	}
}

// TestLayout checks frame offsets against the ABI0 rules that go vet's asmdecl applies:
// each argument at its own alignment, results from the next multiple of 8.
func TestLayout(t *testing.T) {
	for _, c := range []struct {
		decl string
		args map[string]int
		size int
	}{
		{"func f(x, y []float32) float32", map[string]int{"x_base": 0, "x_len": 8, "y_base": 24, "y_cap": 40, "ret": 48}, 52},
		{"func f(alpha float32, x []float32)", map[string]int{"alpha": 0, "x_base": 8, "x_len": 16}, 32},
		{"func f(dst []float32, alpha float32, x []float32)", map[string]int{"alpha": 24, "x_base": 32}, 56},
		{"func f(k int, alpha, beta float32)", map[string]int{"k": 0, "alpha": 8, "beta": 12}, 16},
		{"func f(a []complex64, conjA bool)", map[string]int{"conjA": 24}, 25},
		{"func f(a bool, b float32, c bool, d int)", map[string]int{"a": 0, "b": 4, "c": 8, "d": 16}, 24},
		{"func f() (lo, hi float32)", map[string]int{"lo": 0, "hi": 4}, 8},
	} {
		name, args, size := layout(c.decl)
		if name != "f" || size != c.size {
			t.Errorf("%s: name %q size %d, want f and %d", c.decl, name, size, c.size)
		}
		for k, want := range c.args {
			if got, ok := args[k]; !ok || got != want {
				t.Errorf("%s: %s at %d (present %v), want %d", c.decl, k, got, ok, want)
			}
		}
	}
}

// TestBlockAlignment checks that a run of instructions shares one operand column and
// that a label starts a new run.
func TestBlockAlignment(t *testing.T) {
	f := &File{Name: "x.s"}
	f.I("MOVQ", "AX", "BX")
	f.Note("why", "VFMADD231PS", "Y0", "Y1", "Y2")
	f.I("RET")
	f.Label("l")
	f.I("ADDQ", "$1", "AX")
	want := "\tMOVQ        AX, BX\n\tVFMADD231PS Y0, Y1, Y2 // why\n\tRET\n\nl:\n\tADDQ $1, AX\n"
	if got := f.Text(); got != want {
		t.Errorf("got\n%q\nwant\n%q", got, want)
	}
}

// TestGeluConstants derives each constant of the activation table that has a formula
// and checks the stored bits against it.
func TestGeluConstants(t *testing.T) {
	c := math.Sqrt(2 / math.Pi)
	exact := map[string]float64{
		"M2C": -2 * c, "M2CA": -2 * c * 0.044715, "TWOC": 2 * c, "SIXCA": 6 * c * 0.044715,
		"ONE": 1, "XMIN": -10, "XMAX": 10, "LOG2E": math.Log2E,
		// Cephes expf: ln 2 split so that n·LN2HI is exact, and its polynomial.
		"LN2HI": 0.693359375, "LN2LO": -2.12194440e-4,
		"P0": 1.9875691500e-4, "P1": 1.3981999507e-3, "P2": 8.3334519073e-3,
		"P3": 4.1665795894e-2, "P4": 1.6666665459e-1, "P5": 5.0000001201e-1,
	}
	byName := map[string]uint32{}
	for _, k := range geluConsts {
		byName[k.name] = k.bits
	}
	for name, v := range exact {
		if got, want := byName[name], math.Float32bits(float32(v)); got != want {
			t.Errorf("%s = %#08x, want %#08x (%v)", name, got, want, v)
		}
	}
	if byName["BIAS"] != 127 {
		t.Errorf("BIAS = %d, want 127", byName["BIAS"])
	}
	// The clamp bounds lie at most 1e-5 above −126·ln2 and 127·ln2.
	for name, v := range map[string]float64{"TLO": -126 * math.Ln2, "THI": 127 * math.Ln2} {
		got := float64(math.Float32frombits(byName[name]))
		if got < v || got > v+1e-5 {
			t.Errorf("%s = %v, want within [%v, %v]", name, got, v, v+1e-5)
		}
	}
	if len(byName) != len(geluConsts) {
		t.Errorf("geluConsts has %d entries for %d names", len(geluConsts), len(byName))
	}
	for _, k := range geluConsts {
		if _, ok := exact[k.name]; !ok && !strings.Contains("BIAS TLO THI", k.name) {
			t.Errorf("constant %s is not checked", k.name)
		}
	}
}
