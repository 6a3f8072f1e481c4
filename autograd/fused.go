package autograd

import "github.com/hungry-ssm/hungry/tensor"

// AddLayerNorm returns sum = x + r and out = LayerNorm(sum) with scale w and shift b
// (either may be nil): a pre-norm block's residual update and the normalisation of its
// result, computed by one kernel that reads each row once (tensor.FusedKernels). It
// equals Add followed by LayerNorm, values and gradients.
//
// The gradient of sum is what flows back to x and r: the gradient that later uses of sum
// (the residual stream) send, plus LayerNorm's input gradient, which the LayerNorm
// backward kernel accumulates into it.
func AddLayerNorm(g *Graph, x, r, w, b *Var, eps float32) (sum, out *Var) {
	var wt, bt *tensor.Tensor
	if w != nil {
		wt = w.Value
	}
	if b != nil {
		bt = b.Value
	}
	dev := x.Device()
	shape := x.Shape()
	sum = g.Result(g.Zeros(dev, shape...), x, r)
	out = g.Result(g.Zeros(dev, shape...), x, r, w, b)
	d := 0
	if len(shape) > 0 {
		d = shape[len(shape)-1]
	}
	rows := 0
	if d > 0 {
		rows = x.Value.Numel() / d
	}
	mean, rstd := g.Zeros(dev, rows), g.Zeros(dev, rows)
	dev.AddLayerNorm(out.Value, sum.Value, mean, rstd, x.Value, r.Value, wt, bt, eps)
	// out's backward runs first (it was recorded last): it adds LayerNorm's input
	// gradient into sum's, which sum's backward then hands to x and r.
	g.OnBackward(sum, func() {
		if x.RequiresGrad() {
			g.takeGrad(x, sum.Grad)
		}
		if r.RequiresGrad() {
			if x.RequiresGrad() {
				dev.Axpy(1, sum.Grad, g.grad(r))
			} else {
				g.takeGrad(r, sum.Grad)
			}
		}
	})
	g.OnBackward(out, func() {
		var dw, db *tensor.Tensor
		if w != nil && w.RequiresGrad() {
			dw = g.grad(w)
		}
		if b != nil && b.RequiresGrad() {
			db = g.grad(b)
		}
		var dsum *tensor.Tensor
		if sum.RequiresGrad() {
			dsum = g.grad(sum)
		}
		dev.LayerNormBackward(dsum, dw, db, out.Grad, sum.Value, wt, mean, rstd)
	})
	return sum, out
}
