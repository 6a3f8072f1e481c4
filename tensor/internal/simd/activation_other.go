//go:build !amd64 || noasm

package simd

func gelu(dst, x []float32)                    { geluGeneric(dst, x) }
func geluBackward(dst, g, x []float32)         { geluBackwardGeneric(dst, g, x) }
func expShift(dst, x []float32, shift float32) { expShiftGeneric(dst, x, shift) }
