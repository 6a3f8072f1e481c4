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

// TestGradientHandOff covers graphs where Add, Sub and Reshape hand an output's gradient
// to an input that has none yet (takeGrad) next to inputs that already have one, so the
// shared storage would show up as a wrong gradient if it ever leaked.
func TestGradientHandOff(t *testing.T) {
	rng := tensor.NewRNG(45)
	x, y, z := param(rng, "x", 1, 4, 3), param(rng, "y", 1, 4, 3), param(rng, "z", 1, 4, 3)
	cases := map[string]func(g *Graph, in []*Var) *Var{
		"Add(x, x)": func(g *Graph, in []*Var) *Var { return Add(g, in[0], in[0]) },
		"Sub(x, x)+x·y": func(g *Graph, in []*Var) *Var {
			return Add(g, Sub(g, in[0], in[0]), Mul(g, in[0], in[1]))
		},
		"Sub(x, y)": func(g *Graph, in []*Var) *Var { return Sub(g, in[0], in[1]) },
		// x reaches the product twice: once handed the sum's gradient, once accumulating.
		"(x+y)·(x+z)": func(g *Graph, in []*Var) *Var {
			return Mul(g, Add(g, in[0], in[1]), Add(g, in[0], in[2]))
		},
		// x has a gradient (from the product) when the sum runs backward: y takes it.
		"(x+y)·x": func(g *Graph, in []*Var) *Var { return Mul(g, Add(g, in[0], in[1]), in[0]) },
		"reshape(x+y)·z": func(g *Graph, in []*Var) *Var {
			s := Reshape(g, Add(g, in[0], in[1]), 3, 4)
			return Mul(g, s, Reshape(g, Add(g, in[2], in[0]), 3, 4))
		},
	}
	for name, f := range cases {
		checkGrad(t, name, f, x, y, z)
	}
}

func TestBackwardWithKeepsSeedAndAccumulates(t *testing.T) {
	rng := tensor.NewRNG(46)
	x, y := param(rng, "x", 1, 2, 3), param(rng, "y", 1, 2, 3)
	seed := tensor.RandNormal(tensor.DefaultCPU(), rng, 1, 2, 3)
	seedBefore := seed.Host()
	run := func() {
		g := NewGraph()
		if err := g.BackwardWith(Add(g, Add(g, x, y), x), seed); err != nil {
			t.Fatal(err)
		}
	}
	run()
	once := x.Grad.Host()
	run() // a second graph accumulates into the gradients the first one handed out
	for i, v := range seed.Host() {
		if v != seedBefore[i] {
			t.Fatalf("the seed changed at %d: %v, was %v", i, v, seedBefore[i])
		}
	}
	for i, v := range x.Grad.Host() {
		if v != 2*once[i] || once[i] != 2*seedBefore[i] {
			t.Fatalf("x's gradient at %d: %v after one pass and %v after two; want 2·seed = %v, then twice that", i, once[i], v, 2*seedBefore[i])
		}
	}
	for i, v := range y.Grad.Host() {
		if v != 2*seedBefore[i] {
			t.Fatalf("y's gradient at %d: %v, want %v", i, v, 2*seedBefore[i])
		}
	}
}

// TestMulGradientInPlace covers the product's in-place hand-off (a without a gradient
// takes out's gradient times b) next to a b that broadcasts, a b that is a, and a b that
// feeds the other factor.
func TestMulGradientInPlace(t *testing.T) {
	rng := tensor.NewRNG(50)
	x, y, s := param(rng, "x", 1, 4, 3), param(rng, "y", 1, 4, 3), param(rng, "s", 1, 3)
	cases := map[string]func(g *Graph, in []*Var) *Var{
		"(x·y)·(x+y)":   func(g *Graph, in []*Var) *Var { return Mul(g, Mul(g, in[0], in[1]), Add(g, in[0], in[1])) },
		"(x·s)·x":       func(g *Graph, in []*Var) *Var { return Mul(g, Mul(g, in[0], in[2]), in[0]) },
		"(x+y)·(x+y)":   func(g *Graph, in []*Var) *Var { s := Add(g, in[0], in[1]); return Mul(g, s, s) },
		"exp(x)·s + x":  func(g *Graph, in []*Var) *Var { return Add(g, Mul(g, Exp(g, in[0]), in[2]), in[0]) },
		"(x·y)·s·y, in": func(g *Graph, in []*Var) *Var { return Mul(g, Mul(g, Mul(g, in[0], in[1]), in[2]), in[1]) },
	}
	for name, f := range cases {
		checkGrad(t, name, f, x, y, s)
	}
}
