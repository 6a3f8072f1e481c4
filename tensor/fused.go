package tensor

import (
	"math"

	"github.com/hungry-ssm/hungry/tensor/internal/simd"
)

// FusedKernels do in one pass over memory what two simpler kernels would do in two: a
// dense layer's product with its bias added as the rows are written, and the residual
// addition with the LayerNorm that reads its result.
type FusedKernels interface {
	// Linear computes out = x·wᵀ + bias: x is (..., k) (its rows stacked), w is (n, k) as
	// PyTorch stores a Linear's weight, bias is (n) and out is (..., n). The bias is added
	// where the product is written, instead of being written first and read back by an
	// accumulating product.
	Linear(out, x, w, bias *Tensor)
	// AddLayerNorm computes sum = x + r and out = LayerNorm(sum) with scale w and shift b
	// (either may be nil), saving mean and rstd per row as LayerNorm does, in one pass
	// over the rows: the residual stream's update and the normalisation that follows it
	// in every pre-norm block. x, r, sum and out share a shape; mean and rstd hold one
	// value per row.
	AddLayerNorm(out, sum, mean, rstd, x, r, w, b *Tensor, eps float32)
}

// LinearShapes checks Linear's operands and returns the number of rows and (n, k). It
// panics with a *ShapeError naming the shapes when they do not fit.
func LinearShapes(out, x, w, bias *Tensor) (rows, n, k int) {
	bad := func(msg string) {
		panic(&ShapeError{Op: "Linear", Shapes: [][]int{out.shape, x.shape, w.shape, bias.shape}, Msg: msg})
	}
	if x.Rank() < 1 || w.Rank() != 2 || bias.Rank() != 1 {
		bad("x needs an axis, w two and the bias one")
	}
	n, k = w.shape[0], w.shape[1]
	if x.Dim(-1) != k || bias.shape[0] != n {
		bad("x's last axis must equal w's columns and the bias w's rows")
	}
	if out.Rank() != x.Rank() || !SameShape(out.shape[:out.Rank()-1], x.shape[:x.Rank()-1]) || out.Dim(-1) != n {
		bad("out must be x's shape with the last axis w's rows")
	}
	if k > 0 {
		rows = x.Numel() / k
	} else {
		rows = out.Numel() / max(n, 1)
	}
	return rows, n, k
}

// AddLayerNormShapes checks AddLayerNorm's operands and returns the rows and their length.
func AddLayerNormShapes(out, sum, mean, rstd, x, r, w, b *Tensor) (rows, d int) {
	bad := func(msg string) {
		panic(&ShapeError{Op: "AddLayerNorm", Shapes: [][]int{out.shape, sum.shape, x.shape, r.shape}, Msg: msg})
	}
	if x.Rank() < 1 || !SameShape(x.shape, r.shape) || !SameShape(x.shape, sum.shape) || !SameShape(x.shape, out.shape) {
		bad("x, r, sum and out must have one shape with at least one axis")
	}
	d = x.Dim(-1)
	if d > 0 {
		rows = x.Numel() / d
	}
	if mean.Numel() != rows || rstd.Numel() != rows {
		bad("mean and rstd need one element per row")
	}
	for _, p := range []*Tensor{w, b} {
		if p != nil && (p.Rank() != 1 || p.shape[0] != d) {
			bad("scale and shift must have the length of the last axis")
		}
	}
	return rows, d
}

// linearChunk is how many floats of out the CPU's Linear computes before adding their
// bias: a block of 512 KiB is still in a 1 MiB L2 cache (Zen 4 and 5; 512 KiB on Zen 3
// keeps most of it) beside the packed operands when the bias pass reads it back. Blocks
// of 256 KiB and 1 MiB measured the same on Zen 5; smaller blocks repack the weight more
// often, larger ones leave the cache.
const linearChunk = 1 << 17

// Linear implements FusedKernels. The product runs in blocks of rows; each block gets
// its bias right after the product wrote it, while it is still in cache.
func (c *CPU) Linear(out, x, w, bias *Tensor) {
	rows, n, k := LinearShapes(out, x, w, bias)
	if rows == 0 || n == 0 {
		return
	}
	if rows*n <= linearChunk || rows < 4*c.Workers() {
		// A result this small stays in cache anyway, and a few rows (a generation step's
		// one) are better split by the product itself, across its columns.
		simd.Sgemm(c.pool, false, true, rows, n, k, 1, x.data, k, w.data, k, 0, out.data, n)
		for r := 0; r < rows; r++ {
			row := out.data[r*n : (r+1)*n]
			simd.Add(row, row, bias.data)
		}
		return
	}
	block := max(1, min(rows, linearChunk/n))
	// Whole blocks for every worker: a block is the unit of the product's parallel split.
	block = max(1, min(block, (rows+c.Workers()-1)/c.Workers()))
	nblocks := (rows + block - 1) / block
	c.For(nblocks, 1, func(lo, hi int) {
		for blk := lo; blk < hi; blk++ {
			r0, r1 := blk*block, min((blk+1)*block, rows)
			od := out.data[r0*n : r1*n]
			simd.Sgemm(nil, false, true, r1-r0, n, k, 1, x.data[r0*k:], k, w.data, k, 0, od, n)
			for r := 0; r < r1-r0; r++ {
				row := od[r*n : (r+1)*n]
				simd.Add(row, row, bias.data)
			}
		}
	})
}

// AddLayerNorm implements FusedKernels: each row is added, normalised and written while
// it sits in L1, where the unfused ops would write the sum and read it back.
func (c *CPU) AddLayerNorm(out, sum, mean, rstd, x, r, w, b *Tensor, eps float32) {
	rows, d := AddLayerNormShapes(out, sum, mean, rstd, x, r, w, b)
	a := addLayerNormRows{d: d, eps: eps, out: out.data, sum: sum.data, x: x.data, r: r.data, mean: mean.data, rstd: rstd.data}
	if w != nil {
		a.w = w.data
	}
	if b != nil {
		a.b = b.data
	}
	forArgs(c, rows, rowGrainFor(d), a, addLayerNormRange)
}

// addLayerNormRows is what AddLayerNorm's rows read and write.
type addLayerNormRows struct {
	d                                int
	eps                              float32
	out, sum, x, r, mean, rstd, w, b []float32
}

func addLayerNormRange(a addLayerNormRows, lo, hi int) {
	d, eps := a.d, a.eps
	od, sd, xd, rd, md, sdv, wd, bd := a.out, a.sum, a.x, a.r, a.mean, a.rstd, a.w, a.b
	for i := lo; i < hi; i++ {
		sr, or := sd[i*d:(i+1)*d], od[i*d:(i+1)*d]
		simd.Add(sr, xd[i*d:(i+1)*d], rd[i*d:(i+1)*d])
		// The rest is LayerNorm's arithmetic, in its order, so the fused op gives the
		// unfused pair's results bit for bit.
		m := float32(sumF64(sr) / float64(d))
		for j, e := range sr {
			or[j] = e - m
		}
		v := dotF64(or, or)
		rs := float32(1 / math.Sqrt(v/float64(d)+float64(eps)))
		md[i], sdv[i] = m, rs
		simd.Scale(or, rs, or)
		if wd != nil {
			simd.Mul(or, or, wd)
		}
		if bd != nil {
			simd.Add(or, or, bd)
		}
	}
}
