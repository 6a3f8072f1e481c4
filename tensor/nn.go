package tensor

import (
	"fmt"
	"math"

	"github.com/hungry-ssm/hungry/tensor/internal/simd"
)

// SoftmaxMode selects what Softmax computes over the last axis.
type SoftmaxMode int

// The softmax variants.
const (
	// SoftmaxPlain is exp(x−max)/Σexp(x−max).
	SoftmaxPlain SoftmaxMode = iota
	// SoftmaxLog is log-softmax, x − max − log Σexp(x−max).
	SoftmaxLog
	// SoftmaxCausal is the softmax of attention scores (..., L, L) in which query i sees
	// keys 0..i only: the entries past the diagonal come out as 0.
	SoftmaxCausal
)

// NNKernels are the neural-network kernels: softmax, normalisation, embeddings, losses.
type NNKernels interface {
	// Softmax computes a softmax variant of every row (last axis) of x into out (same
	// shape; out may be x). For SoftmaxCausal the last two axes are square.
	Softmax(out, x *Tensor, mode SoftmaxMode)
	// SoftmaxBackward accumulates into dx the gradient of Softmax given its output y.
	SoftmaxBackward(dx, dout, y *Tensor, mode SoftmaxMode)
	// LayerNorm normalises every row (last axis, length d) of x to zero mean and unit
	// variance, then scales by w and shifts by b (each of length d; either may be nil):
	// out = (x−μ)·rstd·w + b with rstd = 1/√(var+eps), the biased variance. It stores μ and
	// rstd per row in mean and rstd for the backward pass.
	LayerNorm(out, mean, rstd, x, w, b *Tensor, eps float32)
	// LayerNormBackward accumulates the gradients of LayerNorm into dx, dw and db (any may
	// be nil; w nil means a unit scale).
	LayerNormBackward(dx, dw, db, dout, x, w, mean, rstd *Tensor)
	// Gather copies rows ids[i] of table (V, d) into row i of out (len(ids), d). The
	// caller checks that the ids are in range.
	Gather(out, table *Tensor, ids []int32)
	// ScatterAdd accumulates row i of dout into row ids[i] of dtable: Gather's gradient.
	ScatterAdd(dtable, dout *Tensor, ids []int32)
	// CrossEntropy computes per row r of logits (rows, V) the loss
	// loss[r] = logsumexp(logits[r]) − logits[r][targets[r]], and 0 where targets[r] ==
	// ignore. It stores logsumexp per row in lse for the backward pass. The caller checks
	// that the other targets are in [0, V).
	CrossEntropy(loss, lse, logits *Tensor, targets []int32, ignore int32)
	// CrossEntropyBackward accumulates dlogits[r] += dloss[r]·(softmax(logits[r]) −
	// onehot(targets[r])) for every row not ignored.
	CrossEntropyBackward(dlogits, dloss, logits, lse *Tensor, targets []int32, ignore int32)
}

func lastAxis(op string, t *Tensor) (rows, d int) {
	if t.Rank() == 0 {
		panic(&ShapeError{Op: op, Shapes: [][]int{t.shape}, Msg: "needs at least one axis"})
	}
	d = t.shape[len(t.shape)-1]
	if d == 0 {
		return 0, 0
	}
	return len(t.data) / d, d
}

func rowMax(x []float32) float32 {
	m := float32(math.Inf(-1))
	for _, v := range x {
		m = max(m, v)
	}
	return m
}

// Softmax implements NNKernels.
func (c *CPU) Softmax(out, x *Tensor, mode SoftmaxMode) {
	rows, d := lastAxis("Softmax", x)
	od, xd := out.data, x.data
	c.For(rows, rowGrainFor(d), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			xr, or := xd[r*d:(r+1)*d], od[r*d:(r+1)*d]
			valid := d
			if mode == SoftmaxCausal {
				valid = r%d + 1
				clear(or[valid:])
				xr, or = xr[:valid], or[:valid]
			}
			m := rowMax(xr)
			var s float64
			if mode == SoftmaxLog {
				// No exponentials are stored: out may be x, which the last loop still reads.
				for _, v := range xr {
					s += float64(simd.Expf(v - m))
				}
				// (v−m) is exact for the large entries; folding m into log s first would
				// round the sum at m's magnitude.
				ls := float32(math.Log(s))
				for j, v := range xr {
					or[j] = (v - m) - ls
				}
				continue
			}
			for j, v := range xr {
				e := simd.Expf(v - m)
				or[j] = e
				s += float64(e)
			}
			simd.Scale(or, float32(1/s), or)
		}
	})
}

// SoftmaxBackward implements NNKernels.
func (c *CPU) SoftmaxBackward(dx, dout, y *Tensor, mode SoftmaxMode) {
	rows, d := lastAxis("SoftmaxBackward", y)
	dd, gd, yd := dx.data, dout.data, y.data
	c.For(rows, rowGrainFor(d), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			dr, gr, yr := dd[r*d:(r+1)*d], gd[r*d:(r+1)*d], yd[r*d:(r+1)*d]
			switch mode {
			case SoftmaxLog:
				// y = log p: dx = dout − p·Σdout.
				s := simd.Sum(gr)
				for j := range dr {
					dr[j] += gr[j] - simd.Expf(yr[j])*s
				}
			default:
				// dx = p⊙(dout − Σ dout⊙p); masked entries have p = 0 and get nothing.
				if mode == SoftmaxCausal {
					valid := r%d + 1
					dr, gr, yr = dr[:valid], gr[:valid], yr[:valid]
				}
				s := simd.Dot(gr, yr)
				for j := range dr {
					dr[j] += yr[j] * (gr[j] - s)
				}
			}
		}
	})
}

// LayerNorm implements NNKernels.
func (c *CPU) LayerNorm(out, mean, rstd, x, w, b *Tensor, eps float32) {
	rows, d := lastAxis("LayerNorm", x)
	od, xd, md, rd := out.data, x.data, mean.data, rstd.data
	var wd, bd []float32
	if w != nil {
		wd = w.data
	}
	if b != nil {
		bd = b.data
	}
	c.For(rows, rowGrainFor(d), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			xr, or := xd[r*d:(r+1)*d], od[r*d:(r+1)*d]
			m := float32(sumF64(xr) / float64(d))
			// Two passes: the variance from centred values does not cancel catastrophically
			// for rows with a large mean. Near the mean the float32 differences are exact
			// (Sterbenz), and their squares are summed like the mean: float32 partial sums
			// of sumChunk elements added in float64.
			for j, e := range xr {
				or[j] = e - m
			}
			v := dotF64(or, or)
			rs := float32(1 / math.Sqrt(v/float64(d)+float64(eps)))
			md[r], rd[r] = m, rs
			simd.Scale(or, rs, or)
			if wd != nil {
				simd.Mul(or, or, wd)
			}
			if bd != nil {
				simd.Add(or, or, bd)
			}
		}
	})
}

// LayerNormBackward implements NNKernels.
func (c *CPU) LayerNormBackward(dx, dw, db, dout, x, w, mean, rstd *Tensor) {
	rows, d := lastAxis("LayerNormBackward", x)
	a := layerNormGrads{c: c, d: d, rows: rows, g: dout.data, x: x.data, mean: mean.data, rstd: rstd.data}
	if w != nil {
		a.w = w.data
	}
	if dx != nil {
		a.dx = dx.data
		forArgs(c, rows, rowGrainFor(d), a, layerNormDX)
	}
	if dw == nil && db == nil {
		return
	}
	if dw != nil {
		a.dw = dw.data
	}
	if db != nil {
		a.db = db.data
	}
	// dw and db sum over rows; split the features between workers so every sum runs in
	// row order whatever the number of workers.
	forArgs(c, d, rowGrainFor(rows), a, layerNormDWDB)
}

// layerNormGrads is what LayerNormBackward's loops read and write; a nil gradient is not
// wanted.
type layerNormGrads struct {
	c                   *CPU
	d, rows             int
	g, x, mean, rstd, w []float32
	dx, dw, db          []float32
}

// layerNormDX adds the input gradient of rows [lo, hi).
func layerNormDX(a layerNormGrads, lo, hi int) {
	d, gd, xd, md, rd, wd, dd := a.d, a.g, a.x, a.mean, a.rstd, a.w, a.dx
	work := a.c.f32(2 * d)
	defer a.c.putF32(work)
	xhat, gw := work[:d], work[d:]
	for r := lo; r < hi; r++ {
		xr, gr, dr := xd[r*d:(r+1)*d], gd[r*d:(r+1)*d], dd[r*d:(r+1)*d]
		m, rs := md[r], rd[r]
		for j, e := range xr {
			xhat[j] = (e - m) * rs
		}
		g := gr
		if wd != nil {
			simd.Mul(gw, gr, wd)
			g = gw
		}
		// dx = rstd·(g − mean(g) − x̂·mean(g⊙x̂)), with g the gradient at x̂.
		mg := simd.Sum(g) / float32(d)
		mgx := simd.Dot(g, xhat) / float32(d)
		for j := range dr {
			dr[j] += rs * (g[j] - mg - xhat[j]*mgx)
		}
	}
}

// layerNormDWDB adds the weight and bias gradients of features [lo, hi), summing over
// the rows in order.
func layerNormDWDB(a layerNormGrads, lo, hi int) {
	d, gd, xd, md, rd := a.d, a.g, a.x, a.mean, a.rstd
	xhat := a.c.f32(hi - lo)
	defer a.c.putF32(xhat)
	for r := 0; r < a.rows; r++ {
		gr := gd[r*d+lo : r*d+hi]
		if a.db != nil {
			dbd := a.db[lo:hi]
			simd.Add(dbd, dbd, gr)
		}
		if a.dw != nil {
			m, rs := md[r], rd[r]
			for j, e := range xd[r*d+lo : r*d+hi] {
				xhat[j] = (e - m) * rs
			}
			dwd := a.dw[lo:hi]
			simd.MulAdd(dwd, gr, xhat)
		}
	}
}

// Gather implements NNKernels.
func (c *CPU) Gather(out, table *Tensor, ids []int32) {
	d := table.shape[len(table.shape)-1]
	od, td := out.data, table.data
	c.For(len(ids), rowGrainFor(d), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			id := int(ids[i])
			copy(od[i*d:(i+1)*d], td[id*d:(id+1)*d])
		}
	})
}

// ScatterAdd implements NNKernels.
func (c *CPU) ScatterAdd(dtable, dout *Tensor, ids []int32) {
	d := dtable.shape[len(dtable.shape)-1]
	td, gd := dtable.data, dout.data
	// Repeated ids add into the same row, so split the features, not the ids, between
	// workers: no two touch one element and each sum keeps the ids' order.
	c.For(d, rowGrainFor(len(ids)), func(lo, hi int) {
		for i, id := range ids {
			t := td[int(id)*d+lo : int(id)*d+hi]
			simd.Add(t, t, gd[i*d+lo:i*d+hi])
		}
	})
}

// CrossEntropy implements NNKernels.
func (c *CPU) CrossEntropy(loss, lse, logits *Tensor, targets []int32, ignore int32) {
	rows, v := lastAxis("CrossEntropy", logits)
	if len(targets) != rows || len(loss.data) != rows || len(lse.data) != rows {
		panic(&ShapeError{Op: "CrossEntropy", Shapes: [][]int{logits.shape, loss.shape, lse.shape},
			Msg: fmt.Sprintf("%d targets for %d rows", len(targets), rows)})
	}
	ld, sd, xd := loss.data, lse.data, logits.data
	c.For(rows, rowGrainFor(v), func(lo, hi int) {
		ex := c.f32(v)
		defer c.putF32(ex)
		for r := lo; r < hi; r++ {
			xr := xd[r*v : (r+1)*v]
			m := rowMax(xr)
			simd.ExpShift(ex, xr, m)
			l := float64(m) + math.Log(sumF64(ex))
			sd[r] = float32(l)
			if t := targets[r]; t != ignore {
				ld[r] = float32(l - float64(xr[t]))
			} else {
				ld[r] = 0
			}
		}
	})
}

// CrossEntropyBackward implements NNKernels.
func (c *CPU) CrossEntropyBackward(dlogits, dloss, logits, lse *Tensor, targets []int32, ignore int32) {
	rows, v := lastAxis("CrossEntropyBackward", logits)
	dd, gd, xd, sd := dlogits.data, dloss.data, logits.data, lse.data
	c.For(rows, rowGrainFor(v), func(lo, hi int) {
		ex := c.f32(v)
		defer c.putF32(ex)
		for r := lo; r < hi; r++ {
			t := targets[r]
			if t == ignore {
				continue
			}
			g, l := gd[r], sd[r]
			dr, xr := dd[r*v:(r+1)*v], xd[r*v:(r+1)*v]
			simd.ExpShift(ex, xr, l)
			simd.Axpy(g, ex, dr)
			dr[t] -= g
		}
	})
}
