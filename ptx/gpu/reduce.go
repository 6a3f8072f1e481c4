package gpu

import (
	"fmt"

	"github.com/hungry-ssm/hungry/ptx/kernels"
	"github.com/hungry-ssm/hungry/tensor"
)

// SumAxis implements tensor.ReduceKernels: a block per row when the axis is innermost,
// a thread per output (chunked for a long axis) otherwise.
func (d *Device) SumAxis(out, x *tensor.Tensor, axis int, alpha float32, accumulate bool) {
	outer, n, inner, _ := tensor.AxisSplit("SumAxis", x.Shape(), axis)
	if out.Numel() != outer*inner {
		panic(&tensor.ShapeError{Op: "SumAxis", Shapes: [][]int{x.Shape(), out.Shape()}, Msg: fmt.Sprintf("result needs %d elements", outer*inner)})
	}
	if outer*inner == 0 {
		return
	}
	if n == 0 {
		if !accumulate {
			d.Fill(out, 0)
		}
		return
	}
	if inner == 1 {
		d.run(kernels.SumRowsF32(d, d.p(out), d.p(x), u32(outer), u32(n), alpha, accumulate))
		return
	}
	d.columnSum(out, x, outer, n, inner, alpha, accumulate)
}

// BroadcastAxis implements tensor.ReduceKernels.
func (d *Device) BroadcastAxis(dx, dout *tensor.Tensor, axis int, alpha float32) {
	outer, n, inner, _ := tensor.AxisSplit("BroadcastAxis", dx.Shape(), axis)
	if dout.Numel() != outer*inner {
		panic(&tensor.ShapeError{Op: "BroadcastAxis", Shapes: [][]int{dx.Shape(), dout.Shape()}, Msg: fmt.Sprintf("gradient needs %d elements", outer*inner)})
	}
	if dx.Numel() == 0 {
		return
	}
	d.run(kernels.BroadcastAxisF32(d, d.p(dx), d.p(dout), u32(outer), u32(n), u32(inner), alpha))
}

// Column sums (over a long axis, with few outputs) split the axis into chunks of
// sumChunk rows when there are fewer than sumWide outputs: one thread per output would
// otherwise add the whole axis alone. The partial sums go to a scratch that a second
// pass adds in chunk order, so the result is deterministic either way.
const (
	sumChunk = 256
	sumWide  = 16384
)

// chunking returns the rows per chunk for a column sum of n rows and cols outputs, and
// the number of chunks (1: a single pass). The chunks are grid.y, so there are at most
// 65535.
func chunking(n, cols int) (chunk, chunks int) {
	if cols >= sumWide || n <= sumChunk {
		return max(n, 1), 1
	}
	chunk = max(sumChunk, ceilDiv(n, kernels.MaxGridYZ))
	return chunk, ceilDiv(n, chunk)
}

// columnSum computes out (+)= alpha·Σ over the middle axis of x viewed as (outer, n,
// inner), with sum_axis_f32 (in two passes for a long axis).
func (d *Device) columnSum(out, x *tensor.Tensor, outer, n, inner int, alpha float32, accumulate bool) {
	cols := outer * inner
	chunk, chunks := chunking(n, cols)
	if chunks == 1 {
		d.run(kernels.SumAxisF32(d, d.p(out), d.p(x), u32(outer), u32(n), u32(inner), u32(chunk), alpha, accumulate))
		return
	}
	scratch := d.empty(chunks * cols)
	d.run(kernels.SumAxisF32(d, d.p(scratch), d.p(x), u32(outer), u32(n), u32(inner), u32(chunk), 1, false))
	d.run(kernels.SumAxisF32(d, d.p(out), d.p(scratch), 1, u32(chunks), u32(cols), u32(chunks), alpha, accumulate))
}
