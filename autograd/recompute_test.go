package autograd

import (
	"testing"

	"github.com/hungry-ssm/hungry/tensor"
)

// TestRecomputeMatchesPlain compares the output and the gradients of the input and of a
// parameter that f captures with and without recomputation: the same arithmetic runs in
// both, so they must agree exactly.
func TestRecomputeMatchesPlain(t *testing.T) {
	rng := tensor.NewRNG(61)
	x := param(rng, "x", 1, 3, 7)
	w := param(rng, "w", 1, 7, 5)
	f := func(g *Graph, in *Var) *Var { return Tanh(g, MatMul(g, Mul(g, in, in), w, false, false)) }
	seed := tensor.RandNormal(tensor.DefaultCPU(), rng, 1, 3, 5)
	run := func(recompute bool) [][]float32 {
		x.ZeroGrad()
		w.ZeroGrad()
		g := NewGraph()
		var y *Var
		if recompute {
			y = Recompute(g, x, f)
		} else {
			y = f(g, x)
		}
		// Something after the recomputed part, so that its gradient arrives from an op.
		y = Scale(g, y, 3)
		if err := g.BackwardWith(y, seed); err != nil {
			t.Fatal(err)
		}
		return [][]float32{y.Value.Data(), x.Grad.Data(), w.Grad.Data()}
	}
	want, got := run(false), run(true)
	for i := range want {
		for j := range want[i] {
			if got[i][j] != want[i][j] {
				t.Fatalf("tensor %d element %d: %g with recomputation, %g without", i, j, got[i][j], want[i][j])
			}
		}
	}
	if y := Recompute(NoGrad(), x, f); y.RequiresGrad() {
		t.Error("a NoGrad graph's result requires a gradient")
	}
}
