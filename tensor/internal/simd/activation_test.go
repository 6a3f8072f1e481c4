package simd

import (
	"math"
	"math/rand/v2"
	"testing"
)

// geluImpl is one implementation of the activation kernels under test, over whole slices.
type geluImpl struct {
	name     string
	gelu     func(dst, x []float32)
	backward func(dst, g, x []float32)
	expShift func(dst, x []float32, shift float32)
}

var geluGenericImpl = geluImpl{name: "generic", gelu: geluGeneric, backward: geluBackwardGeneric, expShift: expShiftGeneric}

// gelu64 returns the tanh-GELU and its derivative in float64, the reference. It uses
// 0.5(1+tanh u) = σ(2u) = 1/(1+e^(−2u)) and 1−σ(2u) = e^(−2u)/(1+e^(−2u)), as 1+tanh u
// would cancel down to float64's last bits in the negative tail.
func gelu64(x float64) (y, dy float64) {
	u := geluC * (x + geluA*x*x*x)
	e := math.Exp(-2 * u)
	s, oneMinusS := 1/(1+e), e/(1+e)
	if math.IsInf(e, 1) {
		s, oneMinusS = 0, 1
	}
	return x * s, s + 2*x*s*oneMinusS*geluC*(1+3*geluA*x*x)
}

// geluTol bounds the float32 error of x/(1+e^(−2u)) at one point, relative to the size of
// the terms. u carries a few roundings (relative error ≈3u_r), and the logistic's relative
// sensitivity to u is 2|u|(1−σ) ≤ 2|u|, so its error grows like 6|u|·u_r; expf adds 2 ulp
// and the division and the derivative's products a few more: 16 + 8|u| units of roundoff
// covers both the plain and the fused (assembly) evaluation with a margin. The absolute
// 1e-30 allows for the assembly's clamp of e^t at 2¹²⁷, where x/(1+e^t) is below 1e-37
// instead of the exact, even smaller, value.
func geluTol(x float64, mag float64) float64 {
	u := math.Abs(geluC * (x + geluA*x*x*x))
	return (16+8*min(u, 100))*unitRoundoff*mag + 1e-30
}

// activationInputs returns off guard values, n inputs spread over the range where GELU
// bends (|x| < 6, mostly) with some far into both tails, then 8 guard values; never zero.
func activationInputs(rng *rand.Rand, off, n int) []float32 {
	s := make([]float32, off+n+8)
	for i := range s {
		s[i] = guard
	}
	for i := off; i < off+n; i++ {
		v := float32(0.01 + 6*rng.Float64())
		if rng.IntN(10) == 0 {
			v *= 10
		}
		if rng.IntN(2) == 0 {
			v = -v
		}
		s[i] = v
	}
	return s
}

func TestGELUMatchesFloat64(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, im := range geluImplementations() {
		for _, off := range []int{0, 1, 3, 5} {
			for n := 0; n <= 300; n++ {
				xs := activationInputs(rng, off, n)
				ds := activationInputs(rng, off, n) // dst of the forward; overwritten
				gs := activationInputs(rng, off, n)
				as := activationInputs(rng, off, n) // gradient accumulated into
				x, g := xs[off:off+n], gs[off:off+n]
				before := append([]float32(nil), as[off:off+n]...)

				im.gelu(ds[off:off+n], x)
				checkGuards(t, im.name+" gelu", ds, off, n)
				for i, v := range x {
					want, _ := gelu64(float64(v))
					if got := float64(ds[off+i]); math.Abs(got-want) > geluTol(float64(v), math.Abs(want)) {
						t.Fatalf("%s gelu n=%d off=%d x=%v: got %v, want %v", im.name, n, off, v, got, want)
					}
				}

				im.backward(as[off:off+n], g, x)
				checkGuards(t, im.name+" gelu backward", as, off, n)
				for i, v := range x {
					x64 := float64(v)
					_, dy := gelu64(x64)
					want := float64(before[i]) + float64(g[i])*dy
					// The derivative is s + (a term that cancels it near x ≈ −0.75); its
					// error scales with the terms' size, 1 + |x|·(2√(2/π) + 6√(2/π)·0.044715x²)/4
					// bounds it. The accumulation adds one rounding of the result.
					terms := 1 + math.Abs(x64)*geluC*(2+6*geluA*x64*x64)/4
					tol := geluTol(x64, terms*math.Abs(float64(g[i]))) + 2*unitRoundoff*(math.Abs(want)+math.Abs(float64(before[i])))
					if got := float64(as[off+i]); math.Abs(got-want) > tol {
						t.Fatalf("%s gelu backward n=%d off=%d x=%v g=%v: got %v, want %v ± %g", im.name, n, off, v, g[i], got, want, tol)
					}
				}
			}
		}
	}
}

func TestExpShiftMatchesFloat64(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for _, im := range geluImplementations() {
		for _, off := range []int{0, 1, 3, 5} {
			for n := 0; n <= 300; n++ {
				s := make([]float32, off+n+8)
				for i := range s {
					s[i] = guard
				}
				// Logits around a shift: exponents from about −100 (past the clamp) to 4.
				shift := float32(rng.NormFloat64() * 5)
				for i := off; i < off+n; i++ {
					s[i] = shift + float32(4-104*rng.Float64()*rng.Float64())
				}
				d := append([]float32(nil), s...)
				im.expShift(d[off:off+n], s[off:off+n], shift)
				checkGuards(t, im.name+" expShift", d, off, n)
				for i := off; i < off+n; i++ {
					// The reference starts from the float32 exponent both kernels see, so the
					// tolerance is expf's 2 ulp plus one rounding of the scaling and the FMA
					// differences: 4 units of roundoff. Below the clamp the result is 2⁻¹²⁶.
					e := float64(s[i] - shift)
					want := math.Exp(max(e, expShiftLo))
					if got := float64(d[i]); math.Abs(got-want) > 4*unitRoundoff*want {
						t.Fatalf("%s expShift n=%d off=%d: e^(%v) = %v, want %v", im.name, n, off, e, got, want)
					}
				}
			}
		}
	}
}

func TestExpShiftEdges(t *testing.T) {
	// Past the clamp the results are e^(−87.33654) and e^(88.02969), the float32 bounds.
	x := []float32{0, -87.3, -87.4, -1000, 88, 89, 1000, float32(math.NaN()), 1, 2, 3, 4, 5, 6, 7, 8, -0.5}
	want := make([]float64, len(x))
	for i, v := range x {
		want[i] = math.Exp(min(max(float64(v), float64(float32(expShiftLo))), float64(float32(expShiftHi))))
	}
	for _, im := range geluImplementations() {
		d := make([]float32, len(x))
		im.expShift(d, x, 0)
		for i := range x {
			got := float64(d[i])
			if math.IsNaN(want[i]) != math.IsNaN(got) || math.Abs(got-want[i]) > 4*unitRoundoff*want[i] {
				t.Errorf("%s: e^%v = %v, want %v", im.name, x[i], got, want[i])
			}
		}
	}
	mustPanic(t, "ExpShift with a short x", func() { ExpShift(make([]float32, 9), make([]float32, 8), 0) })
}

func TestGELUSpecialValues(t *testing.T) {
	xs := []float32{0, 1e-30, -1e-30, 40, -40, 100, -100, 1e20, -1e20, float32(math.NaN())}
	for _, im := range geluImplementations() {
		// Pad to two whole vectors and a tail, so the assembly and the Go tail both see each value.
		x := make([]float32, 0, 3*len(xs))
		for range 3 {
			x = append(x, xs...)
		}
		y := make([]float32, len(x))
		d := make([]float32, len(x))
		g := make([]float32, len(x))
		for i := range g {
			g[i] = 1
		}
		im.gelu(y, x)
		im.backward(d, g, x)
		for i, v := range x {
			want, dwant := gelu64(float64(v))
			switch {
			case v != v:
				if y[i] == y[i] || d[i] == d[i] {
					t.Errorf("%s: GELU(NaN) = %v, gradient %v; want NaN for both", im.name, y[i], d[i])
				}
				continue
			case v < -10:
				// The clamp documented at geluClamp: x·σ(2u) becomes x·σ(2u(−10)) ≈ x·1.2e-38.
				atClamp, _ := gelu64(-geluClamp)
				want = float64(v) * atClamp / -geluClamp
			}
			if math.IsNaN(float64(y[i])) || math.IsNaN(float64(d[i])) {
				t.Errorf("%s: GELU(%v) = %v, gradient %v; want numbers", im.name, v, y[i], d[i])
			}
			if math.Abs(float64(y[i])-want) > geluTol(float64(v), math.Abs(want)) {
				t.Errorf("%s: GELU(%v) = %v, want %v", im.name, v, y[i], want)
			}
			if math.Abs(float64(d[i])-dwant) > 1e-6 {
				t.Errorf("%s: GELU'(%v) = %v, want %v", im.name, v, d[i], dwant)
			}
		}
	}
}

func TestGELUInPlaceAndAPI(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	x := activationInputs(rng, 0, 37)[:37]
	want := make([]float32, len(x))
	GELU(want, x)
	GELU(x, x)
	for i := range x {
		if x[i] != want[i] {
			t.Fatalf("in place: element %d is %v, want %v", i, x[i], want[i])
		}
	}
	mustPanic(t, "GELU with a short x", func() { GELU(make([]float32, 9), make([]float32, 8)) })
	mustPanic(t, "GELUBackward with a short g", func() {
		GELUBackward(make([]float32, 9), make([]float32, 8), make([]float32, 9))
	})
	mustPanic(t, "GELUBackward with a short x", func() {
		GELUBackward(make([]float32, 9), make([]float32, 9), make([]float32, 8))
	})
}

func mustPanic(t *testing.T, what string, fn func()) {
	t.Helper()
	defer func() {
		if recover() == nil {
			t.Errorf("%s: no panic", what)
		}
	}()
	fn()
}

func BenchmarkGELU(b *testing.B) {
	rng := rand.New(rand.NewPCG(7, 8))
	const n = 1 << 14
	x := activationInputs(rng, 0, n)[:n]
	g := activationInputs(rng, 0, n)[:n]
	dst := make([]float32, n)
	for _, im := range geluImplementations() {
		b.Run(im.name+"/forward", func(b *testing.B) {
			b.SetBytes(8 * n)
			for b.Loop() {
				im.gelu(dst, x)
			}
		})
		b.Run(im.name+"/backward", func(b *testing.B) {
			b.SetBytes(12 * n)
			for b.Loop() {
				clear(dst)
				im.backward(dst, g, x)
			}
		})
	}
}

func TestExpfAgainstMathExp(t *testing.T) {
	// A dense sweep of the normal range plus the edges; 2 ulp relative (2·2⁻²³) is the
	// Cephes polynomial's bound with a margin for the final scaling.
	check := func(x float32) {
		got, want := float64(Expf(x)), math.Exp(float64(x))
		if want < math.SmallestNonzeroFloat32*(1<<23) {
			// Below the normal range expf flushes to 0.
			if got > want*1.0001 {
				t.Fatalf("Expf(%v) = %v, want ≤ %v", x, got, want)
			}
			return
		}
		if math.Abs(got-want) > 2.5e-7*want {
			t.Fatalf("Expf(%v) = %v, want %v (relative error %.3g)", x, got, want, math.Abs(got-want)/want)
		}
	}
	for x := float32(-87.3); x < 88.7; x += 0.0137 {
		check(x)
	}
	for _, x := range []float32{0, 1e-8, -1e-8, 0.3465, -0.3466, 88.72, -87.33, 1, -1} {
		check(x)
	}
	if !math.IsInf(float64(Expf(89)), 1) || Expf(-88) != 0 || !math.IsNaN(float64(Expf(float32(math.NaN())))) {
		t.Fatal("edge cases: want +Inf above, 0 below, NaN for NaN")
	}
}
