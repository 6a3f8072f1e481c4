//go:build amd64 && !noasm

package simd

import "github.com/hungry-ssm/hungry/tensor/internal/cpu"

// The activation assembly, in activation_amd64.s, handles the first len(dst)&^7 elements
// (whole 8-lane vectors) and reads the other slices through their base pointers; the
// callers below pass slices already cut to len(dst) and finish the tail in Go.

func gelu(dst, x []float32) {
	if !cpu.AVX2FMA {
		geluGeneric(dst, x)
		return
	}
	geluAVX2(dst, x)
	whole := len(dst) &^ 7
	geluGeneric(dst[whole:], x[whole:])
}

func geluBackward(dst, g, x []float32) {
	if !cpu.AVX2FMA {
		geluBackwardGeneric(dst, g, x)
		return
	}
	geluBackwardAVX2(dst, g, x)
	whole := len(dst) &^ 7
	geluBackwardGeneric(dst[whole:], g[whole:], x[whole:])
}

func expShift(dst, x []float32, shift float32) {
	if !cpu.AVX2FMA {
		expShiftGeneric(dst, x, shift)
		return
	}
	expShiftAVX2(dst, x, shift)
	whole := len(dst) &^ 7
	expShiftGeneric(dst[whole:], x[whole:], shift)
}
