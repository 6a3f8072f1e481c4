//go:build amd64 && !noasm

package simd

import "github.com/hungry-ssm/hungry/tensor/internal/cpu"

// geluImplementations lists the generic twin and, where the processor runs it, the
// assembly as the package dispatches to it (whole vectors in assembly, the tail in Go).
func geluImplementations() []geluImpl {
	if !cpu.AVX2FMA {
		return []geluImpl{geluGenericImpl}
	}
	return []geluImpl{geluGenericImpl, {name: "avx2", gelu: gelu, backward: geluBackward, expShift: expShift}}
}

type corrImpl struct {
	name    string
	corr    func(y, u, k []float32, rows, h, taps int)
	corrSum func(dst, a, b []float32, n, stride, width, taps int)
}

func corrGenericAll(y, u, k []float32, rows, h, taps int) {
	corrRowsGeneric(y, u, k, h, taps, 0, rows, 0, h)
}

func corrSumGenericAll(dst, a, b []float32, n, stride, width, taps int) {
	corrSumRowsGeneric(dst, a, b, n, stride, width, 0, taps, 0, width)
}

// corrImplementations lists the generic twin and, where it runs, the assembly as
// CorrRows dispatches to it (whole blocks in assembly, edges in Go).
func corrImplementations() []corrImpl {
	if !cpu.AVX2FMA {
		return []corrImpl{{"generic", corrGenericAll, corrSumGenericAll}}
	}
	return []corrImpl{{"generic", corrGenericAll, corrSumGenericAll}, {"avx2", corrRows, corrSumRows}}
}
