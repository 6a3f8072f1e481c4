package gpu

import (
	"github.com/hungry-ssm/hungry/tensor"
)

// Building blocks shared by the methods: the elementwise kernels on whole tensors, row
// gathers and column sums.

// vec runs fn on the addresses of ts with each one 16-byte aligned, as the elementwise
// kernels' vector loads need: a view that starts elsewhere goes through an aligned copy,
// and the copies of the tensors listed in written are copied back afterwards.
func (d *Device) vec(ts []*tensor.Tensor, written []int, fn func(p []uint64)) {
	p := make([]uint64, len(ts))
	tmp := make([]*tensor.Tensor, len(ts))
	for i, t := range ts {
		p[i] = d.ptr(t)
		if p[i]%16 != 0 {
			tmp[i] = d.empty(t.Numel())
			d.copyT(tmp[i], t)
			p[i] = d.ptr(tmp[i])
		}
	}
	fn(p)
	for _, i := range written {
		if tmp[i] != nil {
			d.copyT(ts[i], tmp[i])
		}
	}
}

func elemGrid(n int) [3]int { return [3]int{ceilDiv(n, 1024), 1, 1} }

// add computes out = a + b over a's elements (b has as many).
func (d *Device) add(out, a, b *tensor.Tensor) {
	n := a.Numel()
	if n == 0 {
		return
	}
	d.vec([]*tensor.Tensor{out, a, b}, []int{0}, func(p []uint64) {
		d.launch("add_f32", elemGrid(n), 0, aPtr(p[0]), aPtr(p[1]), aPtr(p[2]), aU32(n))
	})
}

func (d *Device) scale(out, x *tensor.Tensor, alpha float32) {
	n := x.Numel()
	if n == 0 {
		return
	}
	d.vec([]*tensor.Tensor{out, x}, []int{0}, func(p []uint64) {
		d.launch("scale_f32", elemGrid(n), 0, aPtr(p[0]), aPtr(p[1]), aF32(alpha), aU32(n))
	})
}

// axpy accumulates y += alpha·x.
func (d *Device) axpy(y, x *tensor.Tensor, alpha float32) {
	n := x.Numel()
	if n == 0 {
		return
	}
	d.vec([]*tensor.Tensor{y, x}, []int{0}, func(p []uint64) {
		d.launch("axpy_f32", elemGrid(n), 0, aPtr(p[0]), aPtr(p[1]), aF32(alpha), aU32(n))
	})
}

// gather copies rows ids[i] (each dim long) of table (rows × dim) into row i of out.
func (d *Device) gather(out, table, ids *tensor.Tensor, rows, dim int) {
	nt := ids.Numel()
	if nt == 0 || dim == 0 {
		return
	}
	d.launch("embedding_fwd_f32", [3]int{ceilDiv(nt*dim, 256), 1, 1}, 0,
		aPtr(d.ptr(out)), aPtr(d.ptr(table)), aPtr(d.ptr(ids)), aU32(nt), aU32(rows), aU32(dim))
}

// Column sums (over a long axis, with few outputs) split the axis into chunks of
// sumChunk rows when there are fewer than sumWide outputs: one thread per output would
// otherwise add the whole axis alone. The partial sums go to a scratch that a second
// pass adds in chunk order, so the result is deterministic either way.
const (
	sumChunk = 256
	sumWide  = 16384
	maxGridY = 65535
)

// chunking returns the rows per chunk for a column sum of n rows and cols outputs, and
// the number of chunks (1: a single pass).
func chunking(n, cols int) (chunk, chunks int) {
	if cols >= sumWide || n <= sumChunk {
		return max(n, 1), 1
	}
	chunk = max(sumChunk, ceilDiv(n, maxGridY))
	return chunk, ceilDiv(n, chunk)
}

// columnSum computes out (+)= alpha·Σ over the middle axis of x viewed as (outer, n,
// inner), with sum_axis_f32 (in two passes for a long axis).
func (d *Device) columnSum(out, x *tensor.Tensor, outer, n, inner int, alpha float32, accumulate bool) {
	cols := outer * inner
	chunk, chunks := chunking(n, cols)
	if chunks == 1 {
		d.launch("sum_axis_f32", [3]int{ceilDiv(cols, 256), 1, 1}, 0, aPtr(d.ptr(out)), aPtr(d.ptr(x)),
			aU32(outer), aU32(n), aU32(inner), aU32(chunk), aF32(alpha), aBool(accumulate))
		return
	}
	scratch := d.empty(chunks * cols)
	d.launch("sum_axis_f32", [3]int{ceilDiv(cols, 256), chunks, 1}, 0, aPtr(d.ptr(scratch)), aPtr(d.ptr(x)),
		aU32(outer), aU32(n), aU32(inner), aU32(chunk), aF32(1), aBool(false))
	d.launch("sum_axis_f32", [3]int{ceilDiv(cols, 256), 1, 1}, 0, aPtr(d.ptr(out)), aPtr(d.ptr(scratch)),
		aU32(1), aU32(chunks), aU32(cols), aU32(chunks), aF32(alpha), aBool(accumulate))
}

// ptrOrNull is t's address, or the null pointer the kernels read as "absent".
func (d *Device) ptrOrNull(t *tensor.Tensor) uint64 {
	if t == nil {
		return 0
	}
	return d.ptr(t)
}
