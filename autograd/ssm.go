package autograd

import (
	"fmt"

	"github.com/hungry-ssm/hungry/tensor"
)

// DiagSSMKernel returns the convolution kernel K (H, L) of a diagonal (S4D) SSM from its
// parameters as the official SSKernelDiag stores them: logDt (H), invAReal and aImag
// (H, N), b (H, N, 2) and c ((1,) H, N, 2) as real/imaginary pairs. See
// tensor.SSMKernels for the formula.
func DiagSSMKernel(g *Graph, logDt, invAReal, aImag, b, c *Var, length int, disc tensor.Discretization) *Var {
	h, _ := tensor.DiagSSMShapes("DiagSSMKernel", logDt.Value, invAReal.Value, aImag.Value, b.Value, c.Value)
	if length < 1 {
		panic(&tensor.ShapeError{Op: "DiagSSMKernel", Shapes: [][]int{logDt.Shape()}, Msg: fmt.Sprintf("kernel length %d < 1", length)})
	}
	dev := logDt.Device()
	out := g.Result(g.Zeros(dev, h, length), logDt, invAReal, aImag, b, c)
	dev.DiagSSMKernel(out.Value, logDt.Value, invAReal.Value, aImag.Value, b.Value, c.Value, disc)
	g.OnBackward(out, func() {
		dev.DiagSSMKernelBackward(out.Grad, logDt.Value, invAReal.Value, aImag.Value, b.Value, c.Value, disc,
			g.gradOrNil(logDt), g.gradOrNil(invAReal), g.gradOrNil(aImag), g.gradOrNil(b), g.gradOrNil(c))
	})
	return out
}

// ShiftSSMKernel returns the first taps (≤ N) coefficients of the shift SSM's kernel
// (H, taps) from b (H, N) and c ((1,) H, N); the kernel is zero beyond N.
func ShiftSSMKernel(g *Graph, b, c *Var, taps int) *Var {
	h, n := tensor.ShiftSSMShapes("ShiftSSMKernel", b.Value, c.Value)
	if taps < 1 || taps > n {
		panic(&tensor.ShapeError{Op: "ShiftSSMKernel", Shapes: [][]int{b.Shape()}, Msg: fmt.Sprintf("taps %d outside [1, %d]", taps, n)})
	}
	dev := b.Device()
	out := g.Result(g.Zeros(dev, h, taps), b, c)
	dev.ShiftSSMKernel(out.Value, b.Value, c.Value)
	g.OnBackward(out, func() {
		dev.ShiftSSMKernelBackward(out.Grad, b.Value, c.Value, g.gradOrNil(b), g.gradOrNil(c))
	})
	return out
}
