package gpu

import (
	"fmt"

	"github.com/hungry-ssm/hungry/ptx/kernels"
	"github.com/hungry-ssm/hungry/tensor"
)

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
	fwd := kernels.SoftmaxFwdF32
	switch mode {
	case tensor.SoftmaxLog:
		fwd = kernels.LogsoftmaxFwdF32
	case tensor.SoftmaxCausal:
		fwd = kernels.SoftmaxCausalFwdF32
	}
	d.run(fwd(d, d.p(out), d.p(x), u32(rows), u32(cols)))
}

// SoftmaxBackward implements tensor.NNKernels.
func (d *Device) SoftmaxBackward(dx, dout, y *tensor.Tensor, mode tensor.SoftmaxMode) {
	rows, cols := lastAxis(y)
	if rows == 0 {
		return
	}
	if mode == tensor.SoftmaxLog {
		d.run(kernels.LogsoftmaxBwdAccF32(d, d.p(dx), d.p(y), d.p(dout), u32(rows), u32(cols)))
		return
	}
	d.run(kernels.SoftmaxBwdAccF32(d, d.p(dx), d.p(y), d.p(dout), u32(rows), u32(cols), mode == tensor.SoftmaxCausal))
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
	d.run(kernels.LayernormFwdF32(d, d.p(out), d.p(mean), d.p(rstd), d.p(x), d.p(w), d.p(b), u32(rows), u32(cols), eps))
}

// LayerNormBackward implements tensor.NNKernels: dx by a block per row, dw and db by a
// thread per feature summing the rows in order (chunked for many rows).
func (d *Device) LayerNormBackward(dx, dw, db, dout, x, w, mean, rstd *tensor.Tensor) {
	rows, cols := lastAxis(x)
	if rows == 0 {
		return
	}
	if dx != nil {
		d.run(kernels.LayernormBwdDxAccF32(d, d.p(dx), d.p(dout), d.p(x), d.p(mean), d.p(rstd), d.pOrNull(w), u32(rows), u32(cols)))
	}
	if dw == nil && db == nil {
		return
	}
	chunk, chunks := chunking(rows, cols)
	if chunks == 1 {
		d.run(kernels.LayernormBwdDwF32(d, d.pOrNull(dw), d.pOrNull(db), d.p(dout), d.p(x), d.p(mean), d.p(rstd),
			u32(rows), u32(cols), u32(chunk), true))
		return
	}
	var sw, sb *tensor.Tensor
	if dw != nil {
		sw = d.empty(chunks * cols)
	}
	if db != nil {
		sb = d.empty(chunks * cols)
	}
	d.run(kernels.LayernormBwdDwF32(d, d.pOrNull(sw), d.pOrNull(sb), d.p(dout), d.p(x), d.p(mean), d.p(rstd),
		u32(rows), u32(cols), u32(chunk), false))
	if dw != nil {
		d.columnSum(dw, sw, 1, chunks, cols, 1, true)
	}
	if db != nil {
		d.columnSum(db, sb, 1, chunks, cols, 1, true)
	}
}

// Gather implements tensor.NNKernels.
func (d *Device) Gather(out, table *tensor.Tensor, ids []int32) {
	dim := table.Dim(-1)
	if len(ids) == 0 || dim == 0 {
		return
	}
	d.run(kernels.EmbeddingFwdF32(d, d.p(out), d.p(table), d.p(d.uploadI32(ids)), u32(len(ids)), u32(table.Dim(0)), u32(dim)))
}

// ScatterAdd implements tensor.NNKernels without atomics: the ids are grouped on the host
// (they are host data), and each table row adds its tokens' rows in token order, as the
// CPU does, so the result is deterministic. The three index uploads are kernel arguments
// of one launch: each stays allocated until the launch is queued, however many
// collections the later uploads trigger.
func (d *Device) ScatterAdd(dtable, dout *tensor.Tensor, ids []int32) {
	dim := dtable.Dim(-1)
	if len(ids) == 0 || dim == 0 {
		return
	}
	uniq, start, pos := kernels.GroupIDs(ids)
	d.run(kernels.EmbeddingBwdGroupedF32(d, d.p(dtable), d.p(dout), d.p(d.uploadI32(uniq)), d.p(d.uploadI32(start)),
		d.p(d.uploadI32(pos)), u32(len(uniq)), u32(dim)))
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
	d.run(kernels.CrossEntropyIgnoreFwdF32(d, d.p(loss), d.p(lse), d.p(logits), d.p(d.uploadI32(targets)), u32(rows), u32(v), ignore))
}

// CrossEntropyBackward implements tensor.NNKernels.
func (d *Device) CrossEntropyBackward(dlogits, dloss, logits, lse *tensor.Tensor, targets []int32, ignore int32) {
	rows, v := lastAxis(logits)
	if rows == 0 {
		return
	}
	d.run(kernels.CrossEntropyBwdAccF32(d, d.p(dlogits), d.p(logits), d.p(lse), d.p(d.uploadI32(targets)), d.p(dloss),
		u32(rows), u32(v), ignore))
}
