package autograd

import (
	"testing"

	"github.com/hungry-ssm/hungry/tensor"
)

func TestLinearGrad(t *testing.T) {
	rng := tensor.NewRNG(47)
	f := func(g *Graph, in []*Var) *Var { return Linear(g, in[0], in[1], in[2]) }
	for _, xs := range [][]int{{3, 7, 5}, {7, 5}, {1, 5}} {
		x, w, b := param(rng, "x", 1, xs...), param(rng, "w", 1, 4, 5), param(rng, "b", 1, 4)
		checkGrad(t, "Linear"+tensor.ShapeString(xs), f, x, w, b)
	}
	// A bias per row and column, and none at all.
	x, w, b := param(rng, "x", 1, 3, 7, 5), param(rng, "w", 1, 4, 5), param(rng, "b", 1, 7, 4)
	checkGrad(t, "Linear with a (7, 4) bias", f, x, w, b)
	checkGrad(t, "Linear without bias", func(g *Graph, in []*Var) *Var { return Linear(g, in[0], in[1], nil) }, x, w)
}

// TestLinearMatchesMatMulAdd holds the fused op to the two ops it replaces, values and
// gradients, bit for bit: the product and the bias meet in one rounding either way.
func TestLinearMatchesMatMulAdd(t *testing.T) {
	rng := tensor.NewRNG(48)
	x, w, b := param(rng, "x", 1, 2, 31, 37), param(rng, "w", 1, 19, 37), param(rng, "b", 1, 19)
	seed := tensor.RandNormal(tensor.DefaultCPU(), rng, 1, 2, 31, 19)
	run := func(f func(g *Graph) *Var) (y []float32, grads [][]float32) {
		for _, p := range []*Var{x, w, b} {
			p.ZeroGrad()
		}
		g := NewGraph()
		out := f(g)
		if err := g.BackwardWith(out, seed); err != nil {
			t.Fatal(err)
		}
		return out.Value.Host(), [][]float32{x.Grad.Host(), w.Grad.Host(), b.Grad.Host()}
	}
	y1, g1 := run(func(g *Graph) *Var { return Linear(g, x, w, b) })
	y2, g2 := run(func(g *Graph) *Var { return Add(g, MatMul(g, x, w, false, true), b) })
	for i := range y1 {
		if y1[i] != y2[i] {
			t.Fatalf("value %d: Linear %v, MatMul+Add %v", i, y1[i], y2[i])
		}
	}
	for k, name := range []string{"x", "w", "b"} {
		for i := range g1[k] {
			if g1[k][i] != g2[k][i] {
				t.Fatalf("gradient of %s at %d: Linear %v, MatMul+Add %v", name, i, g1[k][i], g2[k][i])
			}
		}
	}
}

func TestLinearShapeError(t *testing.T) {
	rng := tensor.NewRNG(49)
	x, w, b := param(rng, "x", 1, 3, 5), param(rng, "w", 1, 4, 5), param(rng, "b", 1, 3)
	wantShapeError(t, func() { Linear(NewGraph(), x, w, b) }, "Linear", "[3 4]", "[3]")
}
