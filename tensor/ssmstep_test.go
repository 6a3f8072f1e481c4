package tensor

import (
	"math"
	"math/cmplx"
	"testing"
)

// randomRecurrence is an H3 recurrence around the S4D-Lin initialisation with random
// shift taps, every parameter nonzero.
func randomRecurrence(rng *RNG, dim, headDim, taps, modes int) *H3Recurrence {
	heads := dim / headDim
	p := randomDiagParams(rng, heads, modes)
	dA, w := DiagSSMDiscrete(p.logDt, p.invAReal, p.aImag, p.b, p.c, ZOH)
	u := func(n int) []float64 {
		out := make([]float64, n)
		for i := range out {
			out[i] = 2*rng.Float64() - 1
		}
		return out
	}
	return &H3Recurrence{Dim: dim, HeadDim: headDim, ShiftB: u(dim * taps), ShiftC: u(dim * taps), ShiftD: u(dim),
		DA: dA, W: w, Skip: u(heads)}
}

// h3Conv evaluates the H3 mixer's convolutional form in float64 straight from the
// kernels: k̃ = k * (Σₙ B[n]·C[n+i])ᵢ + D·k, z = k̃ ⊗ v per head, y = z * K + Skip·z with
// K[l] = 2·Re Σ W·dAˡ (powers by exp(l·log dA)), o = Σᵢ q·y. It returns o and, per
// output, the sum of the magnitudes of its terms.
func h3Conv(r *H3Recurrence, q, k, v []float32, batch, l int) (o, scale []float64) {
	d, n, m, dh, heads := r.Dim, r.Taps(), r.Modes(), r.HeadDim, r.Heads()
	kt := make([]float64, len(k))
	for b := 0; b < batch; b++ {
		for t := 0; t < l; t++ {
			for c := 0; c < d; c++ {
				acc := r.ShiftD[c] * float64(k[(b*l+t)*d+c])
				for i := 0; i <= t && i < n; i++ {
					tap := 0.0
					for j := 0; j+i < n; j++ {
						tap += r.ShiftB[c*n+j] * r.ShiftC[c*n+j+i]
					}
					acc += tap * float64(k[(b*l+t-i)*d+c])
				}
				kt[(b*l+t)*d+c] = acc
			}
		}
	}
	kern := make([]float64, heads*l)
	for h := 0; h < heads; h++ {
		for s := 0; s < l; s++ {
			acc := 0.0
			for mm := 0; mm < m; mm++ {
				pow := complex(1, 0) // dA⁰, also for dA = 0
				if s > 0 {
					pow = cmplx.Exp(complex(float64(s), 0) * cmplx.Log(r.DA[h*m+mm]))
				}
				acc += 2 * real(r.W[h*m+mm]*pow)
			}
			kern[h*l+s] = acc
		}
	}
	o, scale = make([]float64, len(q)), make([]float64, len(q))
	z := func(b, t, h, i, j int) float64 {
		return kt[(b*l+t)*d+h*dh+i] * float64(v[(b*l+t)*d+h*dh+j])
	}
	for b := 0; b < batch; b++ {
		for t := 0; t < l; t++ {
			for h := 0; h < heads; h++ {
				for j := 0; j < dh; j++ {
					for i := 0; i < dh; i++ {
						qi := float64(q[(b*l+t)*d+h*dh+i])
						y := r.Skip[h] * z(b, t, h, i, j)
						ys := math.Abs(y)
						for s := 0; s <= t; s++ {
							term := kern[h*l+s] * z(b, t-s, h, i, j)
							y += term
							ys += math.Abs(term)
						}
						o[(b*l+t)*d+h*dh+j] += qi * y
						scale[(b*l+t)*d+h*dh+j] += math.Abs(qi) * ys
					}
				}
			}
		}
	}
	return o, scale
}

// stepAll seeds a state with the first prefix positions (their k̃ from kShifted) and
// steps the rest, returning the outputs of the stepped positions (batch, L−prefix, d).
func stepAll(dev *CPU, r *H3Recurrence, q, k, kShifted, v []float32, batch, l, prefix int) []float32 {
	d := r.Dim
	st := dev.NewH3State(r, batch)
	rows := func(x []float32, lo, hi int) *Tensor {
		out := New(batch, hi-lo, d)
		for b := 0; b < batch; b++ {
			copy(out.data[b*(hi-lo)*d:], x[(b*l+lo)*d:(b*l+hi)*d])
		}
		return out
	}
	dev.H3Seed(st, rows(k, 0, prefix), rows(kShifted, 0, prefix), rows(v, 0, prefix))
	out := make([]float32, batch*(l-prefix)*d)
	o := New(batch, d)
	for t := prefix; t < l; t++ {
		dev.H3Step(st, o, rows(q, t, t+1), rows(k, t, t+1), rows(v, t, t+1))
		for b := 0; b < batch; b++ {
			copy(out[(b*(l-prefix)+t-prefix)*d:], o.data[b*d:(b+1)*d])
		}
	}
	return out
}

// TestH3StepMatchesConvolution checks the recurrent step, from a zero state and from
// states seeded at several points, against the convolutional form. Both are float64 up
// to the float32 output and the float32 sum over a head's rows: 1e-6 of the terms' size
// covers that with room.
func TestH3StepMatchesConvolution(t *testing.T) {
	const tol = 1e-6
	dev := NewCPU(2)
	overall := 0.0
	for _, c := range []struct{ batch, dim, headDim, taps, modes, l int }{
		{1, 1, 1, 1, 1, 5},
		{2, 3, 1, 4, 3, 13},
		{2, 6, 3, 7, 5, 9},
		{1, 8, 8, 64, 32, 70},
	} {
		r := randomRecurrence(NewRNG(uint64(c.dim)), c.dim, c.headDim, c.taps, c.modes)
		rng := NewRNG(5)
		n := c.batch * c.l * c.dim
		q, k, v := rng.Uniform(n, -1, 1), rng.Uniform(n, -1, 1), rng.Uniform(n, -1, 1)
		want, scale := h3Conv(r, q, k, v, c.batch, c.l)
		// k̃ for the seed, from the reference with q = v = 1 and a pass-through diagonal SSM.
		ones := make([]float32, n)
		for i := range ones {
			ones[i] = 1
		}
		pass := *r
		pass.HeadDim, pass.DA, pass.W, pass.Skip = 1, make([]complex128, c.dim), make([]complex128, c.dim), make([]float64, c.dim)
		for i := range pass.Skip {
			pass.Skip[i] = 1
		}
		kt64, _ := h3Conv(&pass, ones, k, ones, c.batch, c.l)
		kt := make([]float32, n)
		for i, x := range kt64 {
			kt[i] = float32(x)
		}
		for _, prefix := range []int{0, 1, c.l / 2, c.l - 1} {
			got := stepAll(dev, r, q, k, kt, v, c.batch, c.l, prefix)
			worst := 0.0
			for b := 0; b < c.batch; b++ {
				for tt := prefix; tt < c.l; tt++ {
					for ch := 0; ch < c.dim; ch++ {
						i := (b*c.l+tt)*c.dim + ch
						g := float64(got[(b*(c.l-prefix)+tt-prefix)*c.dim+ch])
						if e := math.Abs(g-want[i]) / scale[i]; !(e <= worst) {
							worst = e
						}
					}
				}
			}
			overall = math.Max(overall, worst)
			if !(worst <= tol) {
				t.Errorf("%+v after a prefix of %d: step differs from the convolution by %.3g of its terms > %g", c, prefix, worst, tol)
			}
		}
	}
	t.Logf("worst step-vs-convolution error %.2e of the terms' size", overall)
}

func TestH3StateRejectsMisuse(t *testing.T) {
	dev := DefaultCPU()
	r := randomRecurrence(NewRNG(1), 4, 2, 3, 2)
	for name, f := range map[string]func(){
		"empty batch":       func() { dev.NewH3State(r, 0) },
		"uneven heads":      func() { bad := *r; bad.HeadDim = 3; dev.NewH3State(&bad, 1) },
		"short shift D":     func() { bad := *r; bad.ShiftD = bad.ShiftD[:3]; dev.NewH3State(&bad, 1) },
		"W unlike dA":       func() { bad := *r; bad.W = bad.W[:1]; dev.NewH3State(&bad, 1) },
		"step of wrong key": func() { st := dev.NewH3State(r, 2); dev.H3Step(st, New(2, 4), New(2, 4), New(1, 4), New(2, 4)) },
		"seed of wrong batch": func() {
			st := dev.NewH3State(r, 2)
			dev.H3Seed(st, New(1, 3, 4), New(1, 3, 4), New(1, 3, 4))
		},
		"foreign state": func() { dev.H3Step(foreignState{r}, New(1, 4), New(1, 4), New(1, 4), New(1, 4)) },
	} {
		if err := Catch(f); err == nil {
			t.Errorf("%s: accepted", name)
		} else if _, ok := err.(*ShapeError); !ok {
			t.Errorf("%s: %v is not a shape error", name, err)
		}
	}
	if err := r.Check(); err != nil {
		t.Errorf("a valid recurrence: %v", err)
	}
	if r.Heads() != 2 || r.Taps() != 3 || r.Modes() != 2 {
		t.Errorf("heads %d, taps %d, modes %d; want 2, 3, 2", r.Heads(), r.Taps(), r.Modes())
	}
}

type foreignState struct{ r *H3Recurrence }

func (f foreignState) Batch() int                { return 1 }
func (f foreignState) Recurrence() *H3Recurrence { return f.r }
