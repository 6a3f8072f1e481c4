package gpu

import (
	"fmt"
	"math"

	"github.com/hungry-ssm/hungry/ptx/kernels"
	"github.com/hungry-ssm/hungry/tensor"
)

// The tensor.Kernels methods. Each dispatches to PTX kernels where they cover the case
// and falls back to the CPU kernel (counted) where they do not. The CPU kernels in
// package tensor are the reference semantics: results are stored, or accumulated where
// the interface says so.

// MatMul implements tensor.LinalgKernels with the TF32 tensor-core SGEMM kernels (NN, NT,
// TN, TT), covering a batch the way the CPU does: one tall product, one product with the
// batch stacked along the shared axis, or one launch per matrix.
func (d *Device) MatMul(out, a, b *tensor.Tensor, transA, transB, accumulate bool) {
	batchShape, m, n, k := tensor.MatMulShapes(out, a, b, transA, transB)
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

// gemm computes C = op(A)·op(B) + beta·C with one SGEMM launch.
func (d *Device) gemm(transA, transB bool, m, n, k int, a uint64, lda int, b uint64, ldb int, beta float32, c uint64, ldc int) {
	name := "sgemm_nn"
	switch {
	case transA && transB:
		name = "sgemm_tt"
	case transA:
		name = "sgemm_tn"
	case transB:
		name = "sgemm_nt"
	}
	d.launch(name, [3]int{ceilDiv(n, 64), ceilDiv(m, 64), 1}, 0,
		aPtr(c), aPtr(a), aPtr(b), aU32(m), aU32(n), aU32(k), aU32(lda), aU32(ldb), aU32(ldc), aF32(1), aF32(beta))
}

var binaryName = map[tensor.BinaryOp]string{tensor.OpAdd: "add", tensor.OpSub: "sub", tensor.OpMul: "mul", tensor.OpDiv: "div"}

func binaryOpName(op tensor.BinaryOp) string {
	name, ok := binaryName[op]
	if !ok {
		panic("gpu: unknown " + op.String())
	}
	return name
}

// Binary implements tensor.ElementwiseKernels with the broadcasting binary kernels.
func (d *Device) Binary(op tensor.BinaryOp, out, a, b *tensor.Tensor) {
	n, nb := a.Numel(), b.Numel()
	if n == 0 {
		return
	}
	d.launch("binary_"+binaryOpName(op)+"_f32", elemGrid(n), 0, aPtr(d.ptr(out)), aPtr(d.ptr(a)), aPtr(d.ptr(b)), aU32(n), aU32(nb))
}

// BinaryBackward implements tensor.ElementwiseKernels. db sums over b's repeats in a
// fixed order (in chunks for many repeats).
func (d *Device) BinaryBackward(op tensor.BinaryOp, da, db, dout, a, b *tensor.Tensor) {
	n, nb := a.Numel(), b.Numel()
	if n == 0 {
		return
	}
	opName := binaryOpName(op)
	if da != nil {
		d.launch("binary_bwd_a_"+opName+"_f32", elemGrid(n), 0, aPtr(d.ptr(da)), aPtr(d.ptr(dout)), aPtr(d.ptr(b)), aU32(n), aU32(nb))
	}
	if db == nil {
		return
	}
	name := "binary_bwd_b_" + opName + "_f32"
	reps := n / nb
	chunk, chunks := chunking(reps, nb)
	grid := [3]int{ceilDiv(nb, 256), chunks, 1}
	if chunks == 1 {
		d.launch(name, grid, 0, aPtr(d.ptr(db)), aPtr(d.ptr(dout)), aPtr(d.ptr(a)), aPtr(d.ptr(b)),
			aU32(reps), aU32(nb), aU32(chunk), aBool(true))
		return
	}
	scratch := d.empty(chunks * nb)
	d.launch(name, grid, 0, aPtr(d.ptr(scratch)), aPtr(d.ptr(dout)), aPtr(d.ptr(a)), aPtr(d.ptr(b)),
		aU32(reps), aU32(nb), aU32(chunk), aBool(false))
	d.columnSum(db, scratch, 1, chunks, nb, 1, true)
}

var unaryName = map[tensor.UnaryOp]string{tensor.OpGELU: "gelu", tensor.OpReLU: "relu", tensor.OpSiLU: "silu",
	tensor.OpSigmoid: "sigmoid", tensor.OpTanh: "tanh", tensor.OpExp: "exp"}

func unaryOpName(op tensor.UnaryOp) string {
	name, ok := unaryName[op]
	if !ok {
		panic("gpu: unknown " + op.String())
	}
	return name
}

// Unary implements tensor.ElementwiseKernels.
func (d *Device) Unary(op tensor.UnaryOp, out, x *tensor.Tensor) {
	n := x.Numel()
	if n == 0 {
		return
	}
	d.launch("unary_"+unaryOpName(op)+"_f32", elemGrid(n), 0, aPtr(d.ptr(out)), aPtr(d.ptr(x)), aU32(n))
}

// UnaryBackward implements tensor.ElementwiseKernels.
func (d *Device) UnaryBackward(op tensor.UnaryOp, dx, dout, x, y *tensor.Tensor) {
	n := x.Numel()
	if n == 0 {
		return
	}
	d.launch("unary_bwd_"+unaryOpName(op)+"_f32", elemGrid(n), 0, aPtr(d.ptr(dx)), aPtr(d.ptr(dout)), aPtr(d.ptr(x)), aPtr(d.ptr(y)), aU32(n))
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

// maxPermuteRank is the rank the permute kernel takes.
const maxPermuteRank = 6

// Permute implements tensor.ElementwiseKernels.
func (d *Device) Permute(out, x *tensor.Tensor, perm []int, accumulate bool) {
	shape := x.Shape()
	outShape := tensor.PermuteShape(shape, perm)
	n := x.Numel()
	if n == 0 {
		return
	}
	rank := len(shape)
	if rank > maxPermuteRank {
		d.onHost("Permute(rank>6)", []*tensor.Tensor{out, x}, []int{0}, func(c *tensor.CPU, h []*tensor.Tensor) {
			c.Permute(h[0], h[1], perm, accumulate)
		})
		return
	}
	if r, c, ok := swapsLastTwo(shape, perm); ok {
		d.transpose(out, x, n/(r*c), r, c, accumulate)
		return
	}
	stride := make([]int, rank)
	s := 1
	for i := rank - 1; i >= 0; i-- {
		stride[i] = s
		s *= shape[i]
	}
	args := []arg{aPtr(d.ptr(out)), aPtr(d.ptr(x)), aU32(n)}
	dims := make([]arg, 0, maxPermuteRank)
	strides := make([]arg, 0, maxPermuteRank)
	for a := 0; a < maxPermuteRank-rank; a++ {
		dims = append(dims, aU32(1))
		strides = append(strides, aU32(0))
	}
	for a := 0; a < rank; a++ {
		dims = append(dims, aU32(outShape[a]))
		strides = append(strides, aU32(stride[perm[a]]))
	}
	args = append(append(append(args, dims...), strides...), aBool(accumulate))
	d.launch("permute_f32", [3]int{ceilDiv(n, 256), 1, 1}, 0, args...)
}

// swapsLastTwo reports whether perm keeps every axis but the last two, which it swaps,
// and returns their lengths.
func swapsLastTwo(shape, perm []int) (r, c int, ok bool) {
	rank := len(perm)
	if rank < 2 || perm[rank-2] != rank-1 || perm[rank-1] != rank-2 {
		return 0, 0, false
	}
	for i := 0; i < rank-2; i++ {
		if perm[i] != i {
			return 0, 0, false
		}
	}
	return shape[rank-2], shape[rank-1], true
}

// maxGridZ bounds the batch of one transpose launch.
const maxGridZ = 65535

// transpose writes (or adds) the batch of (r, c) matrices of x transposed into out, with
// the tiled kernel that reads and writes whole rows of tiles.
func (d *Device) transpose(out, x *tensor.Tensor, batch, r, c int, accumulate bool) {
	po, px := d.ptr(out), d.ptr(x)
	for b0 := 0; b0 < batch; b0 += maxGridZ {
		nb := min(maxGridZ, batch-b0)
		off := uint64(4 * b0 * r * c)
		d.launch("transpose_f32", [3]int{ceilDiv(c, 32), ceilDiv(r, 32), nb}, 0, aPtr(po+off), aPtr(px+off),
			aU32(nb), aU32(r), aU32(c), aBool(accumulate))
	}
}

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
		d.launch("sum_rows_f32", [3]int{outer, 1, 1}, 0, aPtr(d.ptr(out)), aPtr(d.ptr(x)), aU32(outer), aU32(n),
			aF32(alpha), aBool(accumulate))
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
	total := dx.Numel()
	if total == 0 {
		return
	}
	d.launch("broadcast_axis_f32", [3]int{ceilDiv(total, 256), 1, 1}, 0, aPtr(d.ptr(dx)), aPtr(d.ptr(dout)),
		aU32(outer), aU32(n), aU32(inner), aF32(alpha))
}

func lastAxis(t *tensor.Tensor) (rows, cols int) {
	cols = t.Dim(-1)
	if cols == 0 {
		return 0, 0
	}
	return t.Numel() / cols, cols
}

// Softmax implements tensor.NNKernels.
func (d *Device) Softmax(out, x *tensor.Tensor, mode tensor.SoftmaxMode) {
	rows, cols := lastAxis(x)
	if rows == 0 {
		return
	}
	name := "softmax_fwd_f32"
	switch mode {
	case tensor.SoftmaxLog:
		name = "logsoftmax_fwd_f32"
	case tensor.SoftmaxCausal:
		name = "softmax_causal_fwd_f32"
	}
	d.launch(name, [3]int{rows, 1, 1}, 0, aPtr(d.ptr(out)), aPtr(d.ptr(x)), aU32(rows), aU32(cols))
}

// SoftmaxBackward implements tensor.NNKernels.
func (d *Device) SoftmaxBackward(dx, dout, y *tensor.Tensor, mode tensor.SoftmaxMode) {
	rows, cols := lastAxis(y)
	if rows == 0 {
		return
	}
	if mode == tensor.SoftmaxLog {
		d.launch("logsoftmax_bwd_acc_f32", [3]int{rows, 1, 1}, 0, aPtr(d.ptr(dx)), aPtr(d.ptr(y)), aPtr(d.ptr(dout)),
			aU32(rows), aU32(cols))
		return
	}
	d.launch("softmax_bwd_acc_f32", [3]int{rows, 1, 1}, 0, aPtr(d.ptr(dx)), aPtr(d.ptr(y)), aPtr(d.ptr(dout)),
		aU32(rows), aU32(cols), aBool(mode == tensor.SoftmaxCausal))
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

// LayerNormBackward implements tensor.NNKernels: dx by a block per row, dw and db by a
// thread per feature summing the rows in order (chunked for many rows).
func (d *Device) LayerNormBackward(dx, dw, db, dout, x, w, mean, rstd *tensor.Tensor) {
	rows, cols := lastAxis(x)
	if rows == 0 {
		return
	}
	if dx != nil {
		d.launch("layernorm_bwd_dx_acc_f32", [3]int{rows, 1, 1}, 0, aPtr(d.ptr(dx)), aPtr(d.ptr(dout)), aPtr(d.ptr(x)),
			aPtr(d.ptr(mean)), aPtr(d.ptr(rstd)), aPtr(d.ptrOrNull(w)), aU32(rows), aU32(cols))
	}
	if dw == nil && db == nil {
		return
	}
	chunk, chunks := chunking(rows, cols)
	grid := [3]int{ceilDiv(cols, 256), chunks, 1}
	if chunks == 1 {
		d.launch("layernorm_bwd_dw_f32", grid, 0, aPtr(d.ptrOrNull(dw)), aPtr(d.ptrOrNull(db)), aPtr(d.ptr(dout)),
			aPtr(d.ptr(x)), aPtr(d.ptr(mean)), aPtr(d.ptr(rstd)), aU32(rows), aU32(cols), aU32(chunk), aBool(true))
		return
	}
	var sw, sb *tensor.Tensor
	if dw != nil {
		sw = d.empty(chunks * cols)
	}
	if db != nil {
		sb = d.empty(chunks * cols)
	}
	d.launch("layernorm_bwd_dw_f32", grid, 0, aPtr(d.ptrOrNull(sw)), aPtr(d.ptrOrNull(sb)), aPtr(d.ptr(dout)),
		aPtr(d.ptr(x)), aPtr(d.ptr(mean)), aPtr(d.ptr(rstd)), aU32(rows), aU32(cols), aU32(chunk), aBool(false))
	if dw != nil {
		d.columnSum(dw, sw, 1, chunks, cols, 1, true)
	}
	if db != nil {
		d.columnSum(db, sb, 1, chunks, cols, 1, true)
	}
}

// Gather implements tensor.NNKernels.
func (d *Device) Gather(out, table *tensor.Tensor, ids []int32) {
	if len(ids) == 0 {
		return
	}
	d.gather(out, table, d.uploadI32(ids), table.Dim(0), table.Dim(-1))
}

// ScatterAdd implements tensor.NNKernels without atomics: the ids are grouped on the host
// (they are host data), and each table row adds its tokens' rows in token order, as the
// CPU does, so the result is deterministic.
func (d *Device) ScatterAdd(dtable, dout *tensor.Tensor, ids []int32) {
	dim := dtable.Dim(-1)
	if len(ids) == 0 || dim == 0 {
		return
	}
	uniq, start, pos := kernels.GroupIDs(ids)
	d.launch("embedding_bwd_grouped_f32", [3]int{ceilDiv(len(uniq)*dim, 256), 1, 1}, 0, aPtr(d.ptr(dtable)), aPtr(d.ptr(dout)),
		aPtr(d.ptr(d.uploadI32(uniq))), aPtr(d.ptr(d.uploadI32(start))), aPtr(d.ptr(d.uploadI32(pos))), aU32(len(uniq)), aU32(dim))
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
	d.launch("cross_entropy_ignore_fwd_f32", [3]int{rows, 1, 1}, 0, aPtr(d.ptr(loss)), aPtr(d.ptr(lse)), aPtr(d.ptr(logits)),
		aPtr(d.ptr(d.uploadI32(targets))), aU32(rows), aU32(v), aS32(ignore))
}

// CrossEntropyBackward implements tensor.NNKernels.
func (d *Device) CrossEntropyBackward(dlogits, dloss, logits, lse *tensor.Tensor, targets []int32, ignore int32) {
	rows, v := lastAxis(logits)
	if rows == 0 {
		return
	}
	d.launch("cross_entropy_bwd_acc_f32", [3]int{rows, 1, 1}, 0, aPtr(d.ptr(dlogits)), aPtr(d.ptr(logits)), aPtr(d.ptr(lse)),
		aPtr(d.ptr(d.uploadI32(targets))), aPtr(d.ptr(dloss)), aU32(rows), aU32(v), aS32(ignore))
}

// CausalConv implements tensor.ConvKernels: with the direct kernel, O(L·Lk) per channel,
// for short kernels, through FFTs, O(L log L), for long ones.
func (d *Device) CausalConv(y, u, k, skip *tensor.Tensor) {
	nb, l, h, lk := tensor.ConvShapes("CausalConv", y, u, k, skip)
	if useFFT(l, lk) {
		d.fftConv(y, u, k, skip, nb, l, h, lk)
		return
	}
	d.launch("causal_conv_fwd_f32", [3]int{ceilDiv(nb*l*h, 256), 1, 1}, 0, aPtr(d.ptr(y)), aPtr(d.ptr(u)), aPtr(d.ptr(k)),
		aPtr(d.ptrOrNull(skip)), aU32(nb), aU32(l), aU32(h), aU32(lk))
}

// CausalConvBackward implements tensor.ConvKernels, choosing like CausalConv.
func (d *Device) CausalConvBackward(du, dk, dd, dy, u, k, skip *tensor.Tensor) {
	nb, l, h, lk := tensor.ConvShapes("CausalConvBackward", nil, u, k, skip)
	if useFFT(l, lk) {
		d.fftConvBackward(du, dk, dd, dy, u, k, skip, nb, l, h, lk)
		return
	}
	d.convBackward(du, dk, dd, dy, u, k, skip, nb, l, h, lk)
}

func (d *Device) convBackward(du, dk, dd, dy, u, k, skip *tensor.Tensor, nb, l, h, lk int) {
	if du != nil {
		d.launch("causal_conv_bwd_du_f32", [3]int{ceilDiv(nb*l*h, 256), 1, 1}, 0, aPtr(d.ptr(du)), aPtr(d.ptr(dy)),
			aPtr(d.ptr(k)), aPtr(d.ptrOrNull(skip)), aU32(nb), aU32(l), aU32(h), aU32(lk))
	}
	if dk != nil || dd != nil {
		d.launch("causal_conv_bwd_dk_f32", [3]int{ceilDiv(h, 32), ceilDiv(lk, 8), 1}, 0, aPtr(d.ptrOrNull(dk)),
			aPtr(d.ptrOrNull(dd)), aPtr(d.ptr(dy)), aPtr(d.ptr(u)), aU32(nb), aU32(l), aU32(h), aU32(lk))
	}
}

// useFFT reports whether a causal convolution goes through FFTs.
func useFFT(l, lk int) bool {
	n, _ := fftPlan(l)
	return lk >= fftConvMinTaps && n <= maxFFT
}

// shortTaps is the kernel length the short-convolution kernels are written for.
const shortTaps = 64

// ShortConv implements tensor.ConvKernels: the 64-tap kernel when k has exactly 64 taps
// (and is 16-byte aligned), the direct convolution of any length otherwise.
func (d *Device) ShortConv(y, u, k, skip *tensor.Tensor) {
	nb, l, h, lk := tensor.ConvShapes("ShortConv", y, u, k, skip)
	if lk != shortTaps || d.ptr(k)%16 != 0 {
		d.launch("causal_conv_fwd_f32", [3]int{ceilDiv(nb*l*h, 256), 1, 1}, 0, aPtr(d.ptr(y)), aPtr(d.ptr(u)), aPtr(d.ptr(k)),
			aPtr(d.ptrOrNull(skip)), aU32(nb), aU32(l), aU32(h), aU32(lk))
		return
	}
	if skip == nil {
		skip = d.filled(h, 0)
	}
	d.launch("shortconv_fwd_f32", [3]int{ceilDiv(nb*l*h, 256), 1, 1}, 0, aPtr(d.ptr(y)), aPtr(d.ptr(u)),
		aPtr(d.ptr(k)), aPtr(d.ptr(skip)), aU32(nb), aU32(l), aU32(h))
}

// ShortConvBackward implements tensor.ConvKernels. The 64-tap kernels write their
// results, which are then added; the direct ones accumulate.
func (d *Device) ShortConvBackward(du, dk, dd, dy, u, k, skip *tensor.Tensor) {
	nb, l, h, lk := tensor.ConvShapes("ShortConvBackward", nil, u, k, skip)
	if lk != shortTaps || d.ptr(k)%16 != 0 {
		d.convBackward(du, dk, dd, dy, u, k, skip, nb, l, h, lk)
		return
	}
	if du != nil {
		s := skip
		if s == nil {
			s = d.filled(h, 0)
		}
		t := d.empty(u.Numel())
		d.launch("shortconv_bwd_du_f32", [3]int{ceilDiv(nb*l*h, 256), 1, 1}, 0, aPtr(d.ptr(t)), aPtr(d.ptr(dy)),
			aPtr(d.ptr(k)), aPtr(d.ptr(s)), aU32(nb), aU32(l), aU32(h))
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
		d.add(dk, dk, tk)
	}
}

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
	d.launch("diag_ssm_kernel_f32", [3]int{ceilDiv(l, 256), h, 1}, 0, aPtr(d.ptr(k)), aPtr(d.ptr(logDt)), aPtr(d.ptr(invAReal)),
		aPtr(d.ptr(aImag)), aPtr(d.ptr(b)), aPtr(d.ptr(c)), aU32(h), aU32(n), aU32(l), aU32(int(disc)))
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
	d.launch("diag_ssm_kernel_bwd_f32", [3]int{h, 1, 1}, 0, aPtr(d.ptrOrNull(dLogDt)), aPtr(d.ptrOrNull(dInvAReal)),
		aPtr(d.ptrOrNull(dAImag)), aPtr(d.ptrOrNull(dB)), aPtr(d.ptrOrNull(dC)), aPtr(d.ptr(dk)), aPtr(d.ptr(logDt)),
		aPtr(d.ptr(invAReal)), aPtr(d.ptr(aImag)), aPtr(d.ptr(b)), aPtr(d.ptr(c)), aU32(h), aU32(n), aU32(dk.Dim(1)), aU32(int(disc)))
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
	d.launch("shift_ssm_kernel_f32", [3]int{ceilDiv(h*lk, 256), 1, 1}, 0, aPtr(d.ptr(k)), aPtr(d.ptr(b)), aPtr(d.ptr(c)),
		aU32(h), aU32(n), aU32(lk))
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
	d.launch("shift_ssm_kernel_bwd_f32", [3]int{ceilDiv(h*n, 256), 1, 1}, 0, aPtr(d.ptrOrNull(dB)), aPtr(d.ptrOrNull(dC)),
		aPtr(d.ptr(dk)), aPtr(d.ptr(b)), aPtr(d.ptr(c)), aU32(h), aU32(n), aU32(lk))
}

// normBlocks bounds the blocks of the squared-norm kernel: each writes one partial sum.
const normBlocks = 1024

// SquaredNorm implements tensor.OptimKernels: per-block partial sums of squares on the
// device, added in float64 on the host (the result is a host value anyway, so reading
// the ≤ 1024 partials costs the same synchronisation as reading one).
func (d *Device) SquaredNorm(x *tensor.Tensor) float64 {
	n := x.Numel()
	if n == 0 {
		return 0
	}
	g := min(ceilDiv(n, 256), normBlocks)
	parts := d.empty(g)
	d.launch("squared_norm_partial_f32", [3]int{g, 1, 1}, 0, aPtr(d.ptr(parts)), aPtr(d.ptr(x)), aU32(n))
	host := make([]float32, g)
	d.ToHost(host, parts)
	s := 0.0
	for _, v := range host {
		s += float64(v)
	}
	return s
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
	d.launch("adamw_f32", elemGrid(n), 0, aPtr(d.ptr(p)), aPtr(d.ptr(m)), aPtr(d.ptr(v)), aPtr(d.ptr(grad)),
		aF32(s.Beta1), aF32(s.Beta2), aF32(s.Eps), aF32(decay), aF32(stepSize), aF32(sqrtBC2), aF32(s.GradScale), aU32(n))
}

// SGD implements tensor.OptimKernels.
func (d *Device) SGD(p, grad, buf *tensor.Tensor, lr, momentum, weightDecay, gradScale float32) {
	n := p.Numel()
	if grad.Numel() != n || buf.Numel() != n {
		panic(&tensor.ShapeError{Op: "SGD", Shapes: [][]int{p.Shape(), grad.Shape(), buf.Shape()}, Msg: "element counts differ"})
	}
	if n == 0 {
		return
	}
	d.launch("sgd_f32", elemGrid(n), 0, aPtr(d.ptr(p)), aPtr(d.ptr(buf)), aPtr(d.ptr(grad)), aF32(lr), aF32(momentum),
		aF32(weightDecay), aF32(gradScale), aU32(n))
}
