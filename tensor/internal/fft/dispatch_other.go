//go:build !amd64 || noasm

package fft

// Builds without the assembly run the generic twins directly.

func radix2(x, w []complex64)                         { radix2Generic(x, w) }
func radix4(x, w1, w2 []complex64)                    { radix4Generic(x, w1, w2) }
func mulSpectra(dst, a, b []complex64, conjA bool)    { mulSpectraGeneric(dst, a, b, conjA) }
func mulAddSpectra(dst, a, b []complex64, conjA bool) { mulAddSpectraGeneric(dst, a, b, conjA) }

func transpose8(dst []float32, ldd int, src []float32, lds int) {
	transpose8Generic(dst, ldd, src, lds)
}
