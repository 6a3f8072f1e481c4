package autograd

import (
	"fmt"

	"github.com/hungry-ssm/hungry/tensor"
)

// Dropout zeroes each element of x with probability p and scales the survivors by
// 1/(1−p) (inverted dropout, so evaluation needs no rescaling). p == 0 returns x itself.
// The mask is drawn from rng on the host, so a seed fixes it on every device. p outside
// [0, 1] is a programming error and panics.
func Dropout(g *Graph, x *Var, p float32, rng *tensor.RNG) *Var {
	if p < 0 || p > 1 {
		panic(fmt.Sprintf("autograd: dropout probability %v outside [0, 1]", p))
	}
	if p == 0 {
		return x
	}
	mask := make([]float32, x.Value.Numel())
	keep := float32(0)
	if p < 1 {
		keep = 1 / (1 - p)
	}
	for i := range mask {
		if rng.Float32() >= p {
			mask[i] = keep
		}
	}
	dev := x.Device()
	m := dev.FromHost(mask, x.Shape()...)
	out := g.Result(g.Zeros(dev, x.Shape()...), x)
	dev.Binary(tensor.OpMul, out.Value, x.Value, m)
	g.OnBackward(out, func() { dev.BinaryBackward(tensor.OpMul, g.grad(x), nil, out.Grad, x.Value, m) })
	return out
}
