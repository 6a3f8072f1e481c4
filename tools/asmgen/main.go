// Command asmgen writes the project's amd64 assembly, tensor/internal/simd/*.s and
// tensor/internal/fft/*.s, and the Go declarations of its functions (asm_amd64.go in
// each package). The output is a pure function of this source, so regenerating
// gives byte-identical files; each package runs it through its go:generate line.
//
//	go run ./tools/asmgen -pkg simd -out tensor/internal/simd
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
)

// packages lists, for each package with assembly, the generators of its files.
var packages = []struct {
	name  string
	files []func() *File
}{
	{"simd", []func() *File{simdKernels, activation, corr}},
	{"fft", []func() *File{fftKernels}},
}

// files renders the assembly files of package pkg.
func files(pkg string) ([]*File, error) {
	i := slices.IndexFunc(packages, func(p struct {
		name  string
		files []func() *File
	}) bool {
		return p.name == pkg
	})
	if i < 0 {
		return nil, fmt.Errorf("no assembly for package %q", pkg)
	}
	var fs []*File
	for _, gen := range packages[i].files {
		fs = append(fs, gen())
	}
	return fs, nil
}

// generate writes package pkg's assembly files, and the Go file declaring their
// functions, into dir.
func generate(pkg, dir string) error {
	fs, err := files(pkg)
	if err != nil {
		return err
	}
	for _, f := range fs {
		if err := os.WriteFile(filepath.Join(dir, f.Name), []byte(f.Text()), 0o644); err != nil {
			return err
		}
	}
	decl, err := declFile(pkg, fs)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, declName), decl, 0o644)
}

func main() {
	pkg := flag.String("pkg", "", "package whose assembly to write: simd or fft")
	out := flag.String("out", ".", "directory to write the .s files into")
	flag.Parse()
	if err := generate(*pkg, *out); err != nil {
		fmt.Fprintln(os.Stderr, "asmgen:", err)
		os.Exit(2)
	}
}
