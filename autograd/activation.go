package autograd

import "github.com/hungry-ssm/hungry/tensor"

// GELU applies the tanh approximation of the Gaussian error linear unit,
// 0.5x(1+tanh(√(2/π)(x+0.044715x³))), element-wise (GPT-2's and H3's MLP activation).
func GELU(g *Graph, x *Var) *Var { return unary(g, tensor.OpGELU, x) }

// ReLU applies max(x, 0) element-wise.
func ReLU(g *Graph, x *Var) *Var { return unary(g, tensor.OpReLU, x) }

// SiLU applies x·σ(x) element-wise.
func SiLU(g *Graph, x *Var) *Var { return unary(g, tensor.OpSiLU, x) }

// Sigmoid applies σ(x) = 1/(1+e^−x) element-wise.
func Sigmoid(g *Graph, x *Var) *Var { return unary(g, tensor.OpSigmoid, x) }

// Tanh applies tanh element-wise.
func Tanh(g *Graph, x *Var) *Var { return unary(g, tensor.OpTanh, x) }

// Exp applies e^x element-wise.
func Exp(g *Graph, x *Var) *Var { return unary(g, tensor.OpExp, x) }

func unary(g *Graph, op tensor.UnaryOp, x *Var) *Var {
	dev := x.Device()
	out := g.Result(g.Zeros(dev, x.Shape()...), x)
	dev.Unary(op, out.Value, x.Value)
	g.OnBackward(out, func() { dev.UnaryBackward(op, g.grad(x), out.Grad, x.Value, out.Value) })
	return out
}
