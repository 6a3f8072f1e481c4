package simd

import "math"

// GELU writes the tanh approximation of the Gaussian error linear unit,
// 0.5·x·(1+tanh(√(2/π)(x+0.044715x³))), of x[i] to dst[i] for i < len(dst). dst and x may
// be the same slice. The identity 0.5(1+tanh u) = σ(2u) turns it into x/(1+e^(−2u)), one
// exponential and one division, in both the assembly and the generic twin.
func GELU(dst, x []float32) {
	gelu(dst, fit(x, len(dst)))
}

// GELUBackward adds g[i]·GELU′(x[i]) to dst[i] for i < len(dst): the gradient of GELU
// accumulated into an existing gradient.
func GELUBackward(dst, g, x []float32) {
	n := len(dst)
	geluBackward(dst, fit(g, n), fit(x, n))
}

// ExpShift writes e^(x[i]−shift) to dst[i] for i < len(dst), the exponentials of a
// softmax or log-sum-exp with shift at or above the row's maximum. dst and x may be the
// same slice. The exponent x[i]−shift (rounded to float32 first) is clamped to
// [−126·ln2, 127·ln2]: below, the result is 2⁻¹²⁶ ≈ 1.2e-38 instead of a subnormal or
// zero, and above, 2¹²⁷ ≈ 1.7e38 instead of a larger value or +Inf. Inside, the result is
// within 2 ulp of e^(x[i]−shift) (Cephes' expf polynomial). NaN stays NaN.
func ExpShift(dst, x []float32, shift float32) {
	expShift(dst, fit(x, len(dst)), shift)
}

// expShiftLo and expShiftHi are −126·ln2 and 127·ln2 (rounded up by 2e-6), where 2ⁿ with
// n = round(t/ln2) is still a normal, finite float32.
const (
	expShiftLo = -87.33654
	expShiftHi = 88.02969
)

func expShiftGeneric(dst, x []float32, shift float32) {
	for i, v := range x[:len(dst)] {
		// min and max return NaN for a NaN argument, so NaN propagates.
		dst[i] = Expf(min(max(v-shift, expShiftLo), expShiftHi))
	}
}

// The tanh-GELU constants: u = geluC·(x + geluA·x³).
const (
	geluC = 0.7978845608028654 // √(2/π)
	geluA = 0.044715
	// geluClamp bounds the x that enters u. Beyond ±10, σ(2u) is 0 or 1 to float32
	// precision (2|u| > 87), so the clamp changes nothing that matters: x·σ(2u) for
	// x < −10 comes out as x·1.2e-38 instead of the yet smaller exact value. It keeps x³
	// from overflowing (an Inf times s(1−s) = 0 would make the gradient NaN) and keeps the
	// exponential in the range the assembly handles without range checks.
	geluClamp = 10
)

func geluGeneric(dst, x []float32) {
	for i, v := range x[:len(dst)] {
		// Go's min and max return NaN for a NaN argument, so NaN propagates.
		xc := min(max(v, -geluClamp), geluClamp)
		u := geluC * (xc + geluA*xc*xc*xc)
		dst[i] = v / (1 + Expf(-2*u))
	}
}

// geluBackwardGeneric uses GELU′(x) = s + 2x·s(1−s)·u′(x) with s = σ(2u), the derivative
// of x·σ(2u), with x clamped as in geluGeneric (the second term is below 1e-35 there).
func geluBackwardGeneric(dst, g, x []float32) {
	for i, v := range x[:len(dst)] {
		xc := min(max(v, -geluClamp), geluClamp)
		u := geluC * (xc + geluA*xc*xc*xc)
		s := 1 / (1 + Expf(-2*u))
		du := geluC * (1 + 3*geluA*xc*xc)
		dst[i] += g[i] * (s + 2*xc*s*(1-s)*du)
	}
}

// Expf is e^x in float32 arithmetic, the one scalar exponential of the CPU kernels
// (softmax, cross-entropy, the activations), by Cephes' expf: x = n·ln2 + r with
// |r| ≤ ln2/2 and e^r from a degree-7 minimax polynomial, within 2 ulp of the exact
// value. The assembly evaluates the same polynomial, so the twins differ only by
// rounding (FMA and the clamping of very large |x|, where the GELU result no longer
// depends on the exponential).
// Results below float32's normal range flush to 0; above it they are +Inf.
func Expf(x float32) float32 {
	const (
		log2e = 1.44269504088896341
		// ln 2 split in two: n·ln2Hi is exact for the n that occur.
		ln2Hi = 0.693359375
		ln2Lo = -2.12194440e-4
		// Adding 1.5·2²³ rounds a float32 of magnitude below 2²² to an integer held in the
		// low mantissa bits.
		roundMagic = 12582912.0
	)
	switch {
	case x > 88.72283:
		return float32(math.Inf(1))
	case x < -87.33654:
		return 0
	case x != x:
		return x
	}
	kf := x*log2e + roundMagic
	n := int32(math.Float32bits(kf)) - int32(math.Float32bits(roundMagic))
	kf -= roundMagic
	r := x - kf*ln2Hi - kf*ln2Lo
	z := r * r
	p := ((((((1.9875691500e-4*r+1.3981999507e-3)*r+8.3334519073e-3)*r+4.1665795894e-2)*r+1.6666665459e-1)*r+5.0000001201e-1)*z + r + 1)
	// 2ⁿ built from its bits; −126 ≤ n ≤ 128 here, and 2¹²⁸ itself overflows, so the top
	// case goes in two steps.
	if n > 127 {
		return p * 2 * math.Float32frombits(uint32(n+126)<<23)
	}
	return p * math.Float32frombits(uint32(n+127)<<23)
}
