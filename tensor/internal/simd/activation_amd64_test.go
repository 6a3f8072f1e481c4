//go:build amd64 && !noasm

package simd

import "github.com/hungry-ssm/hungry/tensor/internal/cpu"

// geluImplementations lists every family the processor runs, each as the package
// dispatches to it (whole registers in assembly, the tail in Go).
func geluImplementations() []geluImpl {
	var ims []geluImpl
	for _, f := range cpu.Families {
		if !cpu.Supported(f) {
			continue
		}
		ims = append(ims, geluImpl{
			name:     f.String(),
			gelu:     func(dst, x []float32) { geluOn(f, dst, x) },
			backward: func(dst, g, x []float32) { geluBackwardOn(f, dst, g, x) },
			expShift: func(dst, x []float32, shift float32) { expShiftOn(f, dst, x, shift) },
		})
	}
	return ims
}

type corrImpl struct {
	name    string
	corr    func(y, u, k []float32, rows, h, taps int)
	corrSum func(dst, a, b []float32, n, stride, width, taps int)
}

// corrImplementations lists every family the processor runs, as CorrRows dispatches to
// it (whole blocks in assembly, edges in Go).
func corrImplementations() []corrImpl {
	var ims []corrImpl
	for _, f := range cpu.Families {
		if !cpu.Supported(f) {
			continue
		}
		ims = append(ims, corrImpl{
			name: f.String(),
			corr: func(y, u, k []float32, rows, h, taps int) { corrRowsOn(f, y, u, k, rows, h, taps) },
			corrSum: func(dst, a, b []float32, n, stride, width, taps int) {
				corrSumRowsOn(f, dst, a, b, n, stride, width, taps)
			},
		})
	}
	return ims
}
