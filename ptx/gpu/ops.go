package gpu

import (
	"fmt"
	"math"

	"github.com/hungry-ssm/hungry/tensor"
)

// Building blocks shared by the methods: the elementwise kernels on whole tensors, sums
// and repeats built from them, and row gathers.

// flat views t as one axis.
func flat(t *tensor.Tensor) *tensor.Tensor { return t.Reshape(t.Numel()) }

// span is the view of words [lo, hi) of t.
func span(t *tensor.Tensor, lo, hi int) *tensor.Tensor { return flat(t).Slice(lo, hi) }

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

func (d *Device) mul(out, a, b *tensor.Tensor) {
	n := a.Numel()
	if n == 0 {
		return
	}
	d.vec([]*tensor.Tensor{out, a, b}, []int{0}, func(p []uint64) {
		d.launch("mul_f32", elemGrid(n), 0, aPtr(p[0]), aPtr(p[1]), aPtr(p[2]), aU32(n))
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

// gather copies rows ids[i] (each dim long) of table into row i of out; it is the
// embedding kernel, and with computed ids every repeat, broadcast and permutation that
// keeps or splits rows.
func (d *Device) gather(out, table, ids *tensor.Tensor, rows, dim int) {
	nt := ids.Numel()
	if nt == 0 || dim == 0 {
		return
	}
	d.launch("embedding_fwd_f32", [3]int{ceilDiv(nt*dim, 256), 1, 1}, 0,
		aPtr(d.ptr(out)), aPtr(d.ptr(table)), aPtr(d.ptr(ids)), aU32(nt), aU32(rows), aU32(dim))
}

// regather returns the rows idx(0), …, idx(outRows−1) of src (rows × dim words). The
// indices are computed on the host once per key and stay on the device.
func (d *Device) regather(key string, src *tensor.Tensor, rows, dim, outRows int, idx func(i int) int) *tensor.Tensor {
	ids := d.ids(key, func() []int32 {
		v := make([]int32, outRows)
		for i := range v {
			v[i] = int32(idx(i))
		}
		return v
	})
	out := d.empty(outRows * dim)
	d.gather(out, src, ids, rows, dim)
	return out
}

// tile returns src's words repeated to n (a multiple of src.Numel()).
func (d *Device) tile(src *tensor.Tensor, n int) *tensor.Tensor {
	m := src.Numel()
	return d.regather(fmt.Sprintf("tile %d", n/m), src, 1, m, n/m, func(int) int { return 0 })
}

// colSum returns the sums over the reps rows of src (reps × w words), added pairwise by
// halving: the last half of the rows is added onto the first half until one row is left.
func (d *Device) colSum(src *tensor.Tensor, reps, w int) *tensor.Tensor {
	t := d.empty(reps * w)
	d.copyT(t, src)
	for r := reps; r > 1; {
		h := r / 2
		lo := span(t, 0, h*w)
		d.add(lo, lo, span(t, (r-h)*w, r*w))
		r -= h
	}
	return span(t, 0, w)
}

// rowSums writes out[r] = Σ_j x[r, j].
func (d *Device) rowSums(out, x *tensor.Tensor, rows, cols int) {
	if rows == 0 {
		return
	}
	d.launch("sum_lastaxis_f32", [3]int{rows, 1, 1}, 0, aPtr(d.ptr(out)), aPtr(d.ptr(x)), aU32(rows), aU32(cols))
}

// store finishes a reduction: out = alpha·s, or out += alpha·s.
func (d *Device) store(out, s *tensor.Tensor, alpha float32, accumulate bool) {
	if accumulate {
		d.axpy(out, s, alpha)
	} else {
		d.scale(out, s, alpha)
	}
}

// permuteIDs returns, for out = x with axes rearranged by perm, the source row of every
// row of out, where rows are the trailing dim words that the permutation keeps together.
func permuteIDs(shape, perm []int) (ids []int32, dim int) {
	rank := len(shape)
	// The trailing axes that stay in place move as whole rows.
	keep, dim := permuteIDsDim(shape, perm)
	stride := make([]int, rank)
	s := 1
	for i := rank - 1; i >= 0; i-- {
		stride[i] = s
		s *= shape[i]
	}
	outShape := tensor.PermuteShape(shape, perm)
	n := tensor.Numel(outShape[:keep])
	ids = make([]int32, n)
	idx := make([]int, keep)
	for r := 0; r < n; r++ {
		src := 0
		for k := 0; k < keep; k++ {
			src += idx[k] * stride[perm[k]]
		}
		ids[r] = int32(src / dim)
		for k := keep - 1; k >= 0; k-- {
			idx[k]++
			if idx[k] < outShape[k] {
				break
			}
			idx[k] = 0
		}
	}
	return ids, dim
}

func (d *Device) permuted(x *tensor.Tensor, perm []int) *tensor.Tensor {
	shape := x.Shape()
	ids := d.ids(fmt.Sprint("permute ", shape, perm), func() []int32 {
		v, _ := permuteIDs(shape, perm)
		return v
	})
	_, dim := permuteIDsDim(shape, perm)
	out := d.empty(tensor.PermuteShape(shape, perm)...)
	d.gather(out, x, ids, x.Numel()/max(dim, 1), dim)
	return out
}

// permuteIDsDim is the row length permuteIDs uses, without computing the ids.
func permuteIDsDim(shape, perm []int) (keep, dim int) {
	keep = len(shape)
	for keep > 0 && perm[keep-1] == keep-1 {
		keep--
	}
	return keep, tensor.Numel(shape[keep:])
}

func isIdentity(perm []int) bool {
	for i, p := range perm {
		if p != i {
			return false
		}
	}
	return true
}

// causalMask is the (l, l) additive mask of causal attention: 0 on and below the
// diagonal, −∞ above, so a softmax gives the masked entries exactly 0.
func (d *Device) causalMask(l int) *tensor.Tensor {
	return d.constant(fmt.Sprintf("causal mask %d", l), func() *tensor.Tensor {
		m := make([]float32, l*l)
		for i := 0; i < l; i++ {
			for j := i + 1; j < l; j++ {
				m[i*l+j] = float32(math.Inf(-1))
			}
		}
		return d.FromHost(m, l*l)
	})
}
