//go:build amd64 && !noasm

package fft

import "github.com/hungry-ssm/hungry/tensor/internal/cpu"

// implementations lists every kernel family this build can run on this processor.
func implementations() []impl {
	if !cpu.AVX2FMA {
		return []impl{genericImpl}
	}
	return []impl{genericImpl, {
		name: "avx2", radix2: radix2AVX2, radix4: radix4AVX2,
		mul: mulSpectraAVX2, mulAdd: mulAddSpectraAVX2, transpose8: transpose8AVX2,
		split: splitAVX2, join: joinAVX2, swapScale: swapScaleAVX2, pack: packAVX2,
	}}
}
