package autograd

// Recompute returns f(g, x) without keeping what f computes on the way: its forward pass
// runs on a graph that records nothing, and the backward pass runs f again, recording,
// to propagate the gradient through it. Memory then holds x and the result instead of
// every intermediate, at the cost of a second forward pass: activation recomputation,
// what lets training at long context fit. f must compute the same values both times (no
// fresh randomness such as dropout), and its parameters must be reachable from f alone:
// their gradients accumulate as if f had run on g.
func Recompute(g *Graph, x *Var, f func(g *Graph, x *Var) *Var) *Var {
	if !g.record {
		return f(g, x)
	}
	y := f(NoGrad(), x)
	// f's parameters are not inputs g knows of, so the result always requires a gradient.
	out := &Var{Value: y.Value, requiresGrad: true}
	g.OnBackward(out, func() {
		leaf := &Var{Value: x.Value, requiresGrad: x.requiresGrad}
		rg := NewGraph()
		yr := f(rg, leaf)
		if !yr.requiresGrad {
			return
		}
		if err := rg.BackwardWith(yr, out.Grad); err != nil {
			panic(err)
		}
		if x.requiresGrad && leaf.Grad != nil {
			g.takeGrad(x, leaf.Grad)
		}
	})
	return out
}
