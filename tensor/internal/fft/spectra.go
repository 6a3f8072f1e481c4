package fft

import "fmt"

// MulSpectra sets dst[i] = a[i]·b[i], or conj(a[i])·b[i] when conjA (the spectrum of a
// correlation rather than a convolution). The slices must have equal lengths; dst may
// alias a or b.
func MulSpectra(dst, a, b []complex64, conjA bool) {
	checkSpectra("MulSpectra", dst, a, b)
	mulSpectra(dst, a, b, conjA)
}

// MulAddSpectra adds a[i]·b[i], or conj(a[i])·b[i] when conjA, to dst[i]. The slices must
// have equal lengths; dst may alias a or b.
func MulAddSpectra(dst, a, b []complex64, conjA bool) {
	checkSpectra("MulAddSpectra", dst, a, b)
	mulAddSpectra(dst, a, b, conjA)
}

func checkSpectra(op string, dst, a, b []complex64) {
	if len(a) != len(dst) || len(b) != len(dst) {
		panic(fmt.Sprintf("fft: %s lengths differ: dst %d, a %d, b %d", op, len(dst), len(a), len(b)))
	}
}
