package gpu

import (
	"fmt"
	"math"

	"github.com/hungry-ssm/hungry/tensor"
)

// The tensor.Kernels methods. Each dispatches to PTX kernels where they cover the case
// and falls back to the CPU kernel (counted) where they do not. The CPU kernels in
// package tensor are the reference semantics: results are stored, or accumulated where
// the interface says so.

// MatMul implements tensor.LinalgKernels with the TF32 tensor-core SGEMM kernels (NN, NT,
// TN), covering a batch the way the CPU does: one tall product, one product with the
// batch stacked along the shared axis, or one launch per matrix.
func (d *Device) MatMul(out, a, b *tensor.Tensor, transA, transB, accumulate bool) {
	batchShape, m, n, k := tensor.MatMulShapes(out, a, b, transA, transB)
	if transA && transB {
		d.onHost("MatMul(TT)", []*tensor.Tensor{out, a, b}, []int{0}, func(c *tensor.CPU, h []*tensor.Tensor) {
			c.MatMul(h[0], h[1], h[2], true, true, accumulate)
		})
		return
	}
	if m == 0 || n == 0 {
		return
	}
	batch := tensor.Numel(batchShape)
	beta := float32(0)
	if accumulate {
		beta = 1
	}
	lda, ldb := k, n
	if transA {
		lda = m
	}
	if transB {
		ldb = k
	}
	pa, pb, pc := d.ptr(a), d.ptr(b), d.ptr(out)
	sharedA, sharedB := a.Rank() == 2, b.Rank() == 2
	sumOut := out.Rank() == 2 && batch > 1
	sa, sb := uint64(4*m*k), uint64(4*k*n)
	if sharedA {
		sa = 0
	}
	if sharedB {
		sb = 0
	}
	switch {
	case batch == 1:
		d.gemm(transA, transB, m, n, k, pa, lda, pb, ldb, beta, pc, n)
	case sharedB && !transA && !sumOut:
		d.gemm(false, transB, batch*m, n, k, pa, lda, pb, ldb, beta, pc, n)
	case sumOut && transA && !transB && !sharedA && !sharedB:
		d.gemm(true, false, m, n, batch*k, pa, lda, pb, ldb, beta, pc, n)
	case !sumOut:
		for i := 0; i < batch; i++ {
			d.gemm(transA, transB, m, n, k, pa+uint64(i)*sa, lda, pb+uint64(i)*sb, ldb, beta, pc+uint64(4*i*m*n), n)
		}
	default:
		// Every product adds into the one result, in order on the one stream.
		for i := 0; i < batch; i++ {
			bi := beta
			if i > 0 {
				bi = 1
			}
			d.gemm(transA, transB, m, n, k, pa+uint64(i)*sa, lda, pb+uint64(i)*sb, ldb, bi, pc, n)
		}
	}
}

// gemm computes C = op(A)·op(B) + beta·C with one SGEMM launch (not both transposed).
func (d *Device) gemm(transA, transB bool, m, n, k int, a uint64, lda int, b uint64, ldb int, beta float32, c uint64, ldc int) {
	name := "sgemm_nn"
	switch {
	case transA:
		name = "sgemm_tn"
	case transB:
		name = "sgemm_nt"
	}
	d.launch(name, [3]int{ceilDiv(n, 64), ceilDiv(m, 64), 1}, 0,
		aPtr(c), aPtr(a), aPtr(b), aU32(m), aU32(n), aU32(k), aU32(lda), aU32(ldb), aU32(ldc), aF32(1), aF32(beta))
}

// Binary implements tensor.ElementwiseKernels. A repeated b is first tiled to a's size
// by a row gather.
func (d *Device) Binary(op tensor.BinaryOp, out, a, b *tensor.Tensor) {
	n, nb := a.Numel(), b.Numel()
	if op == tensor.OpDiv {
		d.onHost("Binary(Div)", []*tensor.Tensor{out, a, b}, []int{0}, func(c *tensor.CPU, h []*tensor.Tensor) {
			c.Binary(op, h[0], h[1], h[2])
		})
		return
	}
	if n == 0 {
		return
	}
	bb := b
	if nb != n {
		bb = d.tile(b, n)
	}
	switch op {
	case tensor.OpAdd:
		d.add(out, a, bb)
	case tensor.OpSub:
		// a + (−1)·b is a − b exactly.
		t := d.empty(n)
		d.scale(t, bb, -1)
		d.add(out, a, t)
	case tensor.OpMul:
		d.mul(out, a, bb)
	default:
		panic("gpu: unknown " + op.String())
	}
}

// BinaryBackward implements tensor.ElementwiseKernels; db sums over b's repeats by
// pairwise halving.
func (d *Device) BinaryBackward(op tensor.BinaryOp, da, db, dout, a, b *tensor.Tensor) {
	n, nb := a.Numel(), b.Numel()
	if op == tensor.OpDiv {
		d.onHost("BinaryBackward(Div)", []*tensor.Tensor{da, db, dout, a, b}, []int{0, 1}, func(c *tensor.CPU, h []*tensor.Tensor) {
			c.BinaryBackward(op, h[0], h[1], h[2], h[3], h[4])
		})
		return
	}
	if n == 0 {
		return
	}
	if da != nil {
		switch op {
		case tensor.OpAdd, tensor.OpSub:
			d.add(da, da, dout)
		case tensor.OpMul:
			bb := b
			if nb != n {
				bb = d.tile(b, n)
			}
			t := d.empty(n)
			d.mul(t, dout, bb)
			d.add(da, da, t)
		}
	}
	if db == nil {
		return
	}
	g := dout
	if op == tensor.OpMul {
		g = d.empty(n)
		d.mul(g, dout, a)
	}
	if nb != n {
		g = d.colSum(g, n/nb, nb)
	}
	if op == tensor.OpSub {
		d.axpy(db, g, -1)
	} else {
		d.add(db, db, g)
	}
}

// Unary implements tensor.ElementwiseKernels.
func (d *Device) Unary(op tensor.UnaryOp, out, x *tensor.Tensor) {
	n := x.Numel()
	if op != tensor.OpGELU {
		d.onHost("Unary("+op.String()+")", []*tensor.Tensor{out, x}, []int{0}, func(c *tensor.CPU, h []*tensor.Tensor) {
			c.Unary(op, h[0], h[1])
		})
		return
	}
	if n == 0 {
		return
	}
	d.vec([]*tensor.Tensor{out, x}, []int{0}, func(p []uint64) {
		d.launch("gelu_fwd_f32", elemGrid(n), 0, aPtr(p[0]), aPtr(p[1]), aU32(n))
	})
}

// UnaryBackward implements tensor.ElementwiseKernels.
func (d *Device) UnaryBackward(op tensor.UnaryOp, dx, dout, x, y *tensor.Tensor) {
	n := x.Numel()
	if op != tensor.OpGELU {
		d.onHost("UnaryBackward("+op.String()+")", []*tensor.Tensor{dx, dout, x, y}, []int{0}, func(c *tensor.CPU, h []*tensor.Tensor) {
			c.UnaryBackward(op, h[0], h[1], h[2], h[3])
		})
		return
	}
	if n == 0 {
		return
	}
	t := d.empty(n)
	d.vec([]*tensor.Tensor{t, x, dout}, []int{0}, func(p []uint64) {
		d.launch("gelu_bwd_f32", elemGrid(n), 0, aPtr(p[0]), aPtr(p[1]), aPtr(p[2]), aU32(n))
	})
	d.add(dx, dx, t)
}

// Scale implements tensor.ElementwiseKernels.
func (d *Device) Scale(out, x *tensor.Tensor, alpha float32) { d.scale(out, x, alpha) }

// Axpy implements tensor.ElementwiseKernels.
func (d *Device) Axpy(alpha float32, x, y *tensor.Tensor) {
	if x.Numel() != y.Numel() {
		panic(&tensor.ShapeError{Op: "Axpy", Shapes: [][]int{x.Shape(), y.Shape()}, Msg: "element counts differ"})
	}
	d.axpy(y, x, alpha)
}

// Permute implements tensor.ElementwiseKernels as a row gather whose indices (computed
// once per shape) name the source of every run of elements the permutation keeps
// together.
func (d *Device) Permute(out, x *tensor.Tensor, perm []int, accumulate bool) {
	if x.Numel() == 0 {
		return
	}
	var p *tensor.Tensor
	if isIdentity(perm) {
		p = x
	} else {
		p = d.permuted(x, perm)
	}
	switch {
	case accumulate:
		d.add(out, out, p)
	case p == x:
		d.copyT(out, x)
	default:
		d.copyT(out, p)
	}
}

// SumAxis implements tensor.ReduceKernels: a row-sum kernel when the axis is innermost,
// pairwise halving across rows otherwise.
func (d *Device) SumAxis(out, x *tensor.Tensor, axis int, alpha float32, accumulate bool) {
	outer, n, inner, ax := tensor.AxisSplit("SumAxis", x.Shape(), axis)
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
	var s *tensor.Tensor
	switch {
	case inner == 1:
		s = d.empty(outer)
		d.rowSums(s, x, outer, n)
	case outer == 1:
		s = d.colSum(x, n, inner)
	default:
		// Bring the summed axis to the front, then add rows.
		rank := x.Rank()
		perm := make([]int, 0, rank)
		perm = append(perm, ax)
		for i := 0; i < rank; i++ {
			if i != ax {
				perm = append(perm, i)
			}
		}
		s = d.colSum(d.permuted(x, perm), n, outer*inner)
	}
	d.store(out, s, alpha, accumulate)
}

// BroadcastAxis implements tensor.ReduceKernels: dout's rows are gathered into dx's shape
// and added.
func (d *Device) BroadcastAxis(dx, dout *tensor.Tensor, axis int, alpha float32) {
	outer, n, inner, _ := tensor.AxisSplit("BroadcastAxis", dx.Shape(), axis)
	if dout.Numel() != outer*inner {
		panic(&tensor.ShapeError{Op: "BroadcastAxis", Shapes: [][]int{dx.Shape(), dout.Shape()}, Msg: fmt.Sprintf("gradient needs %d elements", outer*inner)})
	}
	if dx.Numel() == 0 {
		return
	}
	t := d.regather(fmt.Sprintf("broadcast %d %d", outer, n), dout, outer, inner, outer*n, func(i int) int { return i / n })
	d.axpy(dx, t, alpha)
}

func lastAxis(t *tensor.Tensor) (rows, cols int) {
	cols = t.Dim(-1)
	if cols == 0 {
		return 0, 0
	}
	return t.Numel() / cols, cols
}

// Softmax implements tensor.NNKernels. The causal variant adds a −∞ mask above the
// diagonal and takes the plain softmax, which gives those entries exactly 0.
func (d *Device) Softmax(out, x *tensor.Tensor, mode tensor.SoftmaxMode) {
	rows, cols := lastAxis(x)
	if rows == 0 {
		return
	}
	name := "softmax_fwd_f32"
	src := x
	switch mode {
	case tensor.SoftmaxLog:
		name = "logsoftmax_fwd_f32"
	case tensor.SoftmaxCausal:
		src = d.empty(x.Numel())
		d.Binary(tensor.OpAdd, src, x, d.causalMask(cols))
	}
	d.launch(name, [3]int{rows, 1, 1}, 0, aPtr(d.ptr(out)), aPtr(d.ptr(src)), aU32(rows), aU32(cols))
}

// SoftmaxBackward implements tensor.NNKernels. The causal gradient is the plain one: the
// masked outputs are 0 and contribute nothing.
func (d *Device) SoftmaxBackward(dx, dout, y *tensor.Tensor, mode tensor.SoftmaxMode) {
	rows, cols := lastAxis(y)
	if rows == 0 {
		return
	}
	name := "softmax_bwd_f32"
	if mode == tensor.SoftmaxLog {
		name = "logsoftmax_bwd_f32"
	}
	t := d.empty(y.Numel())
	d.launch(name, [3]int{rows, 1, 1}, 0, aPtr(d.ptr(t)), aPtr(d.ptr(y)), aPtr(d.ptr(dout)), aU32(rows), aU32(cols))
	d.add(dx, dx, t)
}

// LayerNorm implements tensor.NNKernels; a missing scale or shift is a cached constant.
func (d *Device) LayerNorm(out, mean, rstd, x, w, b *tensor.Tensor, eps float32) {
	rows, cols := lastAxis(x)
	if rows == 0 {
		return
	}
	if w == nil {
		w = d.filled(cols, 1)
	}
	if b == nil {
		b = d.filled(cols, 0)
	}
	d.launch("layernorm_fwd_f32", [3]int{rows, 1, 1}, 0, aPtr(d.ptr(out)), aPtr(d.ptr(mean)), aPtr(d.ptr(rstd)),
		aPtr(d.ptr(x)), aPtr(d.ptr(w)), aPtr(d.ptr(b)), aU32(rows), aU32(cols), aF32(eps))
}

// LayerNormBackward implements tensor.NNKernels. The kernel adds dw and db by atomics
// into what they hold, and writes dx, which is then added.
func (d *Device) LayerNormBackward(dx, dw, db, dout, x, w, mean, rstd *tensor.Tensor) {
	rows, cols := lastAxis(x)
	if rows == 0 || (dx == nil && dw == nil && db == nil) {
		return
	}
	if w == nil {
		w = d.filled(cols, 1)
	}
	if dw == nil {
		dw = d.Zeros(cols)
	}
	if db == nil {
		db = d.Zeros(cols)
	}
	t := d.empty(x.Numel())
	d.launch("layernorm_bwd_f32", [3]int{rows, 1, 1}, 0, aPtr(d.ptr(t)), aPtr(d.ptr(dw)), aPtr(d.ptr(db)),
		aPtr(d.ptr(dout)), aPtr(d.ptr(x)), aPtr(d.ptr(mean)), aPtr(d.ptr(rstd)), aPtr(d.ptr(w)), aU32(rows), aU32(cols))
	if dx != nil {
		d.add(dx, dx, t)
	}
}

// Gather implements tensor.NNKernels.
func (d *Device) Gather(out, table *tensor.Tensor, ids []int32) {
	if len(ids) == 0 {
		return
	}
	d.gather(out, table, d.uploadI32(ids), table.Dim(0), table.Dim(-1))
}

// ScatterAdd implements tensor.NNKernels (atomic adds, so repeated ids add up in an
// unspecified order on a GPU).
func (d *Device) ScatterAdd(dtable, dout *tensor.Tensor, ids []int32) {
	if len(ids) == 0 {
		return
	}
	dim := dtable.Dim(-1)
	if dim == 0 {
		return
	}
	d.launch("embedding_bwd_f32", [3]int{ceilDiv(len(ids)*dim, 256), 1, 1}, 0,
		aPtr(d.ptr(dtable)), aPtr(d.ptr(dout)), aPtr(d.ptr(d.uploadI32(ids))), aU32(len(ids)), aU32(dtable.Dim(0)), aU32(dim))
}

// ceIgnore is the ignored target the cross-entropy kernels know.
const ceIgnore = -100

// targets uploads targets with the caller's ignore value mapped to the kernels' −100 (a
// real target is in [0, V), so none is mistaken for it).
func (d *Device) targets(targets []int32, ignore int32) *tensor.Tensor {
	t := targets
	if ignore != ceIgnore {
		t = make([]int32, len(targets))
		for i, v := range targets {
			if v == ignore {
				v = ceIgnore
			}
			t[i] = v
		}
	}
	return d.uploadI32(t)
}

// CrossEntropy implements tensor.NNKernels.
func (d *Device) CrossEntropy(loss, lse, logits *tensor.Tensor, targets []int32, ignore int32) {
	rows, v := lastAxis(logits)
	if len(targets) != rows || loss.Numel() != rows || lse.Numel() != rows {
		panic(&tensor.ShapeError{Op: "CrossEntropy", Shapes: [][]int{logits.Shape(), loss.Shape(), lse.Shape()},
			Msg: fmt.Sprintf("%d targets for %d rows", len(targets), rows)})
	}
	if rows == 0 {
		return
	}
	d.launch("cross_entropy_fwd_f32", [3]int{rows, 1, 1}, 0, aPtr(d.ptr(loss)), aPtr(d.ptr(lse)), aPtr(d.ptr(logits)),
		aPtr(d.ptr(d.targets(targets, ignore))), aU32(rows), aU32(v))
}

// CrossEntropyBackward implements tensor.NNKernels.
func (d *Device) CrossEntropyBackward(dlogits, dloss, logits, lse *tensor.Tensor, targets []int32, ignore int32) {
	rows, v := lastAxis(logits)
	if rows == 0 {
		return
	}
	t := d.empty(logits.Numel())
	d.launch("cross_entropy_bwd_f32", [3]int{rows, 1, 1}, 0, aPtr(d.ptr(t)), aPtr(d.ptr(logits)), aPtr(d.ptr(lse)),
		aPtr(d.ptr(d.targets(targets, ignore))), aPtr(d.ptr(dloss)), aU32(rows), aU32(v))
	d.add(dlogits, dlogits, t)
}

// CausalConv implements tensor.ConvKernels.
func (d *Device) CausalConv(y, u, k, dd *tensor.Tensor) {
	tensor.ConvShapes("CausalConv", y, u, k, dd)
	d.onHost("CausalConv", []*tensor.Tensor{y, u, k, dd}, []int{0}, func(c *tensor.CPU, h []*tensor.Tensor) {
		c.CausalConv(h[0], h[1], h[2], h[3])
	})
}

// CausalConvBackward implements tensor.ConvKernels.
func (d *Device) CausalConvBackward(du, dk, dd, dy, u, k, skip *tensor.Tensor) {
	tensor.ConvShapes("CausalConvBackward", nil, u, k, skip)
	d.onHost("CausalConvBackward", []*tensor.Tensor{du, dk, dd, dy, u, k, skip}, []int{0, 1, 2}, func(c *tensor.CPU, h []*tensor.Tensor) {
		c.CausalConvBackward(h[0], h[1], h[2], h[3], h[4], h[5], h[6])
	})
}

// shortTaps is the kernel length the short-convolution kernels are written for.
const shortTaps = 64

// padTaps returns k (H, Lk ≤ 64) as the (H, 64) kernel the short-convolution kernels
// read, zero beyond Lk and 16-byte aligned.
func (d *Device) padTaps(k *tensor.Tensor, h, lk int) *tensor.Tensor {
	if lk == shortTaps && d.ptr(k)%16 == 0 {
		return k
	}
	p := d.Zeros(h, shortTaps)
	for c := 0; c < h; c++ {
		d.copyT(span(p, c*shortTaps, c*shortTaps+lk), span(k, c*lk, (c+1)*lk))
	}
	return p
}

// ShortConv implements tensor.ConvKernels.
func (d *Device) ShortConv(y, u, k, skip *tensor.Tensor) {
	nb, l, h, lk := tensor.ConvShapes("ShortConv", y, u, k, skip)
	if lk > shortTaps {
		d.onHost("ShortConv(>64 taps)", []*tensor.Tensor{y, u, k, skip}, []int{0}, func(c *tensor.CPU, t []*tensor.Tensor) {
			c.ShortConv(t[0], t[1], t[2], t[3])
		})
		return
	}
	if skip == nil {
		skip = d.filled(h, 0)
	}
	d.launch("shortconv_fwd_f32", [3]int{ceilDiv(nb*l*h, 256), 1, 1}, 0, aPtr(d.ptr(y)), aPtr(d.ptr(u)),
		aPtr(d.ptr(d.padTaps(k, h, lk))), aPtr(d.ptr(skip)), aU32(nb), aU32(l), aU32(h))
}

// ShortConvBackward implements tensor.ConvKernels.
func (d *Device) ShortConvBackward(du, dk, dd, dy, u, k, skip *tensor.Tensor) {
	nb, l, h, lk := tensor.ConvShapes("ShortConvBackward", nil, u, k, skip)
	if lk > shortTaps {
		d.onHost("ShortConvBackward(>64 taps)", []*tensor.Tensor{du, dk, dd, dy, u, k, skip}, []int{0, 1, 2}, func(c *tensor.CPU, t []*tensor.Tensor) {
			c.ShortConvBackward(t[0], t[1], t[2], t[3], t[4], t[5], t[6])
		})
		return
	}
	if du != nil {
		s := skip
		if s == nil {
			s = d.filled(h, 0)
		}
		t := d.empty(u.Numel())
		d.launch("shortconv_bwd_du_f32", [3]int{ceilDiv(nb*l*h, 256), 1, 1}, 0, aPtr(d.ptr(t)), aPtr(d.ptr(dy)),
			aPtr(d.ptr(d.padTaps(k, h, lk))), aPtr(d.ptr(s)), aU32(nb), aU32(l), aU32(h))
		d.add(du, du, t)
	}
	if dk == nil && dd == nil {
		return
	}
	tk, td := d.empty(h, shortTaps), d.empty(h)
	d.launch("shortconv_bwd_dk_f32", [3]int{shortTaps, h, 1}, 0, aPtr(d.ptr(tk)), aPtr(d.ptr(td)), aPtr(d.ptr(dy)),
		aPtr(d.ptr(u)), aU32(nb), aU32(l), aU32(h))
	if dd != nil {
		d.add(dd, dd, td)
	}
	if dk != nil {
		if lk != shortTaps {
			c := d.empty(h, lk)
			for ch := 0; ch < h; ch++ {
				d.copyT(span(c, ch*lk, (ch+1)*lk), span(tk, ch*shortTaps, ch*shortTaps+lk))
			}
			tk = c
		}
		d.add(dk, dk, tk)
	}
}

// DiagSSMKernel implements tensor.SSMKernels.
func (d *Device) DiagSSMKernel(k, logDt, invAReal, aImag, b, c *tensor.Tensor, disc tensor.Discretization) {
	d.onHost("DiagSSMKernel", []*tensor.Tensor{k, logDt, invAReal, aImag, b, c}, []int{0}, func(cpu *tensor.CPU, h []*tensor.Tensor) {
		cpu.DiagSSMKernel(h[0], h[1], h[2], h[3], h[4], h[5], disc)
	})
}

// DiagSSMKernelBackward implements tensor.SSMKernels.
func (d *Device) DiagSSMKernelBackward(dk, logDt, invAReal, aImag, b, c *tensor.Tensor, disc tensor.Discretization,
	dLogDt, dInvAReal, dAImag, dB, dC *tensor.Tensor) {
	d.onHost("DiagSSMKernelBackward", []*tensor.Tensor{dk, logDt, invAReal, aImag, b, c, dLogDt, dInvAReal, dAImag, dB, dC},
		[]int{6, 7, 8, 9, 10}, func(cpu *tensor.CPU, h []*tensor.Tensor) {
			cpu.DiagSSMKernelBackward(h[0], h[1], h[2], h[3], h[4], h[5], disc, h[6], h[7], h[8], h[9], h[10])
		})
}

// ShiftSSMKernel implements tensor.SSMKernels.
func (d *Device) ShiftSSMKernel(k, b, c *tensor.Tensor) {
	d.onHost("ShiftSSMKernel", []*tensor.Tensor{k, b, c}, []int{0}, func(cpu *tensor.CPU, h []*tensor.Tensor) {
		cpu.ShiftSSMKernel(h[0], h[1], h[2])
	})
}

// ShiftSSMKernelBackward implements tensor.SSMKernels.
func (d *Device) ShiftSSMKernelBackward(dk, b, c, dB, dC *tensor.Tensor) {
	d.onHost("ShiftSSMKernelBackward", []*tensor.Tensor{dk, b, c, dB, dC}, []int{3, 4}, func(cpu *tensor.CPU, h []*tensor.Tensor) {
		cpu.ShiftSSMKernelBackward(h[0], h[1], h[2], h[3], h[4])
	})
}

// normChunk is how many squares one block of the row-sum kernel adds before the partial
// sums are added again, so a long vector is spread over many blocks.
const normChunk = 4096

// SquaredNorm implements tensor.OptimKernels: squares by the multiply kernel, then row
// sums of chunks and of the partial sums. The float32 sums of at most normChunk terms
// keep the relative error near 1e-6 for these positive terms; the value feeds gradient
// clipping.
func (d *Device) SquaredNorm(x *tensor.Tensor) float64 {
	n := x.Numel()
	if n == 0 {
		return 0
	}
	sq := d.empty(n)
	d.mul(sq, x, x)
	for n > 1 {
		rows := n / normChunk
		rest := n - rows*normChunk
		parts := rows
		if rest > 0 {
			parts++
		}
		s := d.empty(parts)
		if rows > 0 {
			d.rowSums(s, sq, rows, normChunk)
		}
		if rest > 0 {
			d.rowSums(span(s, rows, rows+1), span(sq, rows*normChunk, n), 1, rest)
		}
		sq, n = s, parts
	}
	var v [1]float32
	d.ToHost(v[:], sq)
	return float64(v[0])
}

// AdamW implements tensor.OptimKernels with the scalars folded as the CPU folds them.
func (d *Device) AdamW(p, grad, m, v *tensor.Tensor, s tensor.AdamWStep) {
	n := p.Numel()
	if grad.Numel() != n || m.Numel() != n || v.Numel() != n {
		panic(&tensor.ShapeError{Op: "AdamW", Shapes: [][]int{p.Shape(), grad.Shape(), m.Shape(), v.Shape()}, Msg: "element counts differ"})
	}
	if n == 0 {
		return
	}
	bc1 := 1 - math.Pow(float64(s.Beta1), float64(s.Step))
	bc2 := 1 - math.Pow(float64(s.Beta2), float64(s.Step))
	stepSize := float32(float64(s.LR) / bc1)
	sqrtBC2 := float32(math.Sqrt(bc2))
	decay := 1 - s.LR*s.WeightDecay
	d.vec([]*tensor.Tensor{p, m, v, grad}, []int{0, 1, 2}, func(q []uint64) {
		d.launch("adamw_f32", elemGrid(n), 0, aPtr(q[0]), aPtr(q[1]), aPtr(q[2]), aPtr(q[3]),
			aF32(s.Beta1), aF32(s.Beta2), aF32(s.Eps), aF32(decay), aF32(stepSize), aF32(sqrtBC2), aF32(s.GradScale), aU32(n))
	})
}

// SGD implements tensor.OptimKernels.
func (d *Device) SGD(p, grad, buf *tensor.Tensor, lr, momentum, weightDecay, gradScale float32) {
	d.onHost("SGD", []*tensor.Tensor{p, grad, buf}, []int{0, 2}, func(c *tensor.CPU, h []*tensor.Tensor) {
		c.SGD(h[0], h[1], h[2], lr, momentum, weightDecay, gradScale)
	})
}
