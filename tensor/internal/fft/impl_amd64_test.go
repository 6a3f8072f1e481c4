//go:build amd64 && !noasm

package fft

import "github.com/hungry-ssm/hungry/tensor/internal/cpu"

// implementations lists every kernel family this build can run on this processor, each
// as the package dispatches to it.
func implementations() []impl {
	ims := []impl{genericImpl}
	if cpu.Supported(cpu.AVX2) {
		ims = append(ims, impl{
			name: "avx2", radix2: radix2AVX2, radix4: radix4AVX2,
			mul: mulSpectraAVX2, mulAdd: mulAddSpectraAVX2, transpose8: transpose8AVX2,
			split: splitAVX2, join: joinAVX2, swapScale: swapScaleAVX2, pack: packAVX2,
		})
	}
	if cpu.Supported(cpu.AVX512) {
		f := cpu.AVX512
		ims = append(ims, impl{
			name:       "avx512",
			radix2:     func(x, w []complex64) { radix2On(f, x, w) },
			radix4:     func(x, w1, w2 []complex64) { radix4On(f, x, w1, w2) },
			mul:        func(dst, a, b []complex64, conjA bool) { mulSpectraOn(f, dst, a, b, conjA) },
			mulAdd:     func(dst, a, b []complex64, conjA bool) { mulAddSpectraOn(f, dst, a, b, conjA) },
			transpose8: transpose8AVX2, split: splitAVX2, join: joinAVX2, swapScale: swapScaleAVX2, pack: packAVX2,
		})
	}
	return ims
}
