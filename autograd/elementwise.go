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
	out := g.Result(g.Zeros(dev, a.Shape()...), a, b)
	dev.Binary(op, out.Value, a.Value, b.Value)
	g.OnBackward(out, func() {
		// The gradient of a sum or difference with respect to a is out's gradient itself:
		// a takes it when it has none yet (takeGrad). b may take it instead when a does
		// not, never both, so the two gradients never share storage. For a product, a
		// without a gradient takes out's gradient scaled in place by b, once b's gradient
		// (which reads it) is done.
		var da, db *tensor.Tensor
		dout, taken, scaleIntoA := out.Grad, false, false
		if a.RequiresGrad() {
			switch {
			case (op == tensor.OpAdd || op == tensor.OpSub) && a.Grad == nil:
				g.takeGrad(a, dout)
				taken = true
			case op == tensor.OpMul && a.Grad == nil:
				scaleIntoA, taken = true, true
			default:
				da = g.grad(a)
			}
		}
		if b.RequiresGrad() {
			if op == tensor.OpAdd && !taken && b.Grad == nil && tensor.SameShape(b.Shape(), dout.Shape()) {
				g.takeGrad(b, dout)
			} else {
				db = g.grad(b)
			}
		}
		if da != nil || db != nil {
			dev.BinaryBackward(op, da, db, dout, a.Value, b.Value)
		}
		if scaleIntoA {
			dev.Binary(tensor.OpMul, dout, dout, b.Value)
			g.takeGrad(a, dout)
		}
	})
	return out
}

// Scale returns alpha·x.
func Scale(g *Graph, x *Var, alpha float32) *Var {
	dev := x.Device()
	out := g.Result(g.Zeros(dev, x.Shape()...), x)
	dev.Scale(out.Value, x.Value, alpha)
	g.OnBackward(out, func() { dev.Axpy(alpha, out.Grad, g.grad(x)) })
	return out
}
