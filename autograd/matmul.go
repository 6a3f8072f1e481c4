package autograd

import "github.com/hungry-ssm/hungry/tensor"

// MatMul returns op(a)·op(b) where op transposes the last two axes when its flag is set.
// a is (..., m, k) and b (..., k, n) (before the transposes), with equal leading batch
// axes, or either one a single matrix shared by the other's batch.
func MatMul(g *Graph, a, b *Var, transA, transB bool) *Var {
	dev := a.Device()
	batchShape, m, n, _ := tensor.MatMulShapes(nil, a.Value, b.Value, transA, transB)
	shape := append(append([]int(nil), batchShape...), m, n)
	// Without accumulate the product writes every element of out (beta 0 never reads it).
	out := g.Result(g.Empty(dev, shape...), a, b)
	dev.MatMul(out.Value, a.Value, b.Value, transA, transB, false)
	g.OnBackward(out, func() { matMulBackward(g, dev, a, b, out.Grad, transA, transB) })
	return out
}

// matMulBackward accumulates the gradients of c = op(a)·op(b) given dc into those of a
// and b that require one.
func matMulBackward(g *Graph, dev tensor.Device, a, b *Var, dc *tensor.Tensor, transA, transB bool) {
	// A gradient that does not exist yet is written, not accumulated into: the
	// product then need not read the zeros back.
	if a.RequiresGrad() {
		acc := a.Grad != nil
		if transA {
			// A is stored (k, m): dA = op(B)·dCᵀ.
			dev.MatMul(g.gradToWrite(a, acc), b.Value, dc, transB, true, acc)
		} else {
			dev.MatMul(g.gradToWrite(a, acc), dc, b.Value, false, !transB, acc)
		}
	}
	if b.RequiresGrad() {
		acc := b.Grad != nil
		if transB {
			// B is stored (n, k): dB = dCᵀ·op(A).
			dev.MatMul(g.gradToWrite(b, acc), dc, a.Value, true, transA, acc)
		} else {
			dev.MatMul(g.gradToWrite(b, acc), a.Value, dc, !transA, false, acc)
		}
	}
}
