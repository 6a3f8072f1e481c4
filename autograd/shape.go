package autograd

import (
	"fmt"

	"github.com/hungry-ssm/hungry/tensor"
)

// Reshape returns x with a new shape and the same elements, sharing its storage. One
// dimension may be -1, inferred from the others.
func Reshape(g *Graph, x *Var, shape ...int) *Var {
	out := g.Result(x.Value.Reshape(shape...), x)
	g.OnBackward(out, func() { g.takeGrad(x, out.Grad.Reshape(x.Shape()...)) })
	return out
}

// Transpose swaps the last two axes of x into a new tensor.
func Transpose(g *Graph, x *Var) *Var {
	r := x.Value.Rank()
	if r < 2 {
		panic(&tensor.ShapeError{Op: "Transpose", Shapes: [][]int{x.Shape()}, Msg: "needs at least two axes"})
	}
	perm := make([]int, r)
	for i := range perm {
		perm[i] = i
	}
	perm[r-2], perm[r-1] = r-1, r-2
	return Permute(g, x, perm...)
}

// Permute rearranges the axes of x into a new tensor: the result's axis k is x's axis
// perm[k].
func Permute(g *Graph, x *Var, perm ...int) *Var {
	shape := tensor.PermuteShape(x.Shape(), perm)
	perm = append([]int(nil), perm...)
	dev := x.Device()
	out := g.Result(g.Zeros(dev, shape...), x)
	dev.Permute(out.Value, x.Value, perm, false)
	g.OnBackward(out, func() {
		inv := make([]int, len(perm))
		for k, p := range perm {
			inv[p] = k
		}
		dev.Permute(g.grad(x), out.Grad, inv, true)
	})
	return out
}

// SliceRows returns rows [lo, hi) of x's leading axis, sharing its storage.
func SliceRows(g *Graph, x *Var, lo, hi int) *Var {
	if x.Value.Rank() == 0 || lo < 0 || hi < lo || hi > x.Shape()[0] {
		panic(&tensor.ShapeError{Op: "SliceRows", Shapes: [][]int{x.Shape()}, Msg: fmt.Sprintf("rows [%d, %d) out of range", lo, hi)})
	}
	out := g.Result(x.Value.Slice(lo, hi), x)
	g.OnBackward(out, func() { x.Device().Axpy(1, out.Grad, g.grad(x).Slice(lo, hi)) })
	return out
}
