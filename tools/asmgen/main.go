// Command asmgen writes the project's amd64 assembly, tensor/internal/simd/*.s and
// tensor/internal/fft/*.s, and the Go declarations of its functions (asm_amd64.go in
// each package). The output is a pure function of this source, so regenerating gives
// byte-identical files; each package runs it through its go:generate line, and
// TestCommittedAssemblyIsCurrent fails when a committed file is stale.
//
//	go run ./tools/asmgen -pkg simd -out tensor/internal/simd
//
// Layout:
//   - asm.go: the writer. File collects instructions and aligns them in blocks; Fn
//     starts a TEXT from the function's Go declaration, whose ABI0 frame layout gives
//     the argument operands (Arg, Args), so vet's frame checks hold by construction.
//   - decl.go: the Go file of declarations, with the same docs, from the same Fn calls.
//   - vec.go: Vec, the register file a kernel is written against (bytes per register,
//     register count, opcode forms), and the pieces several kernels share: the Stream
//     loop skeleton (unrolled vector loop, one-register loop, scalar tail), the lane
//     reduction and the 8×8 transpose.
//   - simd.go, simd512.go, activation.go, corr.go, fft.go: one function per kernel, in
//     the order of the file it writes.
//
// The streaming kernels, the activations, the SSM correlations, the sgemm micro-kernel
// and the FFT butterflies and spectrum products take a Vec: their offsets, strides, lane
// counts, register numbers and shift amounts come from it, and the scalar tail is the same
// body given Scalar. The AVX-512 family is the same functions given Zmm (64 bytes, 32
// registers), written under the suffix AVX512: simd512.go collects them for the simd
// package's kernels_avx512_amd64.s, and activation.go, corr.go and fft.go write both
// widths into their files. The sgemm tile follows the register count (6×16 for ymm,
// 12×32 for zmm); the packs and the 8×8 transposes stay on ymm registers in both.
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
	{"simd", []func() *File{simdKernels, simdKernels512, activation, corr}},
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
