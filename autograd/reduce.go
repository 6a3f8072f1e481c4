package autograd

import "github.com/hungry-ssm/hungry/tensor"

// SumAxis sums x over one axis (negative counts from the end) and removes that axis; a
// rank-1 x gives shape [1].
func SumAxis(g *Graph, x *Var, axis int) *Var { return sumAxis(g, x, axis, false) }

// MeanAxis averages x over one axis and removes it, like SumAxis.
func MeanAxis(g *Graph, x *Var, axis int) *Var { return sumAxis(g, x, axis, true) }

// Sum adds every element of x into a tensor of shape [1]. Long sums add float32 partial
// sums of 4096 elements in float64.
func Sum(g *Graph, x *Var) *Var { return sumAll(g, x, 1) }

// Mean averages every element of x into a tensor of shape [1].
func Mean(g *Graph, x *Var) *Var {
	n := x.Value.Numel()
	if n == 0 {
		panic(&tensor.ShapeError{Op: "Mean", Shapes: [][]int{x.Shape()}, Msg: "mean of no elements"})
	}
	return sumAll(g, x, 1/float32(n))
}

func sumAxis(g *Graph, x *Var, axis int, mean bool) *Var {
	op := "SumAxis"
	if mean {
		op = "MeanAxis"
	}
	_, n, _, ax := tensor.AxisSplit(op, x.Shape(), axis)
	alpha := float32(1)
	if mean {
		if n == 0 {
			panic(&tensor.ShapeError{Op: op, Shapes: [][]int{x.Shape()}, Msg: "mean over an empty axis"})
		}
		alpha = 1 / float32(n)
	}
	shape := append(append([]int(nil), x.Shape()[:ax]...), x.Shape()[ax+1:]...)
	if len(shape) == 0 {
		shape = []int{1}
	}
	dev := x.Device()
	out := g.Result(g.Zeros(dev, shape...), x)
	dev.SumAxis(out.Value, x.Value, ax, alpha, false)
	g.OnBackward(out, func() { dev.BroadcastAxis(g.grad(x), out.Grad, ax, alpha) })
	return out
}

// sumAll returns alpha·Σx with shape [1].
func sumAll(g *Graph, x *Var, alpha float32) *Var {
	dev := x.Device()
	out := g.Result(g.Zeros(dev, 1), x)
	dev.SumAxis(out.Value, x.Value.Reshape(-1), 0, alpha, false)
	g.OnBackward(out, func() { dev.BroadcastAxis(g.grad(x).Reshape(-1), out.Grad, 0, alpha) })
	return out
}
