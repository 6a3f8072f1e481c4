package autograd

import "github.com/hungry-ssm/hungry/tensor"

// Linear returns x·wᵀ + b, the affine map of a dense layer: x is (..., in), w is (out, in)
// as PyTorch stores it, and b (nil for none) has a shape that is a suffix of the result's
// (out), as Add requires. It equals Add(MatMul(x, w, false, true), b) but writes the bias
// first and accumulates the product onto it, so the result is one tensor instead of two
// and the addition needs no pass of its own.
func Linear(g *Graph, x, w, b *Var) *Var {
	if b == nil {
		return MatMul(g, x, w, false, true)
	}
	dev := x.Device()
	batchShape, m, n, _ := tensor.MatMulShapes(nil, x.Value, w.Value, false, true)
	shape := append(append([]int(nil), batchShape...), m, n)
	tensor.BroadcastShapes("Linear", shape, b.Shape())
	// The fused kernel writes every element of out; the other path adds the bias to it.
	fused := b.Value.Rank() == 1 && w.Value.Rank() == 2
	alloc := g.Zeros
	if fused {
		alloc = g.Empty
	}
	out := g.Result(alloc(dev, shape...), x, w, b)
	if fused {
		dev.Linear(out.Value, x.Value, w.Value, b.Value)
	} else {
		dev.Binary(tensor.OpAdd, out.Value, out.Value, b.Value)
		dev.MatMul(out.Value, x.Value, w.Value, false, true, true)
	}
	g.OnBackward(out, func() {
		if b.RequiresGrad() {
			// The bias gradient sums out's gradient over the rows; Add's kernel does that and
			// reads neither operand's values.
			dev.BinaryBackward(tensor.OpAdd, nil, g.grad(b), out.Grad, out.Value, b.Value)
		}
		matMulBackward(g, dev, x, w, out.Grad, false, true)
	})
	return out
}
