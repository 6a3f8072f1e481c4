package optim

import (
	"math"
	"testing"

	"github.com/hungry-ssm/hungry/autograd"
	"github.com/hungry-ssm/hungry/tensor"
)

func param(v float32) *autograd.Var {
	return autograd.NewParam("p", tensor.FromSlice([]float32{v}, 1))
}

func setGrad(p *autograd.Var, g float32) { p.Grad = tensor.FromSlice([]float32{g}, 1) }

// The expected values were worked out by hand from the update rules (PyTorch's AdamW and
// SGD formulas) in float64; float32 arithmetic agrees to ~1e-7.
func TestAdamWMatchesHandComputedSteps(t *testing.T) {
	p := param(1)
	opt := NewAdamW([]Group{{Params: []*autograd.Var{p}, LR: 0.1, WeightDecay: 0.01}})
	want := []float64{0.899000002, 0.8714672987}
	for i, g := range []float32{0.5, -0.25} {
		setGrad(p, g)
		opt.Step(1, 1)
		if got := float64(p.Value.Data()[0]); math.Abs(got-want[i]) > 1e-6 {
			t.Fatalf("step %d: p = %.9f, want %.9f", i+1, got, want[i])
		}
	}
}

func TestSGDMomentumMatchesHandComputedSteps(t *testing.T) {
	p := param(1)
	opt := NewSGD([]Group{{Params: []*autograd.Var{p}, LR: 0.1, WeightDecay: 0.01}}, 0.9)
	want := []float64{0.949, 0.927151}
	for i, g := range []float32{0.5, -0.25} {
		setGrad(p, g)
		opt.Step(1, 1)
		if got := float64(p.Value.Data()[0]); math.Abs(got-want[i]) > 1e-6 {
			t.Fatalf("step %d: p = %.7f, want %.7f", i+1, got, want[i])
		}
	}
}

func TestGradScaleAndLRScaleApply(t *testing.T) {
	// Doubling the gradient scale with momentum-free SGD doubles the step; halving the
	// learning-rate scale halves it.
	p := param(0)
	opt := NewSGD([]Group{{Params: []*autograd.Var{p}, LR: 1}}, 0)
	setGrad(p, 1)
	opt.Step(0.5, 2)
	if got := p.Value.Data()[0]; got != -1 {
		t.Fatalf("p = %v, want -1", got)
	}
}

func TestParamsWithoutGradientsAreLeftAlone(t *testing.T) {
	p, q := param(1), param(2)
	opt := NewAdamW([]Group{{Params: []*autograd.Var{p, q}, LR: 0.1, WeightDecay: 0.1}})
	setGrad(p, 1)
	opt.Step(1, 1)
	if q.Value.Data()[0] != 2 {
		t.Fatal("a parameter without a gradient was changed (weight decay must not apply to it)")
	}
}

func TestGradNormAndClipScale(t *testing.T) {
	p := autograd.NewParam("p", tensor.FromSlice([]float32{0, 0}, 2))
	q := param(0)
	p.Grad = tensor.FromSlice([]float32{3, 0}, 2)
	setGrad(q, 4)
	n := GradNorm([]Group{{Params: []*autograd.Var{p}}, {Params: []*autograd.Var{q}}})
	if math.Abs(n-5) > 1e-9 {
		t.Fatalf("norm %v, want 5", n)
	}
	if s := ClipScale(n, 1); math.Abs(s-0.2) > 1e-6 {
		t.Fatalf("clip scale %v, want 0.2", s)
	}
	if s := ClipScale(0.5, 1); s != 1 {
		t.Fatalf("clip scale %v for a small norm, want 1", s)
	}
}

func TestWarmupCosine(t *testing.T) {
	s := WarmupCosine{Warmup: 10, Total: 110, MinRatio: 0.1}
	for _, tc := range []struct {
		step int
		want float64
	}{{1, 0.1}, {5, 0.5}, {10, 1}, {60, 0.55}, {110, 0.1}, {500, 0.1}} {
		if got := s.Factor(tc.step); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("step %d: factor %v, want %v", tc.step, got, tc.want)
		}
	}
}

func TestAdamWStateRoundTrip(t *testing.T) {
	mk := func() (*autograd.Var, *AdamW) {
		p := param(1)
		return p, NewAdamW([]Group{{Params: []*autograd.Var{p}, LR: 0.1}})
	}
	p1, o1 := mk()
	for _, g := range []float32{0.3, -0.7, 0.2} {
		setGrad(p1, g)
		o1.Step(1, 1)
	}
	state, step := o1.State()
	p2, o2 := mk()
	p2.Value.Data()[0] = p1.Value.Data()[0]
	if err := o2.LoadState(state, step); err != nil {
		t.Fatal(err)
	}
	setGrad(p1, 0.9)
	setGrad(p2, 0.9)
	o1.Step(1, 1)
	o2.Step(1, 1)
	if p1.Value.Data()[0] != p2.Value.Data()[0] {
		t.Fatalf("restored optimizer diverged: %v vs %v", p1.Value.Data()[0], p2.Value.Data()[0])
	}
	state["exp_avg.other"] = tensor.New(1)
	if err := o2.LoadState(state, step); err == nil {
		t.Fatal("a state with a stray tensor was accepted")
	}
}
