package layers

import (
	"fmt"
	"math"
	"testing"

	"github.com/hungry-ssm/hungry/autograd"
	"github.com/hungry-ssm/hungry/tensor"
)

// stepTol bounds a mixer's recurrent outputs against its convolutional ones, relative to
// the largest output: the convolution rounds in float32, the SSM recurrence in float64,
// attention's step in float32 with another summation order; a few float32 roundings of
// terms up to the largest output apart.
const stepTol = 1e-5

type recurrentMixer struct {
	name string
	dim  int
	m    interface {
		Recurrent
		Forward(*autograd.Graph, *autograd.Var) *autograd.Var
	}
}

// recurrentMixers are every mixer with a recurrent form, with perturbed parameters.
func recurrentMixers(t *testing.T) []recurrentMixer {
	t.Helper()
	dev := tensor.DefaultCPU()
	rng := tensor.NewRNG(3)
	h3 := func(dim, headDim int, disc tensor.Discretization) *H3 {
		m, err := NewH3(dev, rng, "h3", H3Config{Dim: dim, DState: 8, HeadDim: headDim, Disc: disc}, 0.5)
		if err != nil {
			t.Fatal(err)
		}
		perturb(rng, 0.1, m.Params()...)
		return m
	}
	attn, err := NewAttention(dev, rng, "attn", 6, 2, 0.5, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	perturb(rng, 0.1, attn.Params()...)
	vs := newVariants(t, rng, 5, 6, tensor.Bilinear)
	return []recurrentMixer{
		{"h3 head_dim 1", 5, h3(5, 1, tensor.ZOH)},
		{"h3 head_dim 3", 6, h3(6, 3, tensor.Bilinear)},
		{"attention", 6, attn},
		{"s4d", 5, vs[0].mod.(*S4DMixer)},
		{"shift", 5, vs[1].mod.(*ShiftMixer)},
	}
}

// TestStepMatchesForward prefills each mixer with the first positions of a sequence and
// steps through the rest (past attention's first two cache sizes, and past the shift
// SSM's taps); every output must be Forward's.
func TestStepMatchesForward(t *testing.T) {
	const batch, l = 2, 40
	dev := tensor.DefaultCPU()
	for _, rm := range recurrentMixers(t) {
		m, d := rm.m, rm.dim
		for _, prefill := range []int{1, 3, 20} {
			t.Run(fmt.Sprintf("%s/prefill %d", rm.name, prefill), func(t *testing.T) {
				g := autograd.NoGrad()
				x := tensor.RandNormal(dev, tensor.NewRNG(uint64(prefill)), 1, batch, l, d)
				want := m.Forward(g, autograd.Constant(x)).Value.Data()
				scale := 0.0
				for _, w := range want {
					scale = math.Max(scale, math.Abs(float64(w)))
				}
				rows := func(lo, hi int) *autograd.Var {
					out := dev.Zeros(batch, hi-lo, d)
					for b := 0; b < batch; b++ {
						copy(out.Data()[b*(hi-lo)*d:], x.Data()[(b*l+lo)*d:(b*l+hi)*d])
					}
					return autograd.Constant(out)
				}
				st, err := m.NewState(batch)
				if err != nil {
					t.Fatal(err)
				}
				worst := 0.0
				compare := func(lo int, got []float32, n int) {
					for b := 0; b < batch; b++ {
						for p := 0; p < n; p++ {
							for c := 0; c < d; c++ {
								e := math.Abs(float64(got[(b*n+p)*d+c])-float64(want[(b*l+lo+p)*d+c])) / scale
								if !(e <= worst) {
									worst = e
								}
							}
						}
					}
				}
				compare(0, st.Prefill(g, rows(0, prefill)).Value.Data(), prefill)
				for p := prefill; p < l; p++ {
					compare(p, st.Step(g, rows(p, p+1)).Value.Data(), 1)
				}
				t.Logf("worst step-vs-forward error %.2e of the largest output", worst)
				if !(worst <= stepTol) {
					t.Errorf("recurrent outputs differ from Forward's by %.3g > %g", worst, stepTol)
				}
			})
		}
	}
}

func TestMixerStateRejectsMisuse(t *testing.T) {
	dev := tensor.DefaultCPU()
	for _, rm := range recurrentMixers(t) {
		if _, err := rm.m.NewState(0); err == nil {
			t.Errorf("%s: an empty batch was accepted", rm.name)
		}
		st, err := rm.m.NewState(2)
		if err != nil {
			t.Fatal(err)
		}
		d := rm.dim
		for _, c := range []struct {
			what    string
			prefill bool
			x       *tensor.Tensor
		}{
			{"a step of the wrong batch", false, dev.Zeros(1, 1, d)},
			{"a step of two positions", false, dev.Zeros(2, 2, d)},
			{"a step of the wrong width", false, dev.Zeros(2, 1, d+1)},
			{"a prefill of the wrong batch", true, dev.Zeros(3, 4, d)},
			{"a prefill of the wrong width", true, dev.Zeros(2, 4, d+1)},
		} {
			f := st.Step
			if c.prefill {
				f = st.Prefill
			}
			if err := tensor.Catch(func() { f(autograd.NoGrad(), autograd.Constant(c.x)) }); err == nil {
				t.Errorf("%s: %s was accepted", rm.name, c.what)
			}
		}
	}
}
