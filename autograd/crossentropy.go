package autograd

import (
	"fmt"

	"github.com/hungry-ssm/hungry/tensor"
)

// CrossEntropy is the mean negative log-likelihood of targets under softmax(logits):
// logits are (..., V) with one target per row (targets[i] for row i of the flattened
// leading axes). Rows whose target is ignoreIndex (−100 by convention) are left out of
// the mean; when no row counts the loss is 0 with zero gradient. The result has shape
// [1]. Log-softmax and the likelihood are fused: nothing V-wide besides the gradient is
// stored. A target outside [0, V) panics with a *tensor.ShapeError naming it.
func CrossEntropy(g *Graph, logits *Var, targets []int32, ignoreIndex int32) *Var {
	rows, count := crossEntropyRows(g, logits, targets, ignoreIndex)
	alpha := float32(0)
	if count > 0 {
		alpha = 1 / float32(count)
	}
	return sumAll(g, rows, alpha)
}

// CrossEntropySum is the summed negative log-likelihood of the counted rows (shape [1]),
// and how many rows counted: what perplexity over many batches is built from. The sum
// adds float32 partial sums of 4096 rows in float64.
func CrossEntropySum(g *Graph, logits *Var, targets []int32, ignoreIndex int32) (sum *Var, count int) {
	rows, count := crossEntropyRows(g, logits, targets, ignoreIndex)
	return sumAll(g, rows, 1), count
}

// CrossEntropyRows returns the negative log-likelihood of every row's target, shaped like
// logits without the last axis, with 0 in ignored rows.
func CrossEntropyRows(g *Graph, logits *Var, targets []int32, ignoreIndex int32) *Var {
	rows, _ := crossEntropyRows(g, logits, targets, ignoreIndex)
	return rows
}

func crossEntropyRows(g *Graph, logits *Var, targets []int32, ignore int32) (*Var, int) {
	shape := logits.Shape()
	if len(shape) == 0 || shape[len(shape)-1] == 0 {
		panic(&tensor.ShapeError{Op: "CrossEntropy", Shapes: [][]int{shape}, Msg: "logits need a non-empty class axis"})
	}
	v := shape[len(shape)-1]
	n := logits.Value.Numel() / v
	if len(targets) != n {
		panic(&tensor.ShapeError{Op: "CrossEntropy", Shapes: [][]int{shape, {len(targets)}}, Msg: fmt.Sprintf("%d rows of logits, %d targets", n, len(targets))})
	}
	count := 0
	for i, t := range targets {
		if t == ignore {
			continue
		}
		if t < 0 || int(t) >= v {
			panic(&tensor.ShapeError{Op: "CrossEntropy", Shapes: [][]int{shape}, Msg: fmt.Sprintf("target %d at row %d is outside [0, %d)", t, i, v)})
		}
		count++
	}
	targets = append([]int32(nil), targets...)
	rowShape := append([]int(nil), shape[:len(shape)-1]...)
	if len(rowShape) == 0 {
		rowShape = []int{1}
	}
	dev := logits.Device()
	out := g.Result(g.Zeros(dev, rowShape...), logits)
	lse := g.Zeros(dev, n)
	dev.CrossEntropy(out.Value, lse, logits.Value, targets, ignore)
	g.OnBackward(out, func() {
		dev.CrossEntropyBackward(g.grad(logits), out.Grad, logits.Value, lse, targets, ignore)
	})
	return out, count
}
