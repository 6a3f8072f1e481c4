//go:build amd64 && !noasm

package simd

import "github.com/hungry-ssm/hungry/tensor/internal/cpu"

// implementations lists every kernel family this build can run on this processor, so the
// tests hold both the assembly and the generic twin to the float64 reference.
func implementations() []impl {
	if !cpu.AVX2FMA {
		return []impl{genericImpl}
	}
	return []impl{genericImpl, {
		name: "avx2", dot: dotAVX2, sum: sumAVX2, axpy: axpyAVX2, scale: scaleAVX2,
		add: addAVX2, sub: subAVX2, mul: mulAVX2, mulAdd: mulAddAVX2, gemm: asmGemmKernels,
	}}
}
