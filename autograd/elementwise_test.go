package autograd

import (
	"testing"

	"github.com/hungry-ssm/hungry/tensor"
)

func TestBinaryGrad(t *testing.T) {
	rng := tensor.NewRNG(41)
	ops := map[string]func(*Graph, *Var, *Var) *Var{"Add": Add, "Sub": Sub, "Mul": Mul, "Div": Div}
	for name, op := range ops {
		for _, bs := range [][]int{{3, 7, 5}, {7, 5}, {5}, {1, 5}} {
			a := param(rng, "a", 1, 3, 7, 5)
			b := param(rng, "b", 1, bs...)
			if name == "Div" {
				// Divisors in [0.5, 2]: finite differences stay accurate away from zero.
				b = NewParam("b", tensor.RandUniform(tensor.DefaultCPU(), rng, 0.5, 2, bs...))
			}
			checkGrad(t, name+tensor.ShapeString(bs), func(g *Graph, in []*Var) *Var { return op(g, in[0], in[1]) }, a, b)
		}
	}
	// The smaller operand first, for the operations where order does not matter.
	a, b := param(rng, "a", 1, 5), param(rng, "b", 1, 3, 5)
	checkGrad(t, "Add(bias, x)", func(g *Graph, in []*Var) *Var { return Add(g, in[0], in[1]) }, a, b)
	checkGrad(t, "Mul(scale, x)", func(g *Graph, in []*Var) *Var { return Mul(g, in[0], in[1]) }, a, b)
	// One variable on both sides: both gradients land in the same tensor.
	x := param(rng, "x", 1, 4, 3)
	checkGrad(t, "Mul(x, x)", func(g *Graph, in []*Var) *Var { return Mul(g, in[0], in[0]) }, x)
}

func TestScaleGrad(t *testing.T) {
	x := param(tensor.NewRNG(42), "x", 1, 3, 7, 5)
	checkGrad(t, "Scale", func(g *Graph, in []*Var) *Var { return Scale(g, in[0], -0.7) }, x)
}

func TestBinaryShapeError(t *testing.T) {
	g := NewGraph()
	a, b := param(tensor.NewRNG(43), "a", 1, 2, 3), param(tensor.NewRNG(44), "b", 1, 2)
	wantShapeError(t, func() { Sub(g, a, b) }, "Sub", "[2 3]", "[2]")
}
