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

func split(z, w []complex64, blocks int)     { splitGeneric(z, w, blocks) }
func join(s, x, w []complex64, blocks int)   { joinGeneric(s, x, w, blocks) }
func swapScale(z []complex64, scale float32) { swapScaleGeneric(z, scale) }

func pack(z, x []complex64, rev4 []int32, half bool) { packGeneric(z, x, rev4, half) }
