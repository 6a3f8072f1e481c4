//go:build amd64 && !noasm

package simd

import "github.com/hungry-ssm/hungry/tensor/internal/cpu"

// The assembly, in kernels_amd64.s and declared in asm_amd64.go (both written by
// tools/asmgen), reads slices through their base pointers and checks no bounds: the
// vector kernels use the first slice's length for all of them, the matrix kernels the
// sizes they are given, and the Go code that calls them guarantees that every slice is
// long enough.

// dots4x3Asm checks, by indexing, the rows the assembly reads and writes.
func dots4x3Asm(k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, alpha, beta float32) {
	_ = a[3*lda+k-1]
	_ = b[2*ldb+k-1]
	_ = c[3*ldc+2]
	dots4x3AVX2(k, a, lda, b, ldb, c, ldc, alpha, beta)
}

// gemvNAsm and gemvTAsm check, by indexing, the last element the assembly reads.
func gemvNAsm(k int, x, a []float32, lda int, y []float32) {
	if k > 0 && len(y) > 0 {
		_ = x[k-1]
		_ = a[(k-1)*lda+len(y)-1]
	}
	gemvNAVX2(k, x, a, lda, y)
}

func gemvTAsm(k int, x, a []float32, lda int, y []float32) {
	if k > 0 && len(y) > 0 {
		_ = x[k-1]
		_ = a[(len(y)-1)*lda+k-1]
	}
	gemvTAVX2(k, x, a, lda, y)
}

// The packing wrappers check, by indexing, every bound the assembly relies on, and leave
// the p that do not fill a whole 8×8 transpose to the generic code.

func packA6RowsAsm(dst, src []float32, kb, lda int) {
	whole := kb &^ 7
	if whole > 0 {
		_ = src[5*lda+kb-1]
		_ = dst[mr*whole+1] // the transposes store 2 floats past their last p
		packA6RowsAVX2(dst, src, kb, lda)
	}
	packA6RowsGeneric(dst[mr*whole:], src[whole:], kb-whole, lda)
}

func packB16RowsAsm(dst, src []float32, kb, ldb int) {
	if kb > 0 {
		_ = src[(kb-1)*ldb+nr-1]
		_ = dst[nr*kb-1]
		packB16RowsAVX2(dst, src, kb, ldb)
	}
}

func packB16ColsAsm(dst, src []float32, kb, ldb int) {
	whole := kb &^ 7
	if whole > 0 {
		_ = src[(nr-1)*ldb+kb-1]
		_ = dst[nr*kb-1]
		packB16ColsAVX2(dst, src, kb, ldb)
	}
	packB16ColsGeneric(dst[nr*whole:], src[whole:], kb-whole, ldb)
}

var asmGemmKernels = gemmKernels{
	mr: mr, nr: nr, kc: kc, mc: mc, nc: nc,
	micro: sgemmKernelAVX2, dots: dots4x3Asm, gemvN: gemvNAsm, gemvT: gemvTAsm,
	packARows: packA6RowsAsm, packBRows: packB16RowsAsm, packBCols: packB16ColsAsm,
}

func packA12RowsAsm(dst, src []float32, kb, lda int) {
	whole := kb &^ 7
	if whole > 0 {
		_ = src[(mr512-1)*lda+kb-1]
		_ = dst[mr512*whole-1]
		packA12RowsAVX512(dst, src, kb, lda)
	}
	packARowsGeneric(dst[mr512*whole:], src[whole:], kb-whole, lda, mr512)
}

func packB32RowsAsm(dst, src []float32, kb, ldb int) {
	if kb > 0 {
		_ = src[(kb-1)*ldb+nr512-1]
		_ = dst[nr512*kb-1]
		packB32RowsAVX512(dst, src, kb, ldb)
	}
}

func packB32ColsAsm(dst, src []float32, kb, ldb int) {
	whole := kb &^ 7
	if whole > 0 {
		_ = src[(nr512-1)*ldb+kb-1]
		_ = dst[nr512*kb-1]
		packB32ColsAVX512(dst, src, kb, ldb)
	}
	packBColsGeneric(dst[nr512*whole:], src[whole:], kb-whole, ldb, nr512)
}

// The matrix-vector and dot-product kernels are memory-bound and stay the AVX2 ones.
var avx512GemmKernels = gemmKernels{
	mr: mr512, nr: nr512, kc: kc, mc: mc, nc: nc,
	micro: sgemmKernelAVX512, dots: dots4x3Asm, gemvN: gemvNAsm, gemvT: gemvTAsm,
	packARows: packA12RowsAsm, packBRows: packB32RowsAsm, packBCols: packB32ColsAsm,
}

func dot(x, y []float32) float32 {
	switch cpu.Active {
	case cpu.AVX512:
		return dotAVX512(x, y)
	case cpu.AVX2:
		return dotAVX2(x, y)
	}
	return dotGeneric(x, y)
}

func sum(x []float32) float32 {
	switch cpu.Active {
	case cpu.AVX512:
		return sumAVX512(x)
	case cpu.AVX2:
		return sumAVX2(x)
	}
	return sumGeneric(x)
}

func axpy(alpha float32, x, y []float32) {
	switch cpu.Active {
	case cpu.AVX512:
		axpyAVX512(alpha, x, y)
	case cpu.AVX2:
		axpyAVX2(alpha, x, y)
	default:
		axpyGeneric(alpha, x, y)
	}
}

func scale(dst []float32, alpha float32, x []float32) {
	switch cpu.Active {
	case cpu.AVX512:
		scaleAVX512(dst, alpha, x)
	case cpu.AVX2:
		scaleAVX2(dst, alpha, x)
	default:
		scaleGeneric(dst, alpha, x)
	}
}

// binaryFamily picks one of the three-slice kernels by cpu.Active.
func binaryFamily(dst, a, b []float32, avx512, avx2, generic func(dst, a, b []float32)) {
	switch cpu.Active {
	case cpu.AVX512:
		avx512(dst, a, b)
	case cpu.AVX2:
		avx2(dst, a, b)
	default:
		generic(dst, a, b)
	}
}

func add(dst, a, b []float32)    { binaryFamily(dst, a, b, addAVX512, addAVX2, addGeneric) }
func sub(dst, a, b []float32)    { binaryFamily(dst, a, b, subAVX512, subAVX2, subGeneric) }
func mul(dst, a, b []float32)    { binaryFamily(dst, a, b, mulAVX512, mulAVX2, mulGeneric) }
func mulAdd(dst, a, b []float32) { binaryFamily(dst, a, b, mulAddAVX512, mulAddAVX2, mulAddGeneric) }

// gemmFamily is the gemm kernel set of family f, which the processor must support.
func gemmFamily(f cpu.Family) gemmKernels {
	switch f {
	case cpu.AVX512:
		return avx512GemmKernels
	case cpu.AVX2:
		return asmGemmKernels
	}
	return genericGemmKernels
}

// activeGemmKernels is the kernel family the process uses, fixed by cpu.Active.
func activeGemmKernels() gemmKernels { return gemmFamily(cpu.Active) }
