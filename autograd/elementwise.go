package autograd

import "github.com/hungry-ssm/hungry/tensor"

// Add returns a + b. b's shape equals a's or is a suffix of it (leading ones aside): b
// then repeats over a's leading axes, as a bias does, and its gradient sums over them.
// The operands may come in either order when only a is the smaller one.
func Add(g *Graph, a, b *Var) *Var { return binary(g, tensor.OpAdd, a, b) }

// Sub returns a − b, broadcasting b as Add does.
func Sub(g *Graph, a, b *Var) *Var { return binary(g, tensor.OpSub, a, b) }

// Mul returns the element-wise product a ⊙ b, broadcasting as Add does.
func Mul(g *Graph, a, b *Var) *Var { return binary(g, tensor.OpMul, a, b) }

// Div returns the element-wise quotient a / b, broadcasting b as Add does.
func Div(g *Graph, a, b *Var) *Var { return binary(g, tensor.OpDiv, a, b) }

func binary(g *Graph, op tensor.BinaryOp, a, b *Var) *Var {
	commutes := op == tensor.OpAdd || op == tensor.OpMul
	if commutes && a.Value.Numel() < b.Value.Numel() {
		a, b = b, a
	}
	tensor.BroadcastShapes(op.String(), a.Shape(), b.Shape())
	dev := a.Device()
	out := g.Result(dev.Zeros(a.Shape()...), a, b)
	dev.Binary(op, out.Value, a.Value, b.Value)
	g.OnBackward(out, func() {
		var da, db *tensor.Tensor
		if a.RequiresGrad() {
			da = a.GradTensor()
		}
		if b.RequiresGrad() {
			db = b.GradTensor()
		}
		dev.BinaryBackward(op, da, db, out.Grad, a.Value, b.Value)
	})
	return out
}

// Scale returns alpha·x.
func Scale(g *Graph, x *Var, alpha float32) *Var {
	dev := x.Device()
	out := g.Result(dev.Zeros(x.Shape()...), x)
	dev.Scale(out.Value, x.Value, alpha)
	g.OnBackward(out, func() { dev.Axpy(alpha, out.Grad, x.GradTensor()) })
	return out
}
