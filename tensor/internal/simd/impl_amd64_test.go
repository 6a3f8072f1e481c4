//go:build amd64 && !noasm

package simd

import "github.com/hungry-ssm/hungry/tensor/internal/cpu"

// implementations lists every kernel family this build can run on this processor, so the
// tests hold the assembly families and the generic twin to the float64 reference.
func implementations() []impl {
	ims := []impl{genericImpl}
	if cpu.Supported(cpu.AVX2) {
		ims = append(ims, impl{
			name: "avx2", dot: dotAVX2, sum: sumAVX2, axpy: axpyAVX2, scale: scaleAVX2,
			add: addAVX2, sub: subAVX2, mul: mulAVX2, mulAdd: mulAddAVX2, gemm: asmGemmKernels,
		})
	}
	if cpu.Supported(cpu.AVX512) {
		ims = append(ims, impl{
			name: "avx512", dot: dotAVX512, sum: sumAVX512, axpy: axpyAVX512, scale: scaleAVX512,
			add: addAVX512, sub: subAVX512, mul: mulAVX512, mulAdd: mulAddAVX512, gemm: avx512GemmKernels,
		})
	}
	return ims
}
