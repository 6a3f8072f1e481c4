package gpu

import (
	"fmt"

	"github.com/hungry-ssm/hungry/tensor"
)

// DiagSSMChunk implements tensor.StatePassKernels: the longest sequence the fused H3
// convolution takes in one launch (MaxH3ConvLen), above which CausalConv would fall back
// to the O(L²) direct kernel.
func (d *Device) DiagSSMChunk() int { return MaxH3ConvLen }

// The state-passing kernels run on the host for now (counted in HostFallbacks): their
// operands are one chunk and the (B, C, N, 2) states, O(Lc·C) floats a transfer, against
// the O(Lc·C·N) float64 work per chunk that the host does. A PTX kernel written like
// diag_ssm_kernel, one thread per (channel, mode) with the powers in float64, is what
// would replace them.

// DiagSSMStateOut implements tensor.StatePassKernels.
func (d *Device) DiagSSMStateOut(y, x, logDt, invAReal, aImag, b, c *tensor.Tensor, disc tensor.Discretization) {
	tensor.StateShapes("DiagSSMStateOut", y, x, logDt, invAReal, aImag, b, c)
	d.onHost("DiagSSMStateOut", []*tensor.Tensor{y, x, logDt, invAReal, aImag, b, c}, []int{0}, func(cpu *tensor.CPU, h []*tensor.Tensor) {
		cpu.DiagSSMStateOut(h[0], h[1], h[2], h[3], h[4], h[5], h[6], disc)
	})
}

// DiagSSMStateOutBackward implements tensor.StatePassKernels.
func (d *Device) DiagSSMStateOutBackward(dy, x, logDt, invAReal, aImag, b, c *tensor.Tensor, disc tensor.Discretization,
	dx, dLogDt, dInvAReal, dAImag, dB, dC *tensor.Tensor) {
	tensor.StateShapes("DiagSSMStateOutBackward", dy, x, logDt, invAReal, aImag, b, c)
	d.onHost("DiagSSMStateOutBackward", []*tensor.Tensor{dy, x, logDt, invAReal, aImag, b, c, dx, dLogDt, dInvAReal, dAImag, dB, dC},
		[]int{7, 8, 9, 10, 11, 12}, func(cpu *tensor.CPU, h []*tensor.Tensor) {
			cpu.DiagSSMStateOutBackward(h[0], h[1], h[2], h[3], h[4], h[5], h[6], disc, h[7], h[8], h[9], h[10], h[11], h[12])
		})
}

// DiagSSMStateNext implements tensor.StatePassKernels.
func (d *Device) DiagSSMStateNext(xNew, x, u, logDt, invAReal, aImag, b, c *tensor.Tensor, disc tensor.Discretization) {
	tensor.StateShapes("DiagSSMStateNext", u, x, logDt, invAReal, aImag, b, c)
	d.onHost("DiagSSMStateNext", []*tensor.Tensor{xNew, x, u, logDt, invAReal, aImag, b, c}, []int{0}, func(cpu *tensor.CPU, h []*tensor.Tensor) {
		cpu.DiagSSMStateNext(h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7], disc)
	})
}

// DiagSSMStateNextBackward implements tensor.StatePassKernels.
func (d *Device) DiagSSMStateNextBackward(dxNew, x, u, logDt, invAReal, aImag, b, c *tensor.Tensor, disc tensor.Discretization,
	dx, du, dLogDt, dInvAReal, dAImag, dB, dC *tensor.Tensor) {
	tensor.StateShapes("DiagSSMStateNextBackward", u, x, logDt, invAReal, aImag, b, c)
	d.onHost("DiagSSMStateNextBackward", []*tensor.Tensor{dxNew, x, u, logDt, invAReal, aImag, b, c, dx, du, dLogDt, dInvAReal, dAImag, dB, dC},
		[]int{8, 9, 10, 11, 12, 13, 14}, func(cpu *tensor.CPU, h []*tensor.Tensor) {
			cpu.DiagSSMStateNextBackward(h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7], disc, h[8], h[9], h[10], h[11], h[12], h[13], h[14])
		})
}

// SetH3Diag implements tensor.StatePassKernels. The step kernel's modes lie (batch, d, M)
// for head_dim 1, and (dh_i, batch, heads, dh_j, M) in the launch over the outer
// products otherwise: a permutation of x's (batch, heads, dh_i, dh_j, M).
func (d *Device) SetH3Diag(st tensor.H3State, x *tensor.Tensor) {
	s := d.h3State("SetH3Diag", st)
	r := s.r
	dh, heads, m := r.HeadDim, r.Heads(), r.Modes()
	if !tensor.SameShape(x.Shape(), []int{s.batch, heads * dh * dh, m, 2}) {
		panic(&tensor.ShapeError{Op: "SetH3Diag", Shapes: [][]int{x.Shape()}, Msg: fmt.Sprintf("state must be (%d, %d, %d, 2)", s.batch, heads*dh*dh, m)})
	}
	if s.host != nil {
		d.onHost("SetH3Diag", []*tensor.Tensor{x}, nil, func(cpu *tensor.CPU, h []*tensor.Tensor) {
			cpu.SetH3Diag(s.host, h[0])
		})
		return
	}
	if s.entries == nil {
		d.Copy(s.first.diag, x)
		return
	}
	d.Permute(s.entries.diag.Reshape(dh, s.batch, heads, dh, 2*m), x.Reshape(s.batch, heads, dh, dh, 2*m), []int{2, 0, 1, 3, 4}, false)
}
