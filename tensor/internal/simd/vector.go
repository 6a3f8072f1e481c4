package simd

import "fmt"

// Vector kernels. The lengths are the caller's contract: every slice must be at least as
// long as the first one (dst for the writers, x for Dot and Axpy). Each function checks
// that before handing its slices to assembly, so a broken contract panics instead of
// reading or writing past the end of a slice.

// fit returns s cut to n elements, panicking if it is shorter: cutting alone would
// succeed whenever the capacity allows it, and read values the caller does not own.
func fit(s []float32, n int) []float32 {
	if len(s) < n {
		panicShort(len(s), n)
	}
	return s[:n]
}

func panicShort(got, want int) {
	panic(fmt.Sprintf("simd: slice of length %d where %d elements are needed", got, want))
}

// Dot returns Σ x[i]·y[i] over i < len(x). It sums in 32 float32 lanes (four 8-wide
// accumulators) in the assembly and four in the generic twin; the error bound is the
// float32 one for any summation order, n·2⁻²⁴·Σ|x[i]·y[i]|.
func Dot(x, y []float32) float32 {
	return dot(x, fit(y, len(x)))
}

// Sum returns Σ x[i], with the same accumulation scheme and bound as Dot.
func Sum(x []float32) float32 {
	return sum(x)
}

// Axpy adds alpha·x to y element-wise (y[i] += alpha·x[i] for i < len(x)).
func Axpy(alpha float32, x, y []float32) {
	axpy(alpha, x, fit(y, len(x)))
}

// Scale writes alpha·x[i] to dst[i] for i < len(dst). dst and x may be the same slice.
func Scale(dst []float32, alpha float32, x []float32) {
	scale(dst, alpha, fit(x, len(dst)))
}

// Add writes a[i]+b[i] to dst[i] for i < len(dst). dst may alias a or b exactly.
func Add(dst, a, b []float32) {
	add(dst, fit(a, len(dst)), fit(b, len(dst)))
}

// Sub writes a[i]-b[i] to dst[i] for i < len(dst). dst may alias a or b exactly.
func Sub(dst, a, b []float32) {
	sub(dst, fit(a, len(dst)), fit(b, len(dst)))
}

// Mul writes a[i]·b[i] to dst[i] for i < len(dst). dst may alias a or b exactly.
func Mul(dst, a, b []float32) {
	mul(dst, fit(a, len(dst)), fit(b, len(dst)))
}

// MulAdd adds a[i]·b[i] to dst[i] for i < len(dst). The assembly fuses the multiply and
// add (one rounding); the generic twin rounds twice.
func MulAdd(dst, a, b []float32) {
	mulAdd(dst, fit(a, len(dst)), fit(b, len(dst)))
}
