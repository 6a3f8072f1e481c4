//go:build !amd64 || noasm

package simd

func geluImplementations() []geluImpl { return []geluImpl{geluGenericImpl} }

type corrImpl struct {
	name    string
	corr    func(y, u, k []float32, rows, h, taps int)
	corrSum func(dst, a, b []float32, n, stride, width, taps int)
}

func corrImplementations() []corrImpl {
	return []corrImpl{{"generic", func(y, u, k []float32, rows, h, taps int) {
		corrRowsGeneric(y, u, k, h, taps, 0, rows, 0, h)
	}, func(dst, a, b []float32, n, stride, width, taps int) {
		corrSumRowsGeneric(dst, a, b, n, stride, width, 0, taps, 0, width)
	}}}
}
