package tensor

import (
	"math"
	"math/cmplx"
	"testing"
)

// diagParams is a diagonal SSM drawn around the S4D-Lin initialisation, with every
// parameter perturbed so that no term of the gradient is trivially zero or one.
type diagParams struct {
	logDt, invAReal, aImag, b, c *Tensor
}

func randomDiagParams(rng *RNG, h, n int) diagParams {
	p := diagParams{
		logDt:    New(h),
		invAReal: New(h, n),
		aImag:    New(h, n),
		b:        New(h, n, 2),
		c:        New(1, h, n, 2),
	}
	for i := range p.logDt.data {
		p.logDt.data[i] = float32(math.Log(1e-3) + rng.Float64()*(math.Log(1e-1)-math.Log(1e-3)))
	}
	for hh := 0; hh < h; hh++ {
		for j := 0; j < n; j++ {
			i := hh*n + j
			p.invAReal.data[i] = float32(math.Log(0.5) + 0.3*rng.NormFloat64())
			p.aImag.data[i] = float32(math.Pi*float64(j) + 0.2*rng.NormFloat64())
			p.b.data[2*i] = float32(1 + 0.3*rng.NormFloat64())
			p.b.data[2*i+1] = float32(0.3 * rng.NormFloat64())
		}
	}
	for i := range p.c.data {
		p.c.data[i] = float32(rng.NormFloat64() / math.Sqrt2)
	}
	return p
}

// refDiagKernel evaluates K[h,l] = 2·Re Σ C·B·dB·dAˡ in float64 straight from the
// definitions, with the powers taken as exp(l·log dA) instead of by repeated products.
func refDiagKernel(logDt, invAReal, aImag, b, c []float64, h, n, L int, disc Discretization) []float64 {
	k := make([]float64, h*L)
	for hh := 0; hh < h; hh++ {
		dt := math.Exp(logDt[hh])
		for j := 0; j < n; j++ {
			i := hh*n + j
			a := complex(-math.Exp(invAReal[i]), aImag[i])
			x := complex(dt, 0) * a
			var dA, dB complex128
			if disc == ZOH {
				dA = cmplx.Exp(x)
				dB = (cmplx.Exp(x) - 1) / a
			} else {
				dA = (1 + x/2) / (1 - x/2)
				dB = complex(dt, 0) / (1 - x/2)
			}
			w := complex(b[2*i], b[2*i+1]) * complex(c[2*i], c[2*i+1]) * dB
			logA := cmplx.Log(dA)
			for l := 0; l < L; l++ {
				k[hh*L+l] += 2 * real(w*cmplx.Exp(complex(float64(l), 0)*logA))
			}
		}
	}
	return k
}

func to64(x []float32) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = float64(v)
	}
	return out
}

func maxAbs64(x []float64) float64 {
	m := 0.0
	for _, v := range x {
		m = math.Max(m, math.Abs(v))
	}
	return m
}

// maxRelErr returns max|got − want| / max|want|: errors are judged against the tensor's
// scale because kernels pass through zero where a per-element ratio means nothing.
func maxRelErr(got []float32, want []float64) float64 {
	scale := maxAbs64(want)
	if scale == 0 {
		scale = 1
	}
	e := 0.0
	for i := range want {
		e = math.Max(e, math.Abs(float64(got[i])-want[i]))
	}
	return e / scale
}

func TestDiagSSMKernelAgainstReference(t *testing.T) {
	// Output is float32: a few ulps of the kernel's largest entry.
	const tol = 1e-6
	rng := NewRNG(11)
	dev := DefaultCPU()
	for _, sz := range []struct{ h, n, L int }{{1, 1, 1}, {3, 7, 31}, {2, 32, 1000}, {5, 3, 7}} {
		for _, disc := range []Discretization{ZOH, Bilinear} {
			p := randomDiagParams(rng, sz.h, sz.n)
			k := dev.Zeros(sz.h, sz.L)
			dev.DiagSSMKernel(k, p.logDt, p.invAReal, p.aImag, p.b, p.c, disc)
			want := refDiagKernel(to64(p.logDt.data), to64(p.invAReal.data), to64(p.aImag.data), to64(p.b.data), to64(p.c.data), sz.h, sz.n, sz.L, disc)
			if e := maxRelErr(k.data, want); e > tol {
				t.Errorf("H=%d N=%d L=%d %v: relative error %.3g > %g", sz.h, sz.n, sz.L, disc, e, tol)
			}
		}
	}
}

func TestDiagSSMKernelLongSequence(t *testing.T) {
	// At L = 8192 the repeated products must still match exp(l·log dA) to float32
	// precision; the slowest-decaying modes (dt = 1e-3) are the ones that reach that far.
	const tol = 1e-6
	rng := NewRNG(12)
	dev := DefaultCPU()
	const h, n, L = 2, 32, 8192
	p := randomDiagParams(rng, h, n)
	p.logDt.data[0] = float32(math.Log(1e-3))
	for _, disc := range []Discretization{ZOH, Bilinear} {
		k := dev.Zeros(h, L)
		dev.DiagSSMKernel(k, p.logDt, p.invAReal, p.aImag, p.b, p.c, disc)
		want := refDiagKernel(to64(p.logDt.data), to64(p.invAReal.data), to64(p.aImag.data), to64(p.b.data), to64(p.c.data), h, n, L, disc)
		// The tail is what accumulates error, so judge it against its own scale.
		for hh := 0; hh < h; hh++ {
			tail := want[hh*L+L-1024 : hh*L+L]
			if e := maxRelErr(k.data[hh*L+L-1024:hh*L+L], tail); e > 1e-5 {
				t.Errorf("%v head %d: tail relative error %.3g", disc, hh, e)
			}
		}
		if e := maxRelErr(k.data, want); e > tol {
			t.Errorf("%v: relative error %.3g > %g", disc, e, tol)
		}
	}
}

// numericGrad returns the central-difference gradient of f with respect to every element
// of x, in float64 (step 1e-6 gives about 1e-9 relative accuracy for these smooth maps).
func numericGrad(x []float64, f func() float64) []float64 {
	const eps = 1e-6
	g := make([]float64, len(x))
	for i := range x {
		orig := x[i]
		x[i] = orig + eps
		lp := f()
		x[i] = orig - eps
		lm := f()
		x[i] = orig
		g[i] = (lp - lm) / (2 * eps)
	}
	return g
}

func TestDiagSSMKernelBackward(t *testing.T) {
	// The analytic gradient is accumulated in float64 and stored in float32; the numeric
	// one is float64 with ~1e-9 error, so 1e-5 of each gradient's scale is generous.
	const tol = 1e-5
	rng := NewRNG(13)
	dev := DefaultCPU()
	for _, sz := range []struct{ h, n, L int }{{1, 1, 1}, {2, 3, 7}, {3, 5, 64}} {
		for _, disc := range []Discretization{ZOH, Bilinear} {
			p := randomDiagParams(rng, sz.h, sz.n)
			dk := RandNormal(dev, rng, 1, sz.h, sz.L)
			grads := []*Tensor{New(sz.h), New(sz.h, sz.n), New(sz.h, sz.n), New(sz.h, sz.n, 2), New(1, sz.h, sz.n, 2)}
			dev.DiagSSMKernelBackward(dk, p.logDt, p.invAReal, p.aImag, p.b, p.c, disc,
				grads[0], grads[1], grads[2], grads[3], grads[4])

			params := [][]float64{to64(p.logDt.data), to64(p.invAReal.data), to64(p.aImag.data), to64(p.b.data), to64(p.c.data)}
			dk64 := to64(dk.data)
			loss := func() float64 {
				k := refDiagKernel(params[0], params[1], params[2], params[3], params[4], sz.h, sz.n, sz.L, disc)
				s := 0.0
				for i := range k {
					s += k[i] * dk64[i]
				}
				return s
			}
			names := []string{"log_dt", "inv_A_real", "A_imag", "B", "C"}
			for pi, x := range params {
				want := numericGrad(x, loss)
				if e := maxRelErr(grads[pi].data, want); e > tol {
					t.Errorf("H=%d N=%d L=%d %v: gradient of %s: relative error %.3g", sz.h, sz.n, sz.L, disc, names[pi], e)
				}
			}
		}
	}
}

func TestDiagSSMKernelSmallStepSeries(t *testing.T) {
	// The zoh factor (e^{dtA} − 1)/A switches to its Taylor series for |dt·A| < 1e-2; the
	// two branches must agree on both sides of the switch.
	for _, r := range []float64{0.5e-2, 0.999e-2, 1.001e-2, 2e-2} {
		for _, ang := range []float64{0, 1, 2.5} {
			x := cmplx.Rect(r, ang)
			v, dv := phi1(x)
			e := cmplx.Exp(x)
			wantV := (e - 1) / x
			wantDv := (x*e - e + 1) / (x * x)
			// The closed forms lose about 1e-16/|x|² here, so 1e-11 is their own noise.
			if cmplx.Abs(v-wantV) > 1e-11 || cmplx.Abs(dv-wantDv) > 1e-11 {
				t.Errorf("x=%v: series (%v, %v) vs closed form (%v, %v)", x, v, dv, wantV, wantDv)
			}
		}
	}
}

// refShiftKernel runs the shift SSM as a recurrence, s ← shift_right(s) + B·u, y = C·s,
// on a unit impulse: its outputs are the kernel taps, independent of the correlation
// formula the device uses.
func refShiftKernel(b, c []float64, h, n, lk int) []float64 {
	k := make([]float64, h*lk)
	for hh := 0; hh < h; hh++ {
		s := make([]float64, n)
		for t := 0; t < lk; t++ {
			copy(s[1:], s[:n-1])
			s[0] = 0
			if t == 0 {
				for j := range s {
					s[j] += b[hh*n+j]
				}
			}
			y := 0.0
			for j := range s {
				y += c[hh*n+j] * s[j]
			}
			k[hh*lk+t] = y
		}
	}
	return k
}

func TestShiftSSMKernel(t *testing.T) {
	const tol = 1e-6 // float32 output of a float64 sum
	rng := NewRNG(14)
	dev := DefaultCPU()
	for _, sz := range []struct{ h, n, lk int }{{1, 1, 1}, {3, 7, 7}, {5, 64, 64}, {2, 64, 31}} {
		b := RandNormal(dev, rng, 1, sz.h, sz.n)
		c := RandUniform(dev, rng, -0.125, 0.125, 1, sz.h, sz.n)
		k := dev.Zeros(sz.h, sz.lk)
		dev.ShiftSSMKernel(k, b, c)
		want := refShiftKernel(to64(b.data), to64(c.data), sz.h, sz.n, sz.lk)
		if e := maxRelErr(k.data, want); e > tol {
			t.Errorf("%v: relative error %.3g", sz, e)
		}

		dk := RandNormal(dev, rng, 1, sz.h, sz.lk)
		db, dc := New(sz.h, sz.n), New(1, sz.h, sz.n)
		dev.ShiftSSMKernelBackward(dk, b, c, db, dc)
		b64, c64, dk64 := to64(b.data), to64(c.data), to64(dk.data)
		loss := func() float64 {
			k := refShiftKernel(b64, c64, sz.h, sz.n, sz.lk)
			s := 0.0
			for i := range k {
				s += k[i] * dk64[i]
			}
			return s
		}
		for name, pair := range map[string]struct {
			got *Tensor
			x   []float64
		}{"B": {db, b64}, "C": {dc, c64}} {
			if e := maxRelErr(pair.got.data, numericGrad(pair.x, loss)); e > 1e-5 {
				t.Errorf("%v: gradient of %s: relative error %.3g", sz, name, e)
			}
		}
	}
}

func TestSSMKernelShapeErrors(t *testing.T) {
	dev := DefaultCPU()
	p := randomDiagParams(NewRNG(1), 2, 3)
	err := Catch(func() { dev.DiagSSMKernel(New(3, 5), p.logDt, p.invAReal, p.aImag, p.b, p.c, ZOH) })
	if err == nil {
		t.Error("a kernel with the wrong number of heads was accepted")
	}
	err = Catch(func() { dev.DiagSSMKernel(New(2, 5), p.logDt, p.invAReal, p.aImag, New(2, 3), p.c, ZOH) })
	if err == nil {
		t.Error("B without its real/imaginary axis was accepted")
	}
	err = Catch(func() { dev.ShiftSSMKernel(New(2, 9), New(2, 8), New(2, 8)) })
	if err == nil {
		t.Error("a shift kernel longer than its state was accepted")
	}
	if _, err := ParseDiscretization("euler"); err == nil {
		t.Error("an unknown discretization was accepted")
	}
	for _, d := range []Discretization{ZOH, Bilinear} {
		if got, err := ParseDiscretization(d.String()); err != nil || got != d {
			t.Errorf("%v does not round-trip: %v, %v", d, got, err)
		}
	}
}

func TestDiagSSMDiscreteMatchesKernel(t *testing.T) {
	// Running the recurrence on an impulse must reproduce the convolution kernel.
	rng := NewRNG(15)
	dev := DefaultCPU()
	const h, n, L = 3, 5, 200
	for _, disc := range []Discretization{ZOH, Bilinear} {
		p := randomDiagParams(rng, h, n)
		dA, w := DiagSSMDiscrete(p.logDt, p.invAReal, p.aImag, p.b, p.c, disc)
		k := dev.Zeros(h, L)
		dev.DiagSSMKernel(k, p.logDt, p.invAReal, p.aImag, p.b, p.c, disc)
		want := make([]float64, h*L)
		for hh := 0; hh < h; hh++ {
			x := make([]complex128, n)
			for l := 0; l < L; l++ {
				y := 0.0
				for j := range x {
					x[j] *= dA[hh*n+j]
					if l == 0 {
						x[j] += 1
					}
					y += 2 * real(w[hh*n+j]*x[j])
				}
				want[hh*L+l] = y
			}
		}
		if e := maxRelErr(k.data, want); e > 1e-6 {
			t.Errorf("%v: kernel and recurrence differ by %.3g", disc, e)
		}
	}
}

// BenchmarkDiagSSMKernel generates the kernel of one 125M-model layer (768 heads, 32
// modes, L = 2048) and its gradient.
func BenchmarkDiagSSMKernel(b *testing.B) {
	const h, n, L = 768, 32, 2048
	dev := DefaultCPU()
	p := randomDiagParams(NewRNG(1), h, n)
	k := dev.Zeros(h, L)
	dk := RandNormal(dev, NewRNG(2), 1, h, L)
	grads := []*Tensor{New(h), New(h, n), New(h, n), New(h, n, 2), New(1, h, n, 2)}
	b.Run("forward", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			dev.DiagSSMKernel(k, p.logDt, p.invAReal, p.aImag, p.b, p.c, ZOH)
		}
	})
	b.Run("backward", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			dev.DiagSSMKernelBackward(dk, p.logDt, p.invAReal, p.aImag, p.b, p.c, ZOH, grads[0], grads[1], grads[2], grads[3], grads[4])
		}
	})
}
