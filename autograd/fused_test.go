package autograd

import (
	"testing"

	"github.com/hungry-ssm/hungry/tensor"
)

// TestAddLayerNormGrad checks both results' gradients against finite differences: the
// loss reads the normalised output and the sum (as a residual stream does), so x and r
// get the sum's gradient plus LayerNorm's.
func TestAddLayerNormGrad(t *testing.T) {
	rng := tensor.NewRNG(94)
	x, r := param(rng, "x", 1, 3, 5, 7), param(rng, "r", 1, 3, 5, 7)
	w, b := param(rng, "w", 1, 7), param(rng, "b", 1, 7)
	both := func(g *Graph, in []*Var) *Var {
		var w, b *Var
		if len(in) > 2 {
			w, b = in[2], in[3]
		}
		sum, out := AddLayerNorm(g, in[0], in[1], w, b, 1e-5)
		return Add(g, Mul(g, out, out), Scale(g, sum, 0.5))
	}
	checkGrad(t, "AddLayerNorm", both, x, r, w, b)
	checkGrad(t, "AddLayerNorm without affine", both, x, r)
	normOnly := func(g *Graph, in []*Var) *Var {
		_, out := AddLayerNorm(g, in[0], in[1], in[2], in[3], 1e-5)
		return out
	}
	checkGrad(t, "AddLayerNorm, output only", normOnly, x, r, w, b)
	// r alone needs a gradient: it takes the sum's instead of x.
	xc := Constant(x.Value)
	checkGrad(t, "AddLayerNorm, r only", func(g *Graph, in []*Var) *Var { return both(g, []*Var{xc, in[0]}) }, r)
}

// TestAddLayerNormMatchesAddThenLayerNorm holds the fused op to Add followed by LayerNorm,
// values and gradients, bit for bit.
func TestAddLayerNormMatchesAddThenLayerNorm(t *testing.T) {
	rng := tensor.NewRNG(95)
	x, r := param(rng, "x", 1, 2, 31, 37), param(rng, "r", 1, 2, 31, 37)
	w, b := param(rng, "w", 1, 37), param(rng, "b", 1, 37)
	seed := tensor.RandNormal(tensor.DefaultCPU(), rng, 1, 2, 31, 37)
	seed2 := tensor.RandNormal(tensor.DefaultCPU(), rng, 1, 2, 31, 37)
	run := func(f func(g *Graph) (sum, out *Var)) (vals, grads [][]float32) {
		for _, p := range []*Var{x, r, w, b} {
			p.ZeroGrad()
		}
		g := NewGraph()
		sum, out := f(g)
		// Both results reach the loss, through a product with fixed seeds.
		loss := Add(g, Mean(g, Mul(g, out, Constant(seed))), Mean(g, Mul(g, sum, Constant(seed2))))
		if err := g.Backward(loss); err != nil {
			t.Fatal(err)
		}
		return [][]float32{sum.Value.Host(), out.Value.Host()},
			[][]float32{x.Grad.Host(), r.Grad.Host(), w.Grad.Host(), b.Grad.Host()}
	}
	v1, g1 := run(func(g *Graph) (*Var, *Var) { return AddLayerNorm(g, x, r, w, b, 1e-5) })
	v2, g2 := run(func(g *Graph) (*Var, *Var) {
		sum := Add(g, x, r)
		return sum, LayerNorm(g, sum, w, b, 1e-5)
	})
	for k, name := range []string{"sum", "out", "dx", "dr", "dw", "db"} {
		a, b := append(v1, g1...)[k], append(v2, g2...)[k]
		for i := range a {
			if a[i] != b[i] {
				t.Fatalf("%s[%d]: fused %v, Add+LayerNorm %v", name, i, a[i], b[i])
			}
		}
	}
}
