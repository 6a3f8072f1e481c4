//go:build amd64 && !noasm

package simd

import "github.com/hungry-ssm/hungry/tensor/internal/cpu"

// The activation assembly, in activation_amd64.s, handles the first len(dst) rounded
// down to whole registers (8 lanes for AVX2, 16 for AVX-512) and reads the other slices
// through their base pointers; the callers below pass slices already cut to len(dst) and
// finish the tail in Go. The *On forms take the family, so the tests run every family
// the processor has whatever cpu.Active is.

func gelu(dst, x []float32) { geluOn(cpu.Active, dst, x) }

func geluBackward(dst, g, x []float32) { geluBackwardOn(cpu.Active, dst, g, x) }

func expShift(dst, x []float32, shift float32) { expShiftOn(cpu.Active, dst, x, shift) }

// wholeLanes is n rounded down to whole registers of family f.
func wholeLanes(f cpu.Family, n int) int {
	if f == cpu.AVX512 {
		return n &^ 15
	}
	return n &^ 7
}

func geluOn(f cpu.Family, dst, x []float32) {
	switch f {
	case cpu.AVX512:
		geluAVX512(dst, x)
	case cpu.AVX2:
		geluAVX2(dst, x)
	default:
		geluGeneric(dst, x)
		return
	}
	whole := wholeLanes(f, len(dst))
	geluGeneric(dst[whole:], x[whole:])
}

func geluBackwardOn(f cpu.Family, dst, g, x []float32) {
	switch f {
	case cpu.AVX512:
		geluBackwardAVX512(dst, g, x)
	case cpu.AVX2:
		geluBackwardAVX2(dst, g, x)
	default:
		geluBackwardGeneric(dst, g, x)
		return
	}
	whole := wholeLanes(f, len(dst))
	geluBackwardGeneric(dst[whole:], g[whole:], x[whole:])
}

func expShiftOn(f cpu.Family, dst, x []float32, shift float32) {
	switch f {
	case cpu.AVX512:
		expShiftAVX512(dst, x, shift)
	case cpu.AVX2:
		expShiftAVX2(dst, x, shift)
	default:
		expShiftGeneric(dst, x, shift)
		return
	}
	whole := wholeLanes(f, len(dst))
	expShiftGeneric(dst[whole:], x[whole:], shift)
}
