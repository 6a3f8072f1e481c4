package simd

// Vector kernels. The lengths are the caller's contract: every slice must be at least as
// long as the first one (dst for the writers, x for Dot and Axpy). Each function re-slices
// its other arguments to that length before handing them to assembly, so a broken
// contract panics with an index error instead of touching memory outside the slices.

// Dot returns Σ x[i]·y[i] over i < len(x). It sums in 32 float32 lanes (four 8-wide
// accumulators) in the assembly and four in the generic twin; the error bound is the
// float32 one for any summation order, n·2⁻²⁴·Σ|x[i]·y[i]|.
func Dot(x, y []float32) float32 {
	return dot(x, y[:len(x)])
}

// Sum returns Σ x[i], with the same accumulation scheme and bound as Dot.
func Sum(x []float32) float32 {
	return sum(x)
}

// Axpy adds alpha·x to y element-wise (y[i] += alpha·x[i] for i < len(x)).
func Axpy(alpha float32, x, y []float32) {
	axpy(alpha, x, y[:len(x)])
}

// Scale writes alpha·x[i] to dst[i] for i < len(dst). dst and x may be the same slice.
func Scale(dst []float32, alpha float32, x []float32) {
	scale(dst, alpha, x[:len(dst)])
}

// Add writes a[i]+b[i] to dst[i] for i < len(dst). dst may alias a or b exactly.
func Add(dst, a, b []float32) {
	add(dst, a[:len(dst)], b[:len(dst)])
}

// Sub writes a[i]-b[i] to dst[i] for i < len(dst). dst may alias a or b exactly.
func Sub(dst, a, b []float32) {
	sub(dst, a[:len(dst)], b[:len(dst)])
}

// Mul writes a[i]·b[i] to dst[i] for i < len(dst). dst may alias a or b exactly.
func Mul(dst, a, b []float32) {
	mul(dst, a[:len(dst)], b[:len(dst)])
}

// MulAdd adds a[i]·b[i] to dst[i] for i < len(dst). The assembly fuses the multiply and
// add (one rounding); the generic twin rounds twice.
func MulAdd(dst, a, b []float32) {
	mulAdd(dst, a[:len(dst)], b[:len(dst)])
}
