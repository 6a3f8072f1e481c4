package autograd

import (
	"math"
	"testing"

	"github.com/hungry-ssm/hungry/tensor"
)

func TestActivationGrad(t *testing.T) {
	rng := tensor.NewRNG(51)
	for name, op := range map[string]func(*Graph, *Var) *Var{
		"GELU": GELU, "ReLU": ReLU, "SiLU": SiLU, "Sigmoid": Sigmoid, "Tanh": Tanh, "Exp": Exp,
	} {
		x := param(rng, "x", 1.5, 3, 7, 5)
		if name == "ReLU" {
			// Keep every input well clear of the kink at 0, where a finite difference
			// straddling it means nothing.
			d := x.Value.Data()
			for i, v := range d {
				d[i] = float32(math.Copysign(float64(abs32(v))+0.1, float64(v)))
			}
		}
		checkGrad(t, name, func(g *Graph, in []*Var) *Var { return op(g, in[0]) }, x)
	}
}

func TestGELUValues(t *testing.T) {
	// The formula in float64; PyTorch 1.13's gelu(approximate="tanh") agrees to 2e-7.
	x := Constant(tensor.FromSlice([]float32{-3, -1, 0, 0.5, 2}, 5))
	got := GELU(NoGrad(), x).Value.Data()
	for i, want := range []float32{-0.0036373, -0.1588080, 0, 0.3457140, 1.9545977} {
		if math.Abs(float64(got[i]-want)) > 1e-6 {
			t.Errorf("GELU(%v) = %v, want %v", x.Value.Data()[i], got[i], want)
		}
	}
}

func abs32(v float32) float32 {
	if v < 0 {
		return -v
	}
	return v
}
