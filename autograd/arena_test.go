package autograd

import (
	"testing"

	"github.com/hungry-ssm/hungry/tensor"
)

// TestGraphArenaSteps runs three steps of a small network, each accumulating the
// gradients of two micro-batches on a graph that takes its tensors from an arena and
// releases them after each, and compares every parameter gradient with the same steps on
// ordinary graphs. The micro-batches differ in their inputs, so a gradient computed from
// a previous one's leftovers in a reused buffer shows up, as does a parameter gradient
// left in arena memory that the next micro-batch overwrites; ZeroGrad between steps
// exercises the parameters' kept buffers, and Reshape and Add the hand-over of an op
// result's gradient to a parameter (copied out of the arena).
func TestGraphArenaSteps(t *testing.T) {
	rng := tensor.NewRNG(11)
	w := param(rng, "w", 0.5, 5, 7)
	b := param(rng, "b", 0.5, 5)
	s := param(rng, "s", 0.5, 3, 5)
	params := []*Var{w, b, s}
	forward := func(g *Graph, x *Var) *Var {
		h := Linear(g, x, w, b)
		h = GELU(g, h)
		h = Add(g, Reshape(g, s, 3, 5), h) // s takes Add's gradient through Reshape
		h = Mul(g, h, h)
		return Mean(g, h)
	}
	inputs := make([]*tensor.Tensor, 6)
	for i := range inputs {
		inputs[i] = tensor.RandNormal(tensor.DefaultCPU(), rng, 1, 3, 7)
	}
	run := func(g func() *Graph, release func(*Graph)) [][]float32 {
		var out [][]float32
		for i, x := range inputs {
			if i%2 == 0 {
				for _, p := range params {
					p.ZeroGrad()
				}
			}
			gr := g()
			loss := forward(gr, Constant(x))
			if err := gr.Backward(loss); err != nil {
				t.Fatal(err)
			}
			release(gr)
			if i%2 == 0 {
				continue
			}
			for _, p := range params {
				out = append(out, p.Grad.Host())
			}
		}
		return out
	}
	want := run(NewGraph, func(*Graph) {})
	arena := NewGraphIn(tensor.NewArena(tensor.DefaultCPU()))
	got := run(func() *Graph { return arena }, (*Graph).Release)
	for i := range want {
		for j := range want[i] {
			if got[i][j] != want[i][j] {
				t.Fatalf("step %d, parameter %s, element %d: %v with the arena, %v without", i/3, params[i%3].Name, j, got[i][j], want[i][j])
			}
		}
	}
}
