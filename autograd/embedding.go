package autograd

import (
	"fmt"

	"github.com/hungry-ssm/hungry/tensor"
)

// Embedding gathers rows of table (V, d): the result has shape shape+(d) and holds
// table[ids[i]] in its i-th row; shape defaults to (len(ids)). An id outside [0, V)
// panics with a *tensor.ShapeError naming it. The ids are copied, so the caller may reuse
// the slice before Backward.
func Embedding(g *Graph, table *Var, ids []int32, shape ...int) *Var {
	ts := table.Shape()
	if len(ts) != 2 {
		panic(&tensor.ShapeError{Op: "Embedding", Shapes: [][]int{ts}, Msg: "table must be (V, d)"})
	}
	if len(shape) == 0 {
		shape = []int{len(ids)}
	}
	if tensor.Numel(shape) != len(ids) {
		panic(&tensor.ShapeError{Op: "Embedding", Shapes: [][]int{ts, shape}, Msg: fmt.Sprintf("%d ids for the shape", len(ids))})
	}
	v, d := ts[0], ts[1]
	for i, id := range ids {
		if id < 0 || int(id) >= v {
			panic(&tensor.ShapeError{Op: "Embedding", Shapes: [][]int{ts, shape}, Msg: fmt.Sprintf("id %d at position %d is outside [0, %d)", id, i, v)})
		}
	}
	ids = append([]int32(nil), ids...)
	dev := table.Device()
	out := g.Result(g.Zeros(dev, append(append([]int(nil), shape...), d)...), table)
	dev.Gather(out.Value, table.Value, ids)
	g.OnBackward(out, func() { dev.ScatterAdd(g.grad(table), out.Grad, ids) })
	return out
}
