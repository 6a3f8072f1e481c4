package gpu

import (
	"fmt"
	"math"
	"math/bits"

	"github.com/hungry-ssm/hungry/tensor"
)

// Building blocks shared by the methods: the elementwise kernels on whole tensors, row
// gathers, column sums and the FFT convolution. The vectorised kernels take a scalar
// path for views that start off a 16-byte boundary, so any view can be passed.

func elemGrid(n int) [3]int { return [3]int{ceilDiv(n, 1024), 1, 1} }

// add computes out = a + b over a's elements (b has as many).
func (d *Device) add(out, a, b *tensor.Tensor) {
	n := a.Numel()
	if n == 0 {
		return
	}
	d.launch("add_f32", elemGrid(n), 0, aPtr(d.ptr(out)), aPtr(d.ptr(a)), aPtr(d.ptr(b)), aU32(n))
}

func (d *Device) scale(out, x *tensor.Tensor, alpha float32) {
	n := x.Numel()
	if n == 0 {
		return
	}
	d.launch("scale_f32", elemGrid(n), 0, aPtr(d.ptr(out)), aPtr(d.ptr(x)), aF32(alpha), aU32(n))
}

// axpy accumulates y += alpha·x.
func (d *Device) axpy(y, x *tensor.Tensor, alpha float32) {
	n := x.Numel()
	if n == 0 {
		return
	}
	d.launch("axpy_f32", elemGrid(n), 0, aPtr(d.ptr(y)), aPtr(d.ptr(x)), aF32(alpha), aU32(n))
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

// fftConvMinTaps is the kernel length from which CausalConv goes through FFTs. The direct
// kernels cost about Lk multiply-adds per output; the FFT path about 3 transforms of
// n = 2·next_pow2(L) points, 5·log2(n) flops per point each, plus transposes: around
// 300-400 flops per output at L = 1024, i.e. a direct kernel of ~200 taps.
const fftConvMinTaps = 256

// maxFFT is the longest transform fft_rows_c64 takes.
const maxFFT = 16384

// fftPlan is the transform length for sequences of length l (zero padding to n ≥ 2L
// keeps the circular convolution free of wrap-around for every output read) and its
// log2.
func fftPlan(l int) (n, logn int) {
	n = 2
	for n < 2*l {
		n *= 2
	}
	return n, bits.TrailingZeros(uint(n))
}

// twiddles returns exp(−2πik/n) for k < n/2 as (re, im) pairs, computed in float64 on the
// host once per n (as cuFFT's tables are) and kept on the device.
func (d *Device) twiddles(n int) *tensor.Tensor {
	return d.constant(fmt.Sprintf("twiddles %d", n), func() *tensor.Tensor {
		tw := make([]float32, n)
		for k := 0; k < n/2; k++ {
			s, c := math.Sincos(-2 * math.Pi * float64(k) / float64(n))
			tw[2*k], tw[2*k+1] = float32(c), float32(s)
		}
		return d.FromHost(tw, n)
	})
}

// fft transforms rows complex rows of length n in place (inverse: the conjugate transform
// scaled by 1/n).
func (d *Device) fft(data *tensor.Tensor, rows, n, logn int, inverse bool) {
	scale := float32(1)
	if inverse {
		scale = float32(1 / float64(n))
	}
	d.launch("fft_rows_c64", [3]int{rows, 1, 1}, 8*n, aPtr(d.ptr(data)), aPtr(d.ptr(d.twiddles(n))), aU32(rows), aU32(n),
		aU32(logn), aBool(inverse), aF32(scale))
}

// padded returns real rows (rows, l) zero-padded to complex rows (rows, n), transformed.
func (d *Device) padded(x *tensor.Tensor, rows, l, n, logn int) *tensor.Tensor {
	s := d.empty(rows * n * 2)
	d.launch("pad_real_to_c64", [3]int{ceilDiv(rows*n, 256), 1, 1}, 0, aPtr(d.ptr(s)), aPtr(d.ptr(x)), aU32(rows), aU32(l), aU32(n))
	d.fft(s, rows, n, logn, false)
	return s
}

// sequences returns the channels of x (B, L, H) as zero-padded complex rows (B·H, n),
// transformed.
func (d *Device) sequences(x *tensor.Tensor, b, l, h, n, logn int) *tensor.Tensor {
	s := d.empty(b * h * n * 2)
	d.launch("blh_to_c64", [3]int{ceilDiv(n, 32), ceilDiv(h, 32), b}, 0, aPtr(d.ptr(s)), aPtr(d.ptr(x)), aU32(b), aU32(l), aU32(h), aU32(n))
	d.fft(s, b*h, n, logn, false)
	return s
}

// cmul returns a·b (or a·conj(b)) for complex rows (rows, n), b's brows rows repeating.
func (d *Device) cmul(a, b *tensor.Tensor, rows, n, brows int, conj bool) *tensor.Tensor {
	out := d.empty(rows * n * 2)
	d.launch("cmul_c64", [3]int{ceilDiv(rows*n, 256), 1, 1}, 0, aPtr(d.ptr(out)), aPtr(d.ptr(a)), aPtr(d.ptr(b)), aU32(rows),
		aU32(n), aU32(brows), aBool(conj))
	return out
}

// toSequences transforms spectra (B·H, n) back and writes (or adds) their first L real
// values into y (B, L, H), plus skip ⊙ x when skip is given.
func (d *Device) toSequences(y, s, x, skip *tensor.Tensor, b, l, h, n, logn int, accumulate bool) {
	d.fft(s, b*h, n, logn, true)
	d.launch("c64_to_blh_f32", [3]int{ceilDiv(l, 32), ceilDiv(h, 32), b}, 0, aPtr(d.ptr(y)), aPtr(d.ptr(s)), aPtr(d.ptrOrNull(x)),
		aPtr(d.ptrOrNull(skip)), aU32(b), aU32(l), aU32(h), aU32(n), aBool(accumulate))
}

// fftConv is CausalConv through FFTs of every channel's sequence.
func (d *Device) fftConv(y, u, k, skip *tensor.Tensor, b, l, h, lk int) {
	n, logn := fftPlan(l)
	us := d.sequences(u, b, l, h, n, logn)
	ks := d.padded(k, h, lk, n, logn)
	d.toSequences(y, d.cmul(us, ks, b*h, n, h, false), u, skip, b, l, h, n, logn, false)
}

// fftConvBackward is CausalConvBackward through FFTs:
//
//	du[t] = Σ_s k[s]·dy[t+s]  = IFFT(conj(K)·DY)[t]
//	dk[s] = Σ_t u[t]·dy[t+s]  = IFFT(Σ_b conj(U_b)·DY_b)[s]
func (d *Device) fftConvBackward(du, dk, dd, dy, u, k, skip *tensor.Tensor, b, l, h, lk int) {
	n, logn := fftPlan(l)
	dys := d.sequences(dy, b, l, h, n, logn)
	if du != nil {
		ks := d.padded(k, h, lk, n, logn)
		d.toSequences(du, d.cmul(dys, ks, b*h, n, h, true), dy, skip, b, l, h, n, logn, true)
	}
	if dk != nil {
		us := d.sequences(u, b, l, h, n, logn)
		sum := d.empty(h * n * 2)
		d.launch("cmul_sum_batch_c64", [3]int{ceilDiv(h*n, 256), 1, 1}, 0, aPtr(d.ptr(sum)), aPtr(d.ptr(us)), aPtr(d.ptr(dys)),
			aU32(b), aU32(h), aU32(n))
		d.fft(sum, h, n, logn, true)
		d.launch("c64_real_rows_acc_f32", [3]int{ceilDiv(h*lk, 256), 1, 1}, 0, aPtr(d.ptr(dk)), aPtr(d.ptr(sum)), aU32(h), aU32(lk), aU32(n))
	}
	if dd != nil {
		t := d.empty(u.Numel())
		d.Binary(tensor.OpMul, t, dy, u)
		d.columnSum(dd, t, 1, b*l, h, 1, true)
	}
}
