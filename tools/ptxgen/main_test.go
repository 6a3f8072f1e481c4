package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestCommittedKernelsAreCurrent fails when ptx/kernels/*.ptx, index_gen.go or
// launch_gen.go differ from what the generator writes now: run `go generate ./ptx/kernels`
// and commit the result.
func TestCommittedKernelsAreCurrent(t *testing.T) {
	dir := t.TempDir()
	if err := generate(dir); err != nil {
		t.Fatal(err)
	}
	gen, err := filepath.Glob(filepath.Join(dir, "*.ptx"))
	if err != nil || len(gen) == 0 {
		t.Fatalf("generator wrote no .ptx files (%v)", err)
	}
	for _, f := range goFiles {
		gen = append(gen, filepath.Join(dir, f))
	}
	committed, _ := filepath.Glob(filepath.Join("..", "..", "ptx", "kernels", "*.ptx"))
	if len(committed) != len(gen)-len(goFiles) {
		t.Errorf("ptx/kernels has %d .ptx files, the generator writes %d", len(committed), len(gen)-len(goFiles))
	}
	for _, g := range gen {
		want, _ := os.ReadFile(g)
		got, err := os.ReadFile(filepath.Join("..", "..", "ptx", "kernels", filepath.Base(g)))
		if err != nil {
			t.Errorf("%s: %v", filepath.Base(g), err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is stale: regenerate with `go generate ./ptx/kernels`", filepath.Base(g))
		}
	}
}

// TestGenerationIsDeterministic renders every module twice and compares.
func TestGenerationIsDeterministic(t *testing.T) {
	a, b := modules(), modules()
	for i := range a {
		if a[i].Text() != b[i].Text() {
			t.Errorf("%s differs between two renderings", a[i].File)
		}
	}
}
