package layers

import (
	"math"
	"math/cmplx"
	"slices"
	"testing"

	"github.com/hungry-ssm/hungry/autograd"
	"github.com/hungry-ssm/hungry/tensor"
)

// The references below are plain float64 loops written from the formulas of the official
// code, independent of the ops the layers are built from.

func f64(v *autograd.Var) []float64 {
	d := v.Value.Host()
	out := make([]float64, len(d))
	for i, x := range d {
		out[i] = float64(x)
	}
	return out
}

// refLinear maps rows of x (n, in) by W (out, in) and b (out, or nil).
func refLinear(x []float64, n int, l *Linear) []float64 {
	w := f64(l.Weight)
	var b []float64
	if l.Bias != nil {
		b = f64(l.Bias)
	}
	y := make([]float64, n*l.Out)
	for r := 0; r < n; r++ {
		for o := 0; o < l.Out; o++ {
			s := 0.0
			if b != nil {
				s = b[o]
			}
			for i := 0; i < l.In; i++ {
				s += x[r*l.In+i] * w[o*l.In+i]
			}
			y[r*l.Out+o] = s
		}
	}
	return y
}

// refAttention is causal multi-head attention over x (B, L, d) with the Wqkv output read
// as (three, heads, head_dim).
func refAttention(x []float64, b, l int, a *Attention) []float64 {
	d, nh := a.Dim, a.Heads
	hd := d / nh
	qkv := refLinear(x, b*l, a.Wqkv)
	at := func(bi, t, which, h, e int) float64 { return qkv[(bi*l+t)*3*d+which*d+h*hd+e] }
	ctx := make([]float64, b*l*d)
	for bi := 0; bi < b; bi++ {
		for h := 0; h < nh; h++ {
			for t := 0; t < l; t++ {
				scores := make([]float64, t+1)
				mx := math.Inf(-1)
				for s := 0; s <= t; s++ {
					dot := 0.0
					for e := 0; e < hd; e++ {
						dot += at(bi, t, 0, h, e) * at(bi, s, 1, h, e)
					}
					scores[s] = dot / math.Sqrt(float64(hd))
					mx = math.Max(mx, scores[s])
				}
				z := 0.0
				for s := range scores {
					scores[s] = math.Exp(scores[s] - mx)
					z += scores[s]
				}
				for e := 0; e < hd; e++ {
					v := 0.0
					for s := range scores {
						v += scores[s] / z * at(bi, s, 2, h, e)
					}
					ctx[(bi*l+t)*d+h*hd+e] = v
				}
			}
		}
	}
	return refLinear(ctx, b*l, a.OutProj)
}

// refDiagKernel evaluates K[h,l] = 2·Re Σ B·C·dB·dAˡ with powers exp(l·log dA).
func refDiagKernel(s *DiagSSM, length int) []float64 {
	logDt, invA, aIm, bp, cp := f64(s.LogDt), f64(s.InvAReal), f64(s.AImag), f64(s.B), f64(s.C)
	h, m := s.InvAReal.Shape()[0], s.InvAReal.Shape()[1]
	k := make([]float64, h*length)
	for hh := 0; hh < h; hh++ {
		dt := math.Exp(logDt[hh])
		for n := 0; n < m; n++ {
			i := hh*m + n
			a := complex(-math.Exp(invA[i]), aIm[i])
			x := complex(dt, 0) * a
			var dA, dB complex128
			if s.Disc == tensor.ZOH {
				dA, dB = cmplx.Exp(x), (cmplx.Exp(x)-1)/a
			} else {
				dA, dB = (1+x/2)/(1-x/2), complex(dt, 0)/(1-x/2)
			}
			w := complex(bp[2*i], bp[2*i+1]) * complex(cp[2*i], cp[2*i+1]) * dB
			for t := 0; t < length; t++ {
				k[hh*length+t] += 2 * real(w*cmplx.Exp(complex(float64(t), 0)*cmplx.Log(dA)))
			}
		}
	}
	return k
}

// refConv is y[b,t,c] = Σ_s k[c,s]·u[b,t−s,c] + d[c]·u[b,t,c] over channels-last u.
func refConv(u []float64, b, l, ch int, k []float64, lk int, d []float64) []float64 {
	y := make([]float64, len(u))
	for bi := 0; bi < b; bi++ {
		for t := 0; t < l; t++ {
			for c := 0; c < ch; c++ {
				s := d[c] * u[(bi*l+t)*ch+c]
				for j := 0; j < lk && j <= t; j++ {
					s += k[c*lk+j] * u[(bi*l+t-j)*ch+c]
				}
				y[(bi*l+t)*ch+c] = s
			}
		}
	}
	return y
}

// refH3 follows h3.py: shift SSM on k, per-head outer product with v, diagonal SSM, sum
// against q with output channels ordered (h j), output_linear.
func refH3(u []float64, b, l int, m *H3) []float64 {
	d, dh := m.Dim, m.HeadDim
	heads := d / dh
	q := refLinear(u, b*l, m.QProj)
	k := refLinear(u, b*l, m.KProj)
	v := refLinear(u, b*l, m.VProj)
	bs, cs := f64(m.Shift.B), f64(m.Shift.C)
	n := m.Shift.B.Shape()[1]
	lk := min(n, l)
	ks := make([]float64, d*lk)
	for c := 0; c < d; c++ {
		for i := 0; i < lk; i++ {
			for j := 0; j+i < n; j++ {
				ks[c*lk+i] += bs[c*n+j] * cs[c*n+j+i]
			}
		}
	}
	kt := refConv(k, b, l, d, ks, lk, f64(m.Shift.D))
	kd := refDiagKernel(m.Diag, l)
	dd := f64(m.Diag.D)
	o := make([]float64, b*l*d)
	for h := 0; h < heads; h++ {
		for i := 0; i < dh; i++ {
			for j := 0; j < dh; j++ {
				z := make([]float64, b*l)
				for r := range z {
					z[r] = kt[r*d+h*dh+i] * v[r*d+h*dh+j]
				}
				y := refConv(z, b, l, 1, kd[h*l:(h+1)*l], l, dd[h:h+1])
				for r := range z {
					o[r*d+h*dh+j] += q[r*d+h*dh+i] * y[r]
				}
			}
		}
	}
	return refLinear(o, b*l, m.OutputLinear)
}

func maxRelErr(got []float32, want []float64) float64 {
	scale, e := 0.0, 0.0
	for i := range want {
		scale = math.Max(scale, math.Abs(want[i]))
		e = math.Max(e, math.Abs(float64(got[i])-want[i]))
	}
	if scale == 0 {
		return e
	}
	return e / scale
}

// perturb moves every parameter away from its structured initial value (B = e₁, zero
// biases, unit norms) so that the comparisons exercise every term.
func perturb(rng *tensor.RNG, scale float32, ps ...*autograd.Var) {
	for _, p := range ps {
		d := p.Value.Data()
		for i := range d {
			d[i] += scale * float32(rng.NormFloat64())
		}
	}
}

// forwardTol bounds float32 layers against float64 references relative to the output's
// largest entry: sums of a few dozen float32 products plus an FFT convolution stay
// below 1e-5.
const forwardTol = 2e-5

func TestLinearAndMLPAgainstReference(t *testing.T) {
	dev := tensor.DefaultCPU()
	rng := tensor.NewRNG(1)
	for _, bias := range []bool{true, false} {
		l := NewLinear(dev, rng, "lin", 7, 5, bias, 0.5)
		perturb(rng, 0.3, l.Params()...)
		x := tensor.RandNormal(dev, rng, 1, 2, 3, 7)
		y := l.Forward(autograd.NoGrad(), autograd.Constant(x))
		if got := y.Shape(); !tensor.SameShape(got, []int{2, 3, 5}) {
			t.Fatalf("shape %v", got)
		}
		want := refLinear(f64(autograd.Constant(x)), 6, l)
		if e := maxRelErr(y.Value.Data(), want); e > forwardTol {
			t.Errorf("bias %v: relative error %.3g", bias, e)
		}
	}
	m := NewMLP(dev, rng, "mlp", 6, 10, 0.5, 0.5)
	perturb(rng, 0.3, m.Params()...)
	x := tensor.RandNormal(dev, rng, 1, 4, 6)
	y := m.Forward(autograd.NoGrad(), autograd.Constant(x))
	h := refLinear(f64(autograd.Constant(x)), 4, m.FC1)
	for i, v := range h {
		h[i] = 0.5 * v * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(v+0.044715*v*v*v)))
	}
	if e := maxRelErr(y.Value.Data(), refLinear(h, 4, m.FC2)); e > forwardTol {
		t.Errorf("MLP: relative error %.3g", e)
	}
}

func TestAttentionAgainstReference(t *testing.T) {
	dev := tensor.DefaultCPU()
	rng := tensor.NewRNG(2)
	for _, sz := range []struct{ b, l, d, heads int }{{1, 1, 4, 1}, {2, 7, 12, 3}, {3, 5, 8, 8}} {
		a, err := NewAttention(dev, rng, "attn", sz.d, sz.heads, 0.5, 0.5)
		if err != nil {
			t.Fatal(err)
		}
		perturb(rng, 0.1, a.Params()...)
		x := autograd.Constant(tensor.RandNormal(dev, rng, 1, sz.b, sz.l, sz.d))
		y := a.Forward(autograd.NoGrad(), x)
		if e := maxRelErr(y.Value.Data(), refAttention(f64(x), sz.b, sz.l, a)); e > forwardTol {
			t.Errorf("%+v: relative error %.3g", sz, e)
		}
	}
	if _, err := NewAttention(dev, rng, "attn", 10, 3, 0.02, 0.02); err == nil {
		t.Error("10 channels over 3 heads was accepted")
	}
}

func TestH3AgainstReference(t *testing.T) {
	dev := tensor.DefaultCPU()
	rng := tensor.NewRNG(3)
	for _, sz := range []struct{ b, l, d, dh, n int }{
		{1, 1, 1, 1, 2}, {2, 7, 6, 1, 8}, {2, 31, 8, 2, 16}, {1, 70, 8, 4, 64}, {2, 5, 16, 8, 4},
	} {
		for _, disc := range []tensor.Discretization{tensor.ZOH, tensor.Bilinear} {
			m, err := NewH3(dev, rng, "h3", H3Config{Dim: sz.d, DState: sz.n, HeadDim: sz.dh, Disc: disc}, 0.5)
			if err != nil {
				t.Fatal(err)
			}
			perturb(rng, 0.1, m.Params()...)
			u := autograd.Constant(tensor.RandNormal(dev, rng, 1, sz.b, sz.l, sz.d))
			y := m.Forward(autograd.NoGrad(), u)
			if e := maxRelErr(y.Value.Data(), refH3(f64(u), sz.b, sz.l, m)); e > forwardTol {
				t.Errorf("%+v %v: relative error %.3g", sz, disc, e)
			}
		}
	}
}

func checkModuleGrad(t *testing.T, name string, mod Module, x *autograd.Var, fwd func(g *autograd.Graph, x *autograd.Var) *autograd.Var) {
	t.Helper()
	inputs := append([]*autograd.Var{x}, mod.Params()...)
	err := autograd.CheckGrad(func(g *autograd.Graph, in []*autograd.Var) *autograd.Var {
		return fwd(g, in[0])
	}, inputs, autograd.GradCheckOptions{MaxPerInput: 16})
	if err != nil {
		t.Errorf("%s: %v", name, err)
	}
}

func TestLayerGradients(t *testing.T) {
	dev := tensor.DefaultCPU()
	rng := tensor.NewRNG(4)
	input := func(shape ...int) *autograd.Var {
		return autograd.NewParam("x", tensor.RandNormal(dev, rng, 1, shape...))
	}
	l := NewLinear(dev, rng, "lin", 5, 3, true, 0.5)
	checkModuleGrad(t, "Linear", l, input(2, 5), l.Forward)
	m := NewMLP(dev, rng, "mlp", 4, 6, 0.5, 0.5)
	checkModuleGrad(t, "MLP", m, input(3, 4), m.Forward)
	a, _ := NewAttention(dev, rng, "attn", 6, 2, 0.5, 0.5)
	perturb(rng, 0.1, a.Params()...)
	checkModuleGrad(t, "Attention", a, input(2, 4, 6), a.Forward)
	// CheckGrad's float32 losses resolve the H3 layer's large gradients (input, linear maps,
	// skip terms); the small ones of the SSM kernels are checked in float64 below.
	for _, dh := range []int{1, 2} {
		h, _ := NewH3(dev, rng, "h3", H3Config{Dim: 4, DState: 6, HeadDim: dh, Disc: tensor.ZOH}, 0.5)
		perturb(rng, 0.1, h.Params()...)
		ps := []*autograd.Var{h.Shift.D, h.Diag.D}
		for _, l := range []*Linear{h.QProj, h.KProj, h.VProj, h.OutputLinear} {
			ps = append(ps, l.Params()...)
		}
		checkModuleGrad(t, "H3", paramList(ps), input(2, 5, 4), h.Forward)
	}
}

type paramList []*autograd.Var

func (p paramList) Params() []*autograd.Var { return p }

// TestH3GradientsAgainstFloat64 checks every gradient of the H3 layer against central
// differences of the float64 reference: CheckGrad's float32 losses are too noisy for the
// small gradients of the SSM parameters, while the float64 loss leaves only the O(eps²)
// truncation error (about 1e-6 relative with eps = 1e-3 here).
func TestH3GradientsAgainstFloat64(t *testing.T) {
	// The analytic gradients pass through float32 ops; 1e-3 of each tensor's largest
	// gradient is far above their rounding and far below any real mistake.
	const tol, eps = 1e-3, 1e-3
	dev := tensor.DefaultCPU()
	rng := tensor.NewRNG(5)
	const b, l, d = 2, 9, 4
	for _, dh := range []int{1, 2} {
		for _, disc := range []tensor.Discretization{tensor.ZOH, tensor.Bilinear} {
			h, err := NewH3(dev, rng, "h3", H3Config{Dim: d, DState: 6, HeadDim: dh, Disc: disc}, 0.5)
			if err != nil {
				t.Fatal(err)
			}
			perturb(rng, 0.1, h.Params()...)
			// Steps of 0.3 make the diagonal SSM's parameters matter over 9 positions.
			for i := range h.Diag.LogDt.Value.Data() {
				h.Diag.LogDt.Value.Data()[i] = float32(math.Log(0.3))
			}
			x := autograd.NewParam("x", tensor.RandNormal(dev, rng, 1, b, l, d))
			proj := rng.Normal(b*l*d, 0, 1)
			g := autograd.NewGraph()
			y := h.Forward(g, x)
			if err := g.BackwardWith(y, dev.FromHost(proj, y.Shape()...)); err != nil {
				t.Fatal(err)
			}
			loss := func() float64 {
				out := refH3(f64(x), b, l, h)
				s := 0.0
				for i, v := range out {
					s += v * float64(proj[i])
				}
				return s
			}
			for _, p := range append([]*autograd.Var{x}, h.Params()...) {
				data := p.Value.Data()
				ana := p.Grad.Host()
				num := make([]float64, len(data))
				for i := range data {
					orig := data[i]
					data[i] = orig + eps
					lp := loss()
					data[i] = orig - eps
					lm := loss()
					data[i] = orig
					num[i] = (lp - lm) / (float64(orig+eps) - float64(orig-eps))
				}
				if e := maxRelErr(ana, num); e > tol {
					t.Errorf("head_dim %d %v: gradient of %s: relative error %.3g", dh, disc, p.Name, e)
				}
			}
		}
	}
}

// TestAttentionDropout checks the training-mode attention: p = 0 is Forward exactly, a
// positive p changes the output reproducibly from the seed, and the gradient through a
// fixed mask (the same seed on every call) matches finite differences.
func TestAttentionDropout(t *testing.T) {
	dev := tensor.DefaultCPU()
	rng := tensor.NewRNG(8)
	a, _ := NewAttention(dev, rng, "attn", 6, 2, 0.5, 0.5)
	perturb(rng, 0.1, a.Params()...)
	x := autograd.Constant(tensor.RandNormal(dev, rng, 1, 2, 7, 6))
	g := autograd.NoGrad()
	plain := a.Forward(g, x).Value.Data()
	if got := a.ForwardTrain(g, x, tensor.NewRNG(1)).Value.Data(); !slices.Equal(got, plain) {
		t.Error("dropout 0 differs from Forward")
	}
	a.Dropout = 0.3
	d1 := a.ForwardTrain(g, x, tensor.NewRNG(1)).Value.Data()
	d2 := a.ForwardTrain(g, x, tensor.NewRNG(1)).Value.Data()
	if !slices.Equal(d1, d2) {
		t.Error("attention dropout is not reproducible from its seed")
	}
	if slices.Equal(d1, plain) {
		t.Error("attention dropout 0.3 left the output unchanged")
	}
	checkModuleGrad(t, "Attention dropout", a, autograd.NewParam("x", tensor.RandNormal(dev, rng, 1, 2, 4, 6)),
		func(g *autograd.Graph, x *autograd.Var) *autograd.Var {
			return a.ForwardTrain(g, x, tensor.NewRNG(2))
		})
}
