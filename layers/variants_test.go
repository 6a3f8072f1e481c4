package layers

import (
	"math"
	"testing"

	"github.com/hungry-ssm/hungry/autograd"
	"github.com/hungry-ssm/hungry/tensor"
)

// refS4DMixer follows the S4D mixer's formula in float64: output_linear(q ⊙ (K * v + D ⊙ v)).
func refS4DMixer(u []float64, b, l int, m *S4DMixer) []float64 {
	d := m.Dim
	q := refLinear(u, b*l, m.QProj)
	v := refLinear(u, b*l, m.VProj)
	y := refConv(v, b, l, d, refDiagKernel(m.Diag, l), l, f64(m.Diag.D))
	for i := range y {
		y[i] *= q[i]
	}
	return refLinear(y, b*l, m.OutputLinear)
}

// refShiftMixer follows the shift mixer's formula in float64:
// output_linear(q ⊙ (ShiftSSM(k) ⊙ v)), the shift kernel being Σⱼ B[j]·C[j+i].
func refShiftMixer(u []float64, b, l int, m *ShiftMixer) []float64 {
	d := m.Dim
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
	o := make([]float64, len(kt))
	for i := range o {
		o[i] = q[i] * kt[i] * v[i]
	}
	return refLinear(o, b*l, m.OutputLinear)
}

type variant struct {
	name string
	mod  Module
	fwd  func(g *autograd.Graph, u *autograd.Var) *autograd.Var
	ref  func(u []float64, b, l int) []float64
}

// newVariants builds both mixers of width d with perturbed parameters, so that biases,
// B and the skip terms all take part; the diagonal SSM's steps of 0.3 make its kernel
// parameters matter over a few positions.
func newVariants(t *testing.T, rng *tensor.RNG, d, dState int, disc tensor.Discretization) []variant {
	t.Helper()
	dev := tensor.DefaultCPU()
	s4d, err := NewS4DMixer(dev, rng, "s4d", d, dState, disc, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	perturb(rng, 0.1, s4d.Params()...)
	for i := range s4d.Diag.LogDt.Value.Data() {
		s4d.Diag.LogDt.Value.Data()[i] = float32(math.Log(0.3))
	}
	shift, err := NewShiftMixer(dev, rng, "shift", d, dState, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	perturb(rng, 0.1, shift.Params()...)
	return []variant{
		{"s4d", s4d, s4d.Forward, func(u []float64, b, l int) []float64 { return refS4DMixer(u, b, l, s4d) }},
		{"shift", shift, shift.Forward, func(u []float64, b, l int) []float64 { return refShiftMixer(u, b, l, shift) }},
	}
}

func TestVariantsAgainstReference(t *testing.T) {
	dev := tensor.DefaultCPU()
	rng := tensor.NewRNG(11)
	// Awkward sizes: one position, fewer positions than shift taps, and more.
	for _, sz := range []struct{ b, l, d, dState int }{{1, 1, 3, 4}, {2, 7, 5, 8}, {3, 31, 4, 6}} {
		for _, disc := range []tensor.Discretization{tensor.ZOH, tensor.Bilinear} {
			for _, v := range newVariants(t, rng, sz.d, sz.dState, disc) {
				u := autograd.Constant(tensor.RandNormal(dev, rng, 1, sz.b, sz.l, sz.d))
				y := v.fwd(autograd.NoGrad(), u)
				if got := y.Shape(); len(got) != 3 || got[0] != sz.b || got[1] != sz.l || got[2] != sz.d {
					t.Fatalf("%s %+v: output shape %v", v.name, sz, got)
				}
				if e := maxRelErr(y.Value.Data(), v.ref(f64(u), sz.b, sz.l)); e > forwardTol {
					t.Errorf("%s %+v %v: relative error %.3g", v.name, sz, disc, e)
				}
			}
		}
	}
}

func TestVariantsRejectBadSizes(t *testing.T) {
	dev := tensor.DefaultCPU()
	rng := tensor.NewRNG(1)
	if _, err := NewS4DMixer(dev, rng, "m", 4, 5, tensor.ZOH, 0.02); err == nil {
		t.Error("S4D mixer: odd d_state accepted")
	}
	if _, err := NewShiftMixer(dev, rng, "m", 0, 4, 0.02); err == nil {
		t.Error("shift mixer: zero width accepted")
	}
	m, _ := NewShiftMixer(dev, rng, "m", 4, 4, 0.02)
	err := tensor.Catch(func() { m.Forward(autograd.NoGrad(), autograd.Constant(dev.Zeros(1, 3, 5))) })
	if err == nil {
		t.Error("shift mixer: input of the wrong width accepted")
	}
}

// TestVariantGradients checks the large gradients (input, linear maps, skip terms) with
// CheckGrad's float32 losses, as TestLayerGradients does for H3.
func TestVariantGradients(t *testing.T) {
	dev := tensor.DefaultCPU()
	rng := tensor.NewRNG(12)
	for _, v := range newVariants(t, rng, 4, 6, tensor.ZOH) {
		var ps []*autograd.Var
		switch m := v.mod.(type) {
		case *S4DMixer:
			ps = append(ps, m.Diag.D)
			for _, l := range []*Linear{m.QProj, m.VProj, m.OutputLinear} {
				ps = append(ps, l.Params()...)
			}
		case *ShiftMixer:
			ps = append(ps, m.Shift.D)
			for _, l := range []*Linear{m.QProj, m.KProj, m.VProj, m.OutputLinear} {
				ps = append(ps, l.Params()...)
			}
		}
		x := autograd.NewParam("x", tensor.RandNormal(dev, rng, 1, 2, 5, 4))
		checkModuleGrad(t, v.name, paramList(ps), x, v.fwd)
	}
}

// TestVariantGradientsAgainstFloat64 checks every gradient, the SSM kernels' small ones
// included, against central differences of the float64 references (see
// TestH3GradientsAgainstFloat64 for the tolerance's reasoning).
func TestVariantGradientsAgainstFloat64(t *testing.T) {
	const tol, eps = 1e-3, 1e-3
	dev := tensor.DefaultCPU()
	rng := tensor.NewRNG(13)
	const b, l, d = 2, 9, 3
	for _, disc := range []tensor.Discretization{tensor.ZOH, tensor.Bilinear} {
		for _, v := range newVariants(t, rng, d, 6, disc) {
			x := autograd.NewParam("x", tensor.RandNormal(dev, rng, 1, b, l, d))
			proj := rng.Normal(b*l*d, 0, 1)
			g := autograd.NewGraph()
			y := v.fwd(g, x)
			if err := g.BackwardWith(y, dev.FromHost(proj, y.Shape()...)); err != nil {
				t.Fatal(err)
			}
			loss := func() float64 {
				s := 0.0
				for i, o := range v.ref(f64(x), b, l) {
					s += o * float64(proj[i])
				}
				return s
			}
			for _, p := range append([]*autograd.Var{x}, v.mod.Params()...) {
				data := p.Value.Data()
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
				if p.Grad == nil {
					t.Errorf("%s %v: no gradient for %s", v.name, disc, p.Name)
					continue
				}
				if e := maxRelErr(p.Grad.Host(), num); e > tol {
					t.Errorf("%s %v: gradient of %s: relative error %.3g", v.name, disc, p.Name, e)
				}
			}
		}
	}
}
