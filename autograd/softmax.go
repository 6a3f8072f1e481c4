package autograd

import "github.com/hungry-ssm/hungry/tensor"

// Softmax normalises the last axis of x into probabilities, exp(x−max)/Σexp(x−max).
func Softmax(g *Graph, x *Var) *Var { return softmax(g, x, tensor.SoftmaxPlain) }

// LogSoftmax returns the logarithm of Softmax, computed as x − max − log Σexp(x−max).
func LogSoftmax(g *Graph, x *Var) *Var { return softmax(g, x, tensor.SoftmaxLog) }

// CausalSoftmax is attention's masked softmax: x holds scores (..., L, L) of queries
// against keys, and query i attends to keys 0..i only, so the entries past the diagonal
// come out as exactly 0.
func CausalSoftmax(g *Graph, x *Var) *Var {
	s := x.Shape()
	if len(s) < 2 || s[len(s)-1] != s[len(s)-2] {
		panic(&tensor.ShapeError{Op: "CausalSoftmax", Shapes: [][]int{s}, Msg: "scores must be (..., L, L)"})
	}
	return softmax(g, x, tensor.SoftmaxCausal)
}

func softmax(g *Graph, x *Var, mode tensor.SoftmaxMode) *Var {
	if x.Value.Rank() == 0 {
		panic(&tensor.ShapeError{Op: "Softmax", Shapes: [][]int{x.Shape()}, Msg: "needs at least one axis"})
	}
	dev := x.Device()
	out := g.Result(g.Zeros(dev, x.Shape()...), x)
	dev.Softmax(out.Value, x.Value, mode)
	g.OnBackward(out, func() { dev.SoftmaxBackward(g.grad(x), out.Grad, out.Value, mode) })
	return out
}
