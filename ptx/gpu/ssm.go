package gpu

import (
	"github.com/hungry-ssm/hungry/ptx/kernels"
	"github.com/hungry-ssm/hungry/tensor"
)

// DiagSSMKernel implements tensor.SSMKernels; like the CPU, the kernel works in float64.
func (d *Device) DiagSSMKernel(k, logDt, invAReal, aImag, b, c *tensor.Tensor, disc tensor.Discretization) {
	h, n := tensor.DiagSSMShapes("DiagSSMKernel", logDt, invAReal, aImag, b, c)
	if k.Rank() != 2 || k.Dim(0) != h {
		panic(&tensor.ShapeError{Op: "DiagSSMKernel", Shapes: [][]int{k.Shape(), logDt.Shape()}, Msg: "K must be (H, L)"})
	}
	l := k.Dim(1)
	if h*l == 0 {
		return
	}
	d.run(kernels.DiagSsmKernelF32(d, d.p(k), d.p(logDt), d.p(invAReal), d.p(aImag), d.p(b), d.p(c), u32(h), u32(n), u32(l), u32(int(disc))))
}

// DiagSSMKernelBackward implements tensor.SSMKernels.
func (d *Device) DiagSSMKernelBackward(dk, logDt, invAReal, aImag, b, c *tensor.Tensor, disc tensor.Discretization,
	dLogDt, dInvAReal, dAImag, dB, dC *tensor.Tensor) {
	h, n := tensor.DiagSSMShapes("DiagSSMKernelBackward", logDt, invAReal, aImag, b, c)
	if dk.Rank() != 2 || dk.Dim(0) != h {
		panic(&tensor.ShapeError{Op: "DiagSSMKernelBackward", Shapes: [][]int{dk.Shape(), logDt.Shape()}, Msg: "dK must be (H, L)"})
	}
	if h == 0 || (dLogDt == nil && dInvAReal == nil && dAImag == nil && dB == nil && dC == nil) {
		return
	}
	d.run(kernels.DiagSsmKernelBwdF32(d, d.pOrNull(dLogDt), d.pOrNull(dInvAReal), d.pOrNull(dAImag), d.pOrNull(dB), d.pOrNull(dC),
		d.p(dk), d.p(logDt), d.p(invAReal), d.p(aImag), d.p(b), d.p(c), u32(h), u32(n), u32(dk.Dim(1)), u32(int(disc))))
}

// ShiftSSMKernel implements tensor.SSMKernels.
func (d *Device) ShiftSSMKernel(k, b, c *tensor.Tensor) {
	h, n := tensor.ShiftSSMShapes("ShiftSSMKernel", b, c)
	lk := k.Dim(1)
	if k.Rank() != 2 || k.Dim(0) != h || lk > n {
		panic(&tensor.ShapeError{Op: "ShiftSSMKernel", Shapes: [][]int{k.Shape(), {h, n}}, Msg: "kernel must be (H, Lk) with Lk ≤ N"})
	}
	if h*lk == 0 {
		return
	}
	d.run(kernels.ShiftSsmKernelF32(d, d.p(k), d.p(b), d.p(c), u32(h), u32(n), u32(lk)))
}

// ShiftSSMKernelBackward implements tensor.SSMKernels.
func (d *Device) ShiftSSMKernelBackward(dk, b, c, dB, dC *tensor.Tensor) {
	h, n := tensor.ShiftSSMShapes("ShiftSSMKernelBackward", b, c)
	lk := dk.Dim(1)
	if dk.Rank() != 2 || dk.Dim(0) != h || lk > n {
		panic(&tensor.ShapeError{Op: "ShiftSSMKernelBackward", Shapes: [][]int{dk.Shape(), {h, n}}, Msg: "kernel must be (H, Lk) with Lk ≤ N"})
	}
	if h*n == 0 || (dB == nil && dC == nil) {
		return
	}
	d.run(kernels.ShiftSsmKernelBwdF32(d, d.pOrNull(dB), d.pOrNull(dC), d.p(dk), d.p(b), d.p(c), u32(h), u32(n), u32(lk)))
}
