package autograd

import "github.com/hungry-ssm/hungry/tensor"

// LayerNorm normalises the last axis of x (length d) to zero mean and unit variance
// (biased, as PyTorch's), then scales by w and shifts by b, both of shape (d); either may
// be nil. eps is added to the variance.
func LayerNorm(g *Graph, x, w, b *Var, eps float32) *Var {
	shape := x.Shape()
	if len(shape) == 0 {
		panic(&tensor.ShapeError{Op: "LayerNorm", Shapes: [][]int{shape}, Msg: "needs at least one axis"})
	}
	d := shape[len(shape)-1]
	var wt, bt *tensor.Tensor
	for _, p := range []*Var{w, b} {
		if p != nil && !tensor.SameShape(p.Shape(), []int{d}) {
			panic(&tensor.ShapeError{Op: "LayerNorm", Shapes: [][]int{shape, p.Shape()}, Msg: "scale and shift must have the length of the last axis"})
		}
	}
	if w != nil {
		wt = w.Value
	}
	if b != nil {
		bt = b.Value
	}
	rows := 0
	if d > 0 {
		rows = x.Value.Numel() / d
	}
	dev := x.Device()
	out := g.Result(g.Zeros(dev, shape...), x, w, b)
	mean, rstd := g.Zeros(dev, rows), g.Zeros(dev, rows)
	dev.LayerNorm(out.Value, mean, rstd, x.Value, wt, bt, eps)
	g.OnBackward(out, func() {
		var dx, dw, db *tensor.Tensor
		if x.RequiresGrad() {
			dx = g.grad(x)
		}
		if w != nil && w.RequiresGrad() {
			dw = g.grad(w)
		}
		if b != nil && b.RequiresGrad() {
			db = g.grad(b)
		}
		dev.LayerNormBackward(dx, dw, db, out.Grad, x.Value, wt, mean, rstd)
	})
	return out
}
