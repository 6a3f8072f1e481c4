package gpu

import (
	"fmt"
	"math"
	"math/bits"

	"github.com/hungry-ssm/hungry/ptx/kernels"
	"github.com/hungry-ssm/hungry/tensor"
)

// CausalConv implements tensor.ConvKernels: with the direct kernel, O(L·Lk) per channel,
// for short kernels, through FFTs, O(L log L), for long ones.
func (d *Device) CausalConv(y, u, k, skip *tensor.Tensor) {
	nb, l, h, lk := tensor.ConvShapes("CausalConv", y, u, k, skip)
	if useFFT(l, lk) {
		d.fftConv(y, u, k, skip, nb, l, h, lk)
		return
	}
	d.run(kernels.CausalConvFwdF32(d, d.p(y), d.p(u), d.p(k), d.pOrNull(skip), u32(nb), u32(l), u32(h), u32(lk)))
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
		d.run(kernels.CausalConvBwdDuF32(d, d.p(du), d.p(dy), d.p(k), d.pOrNull(skip), u32(nb), u32(l), u32(h), u32(lk)))
	}
	if dk != nil || dd != nil {
		d.run(kernels.CausalConvBwdDkF32(d, d.pOrNull(dk), d.pOrNull(dd), d.p(dy), d.p(u), u32(nb), u32(l), u32(h), u32(lk)))
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
	if lk != shortTaps || d.p(k).Addr%16 != 0 {
		d.run(kernels.CausalConvFwdF32(d, d.p(y), d.p(u), d.p(k), d.pOrNull(skip), u32(nb), u32(l), u32(h), u32(lk)))
		return
	}
	if skip == nil {
		skip = d.filled(h, 0)
	}
	d.run(kernels.ShortconvFwdF32(d, d.p(y), d.p(u), d.p(k), d.p(skip), u32(nb), u32(l), u32(h)))
}

// ShortConvBackward implements tensor.ConvKernels. The 64-tap kernels write their
// results, which are then added; the direct ones accumulate.
func (d *Device) ShortConvBackward(du, dk, dd, dy, u, k, skip *tensor.Tensor) {
	nb, l, h, lk := tensor.ConvShapes("ShortConvBackward", nil, u, k, skip)
	if lk != shortTaps || d.p(k).Addr%16 != 0 {
		d.convBackward(du, dk, dd, dy, u, k, skip, nb, l, h, lk)
		return
	}
	if du != nil {
		s := skip
		if s == nil {
			s = d.filled(h, 0)
		}
		t := d.empty(u.Numel())
		d.run(kernels.ShortconvBwdDuF32(d, d.p(t), d.p(dy), d.p(k), d.p(s), u32(nb), u32(l), u32(h)))
		d.add(du, du, t)
	}
	if dk == nil && dd == nil {
		return
	}
	tk, td := d.empty(h, shortTaps), d.empty(h)
	d.run(kernels.ShortconvBwdDkF32(d, d.p(tk), d.p(td), d.p(dy), d.p(u), u32(nb), u32(l), u32(h)))
	if dd != nil {
		d.add(dd, dd, td)
	}
	if dk != nil {
		d.add(dk, dk, tk)
	}
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
// scaled by 1/n). Rows longer than 4096 need more than 48 KiB of shared memory, which the
// launch asks the device for.
func (d *Device) fft(data *tensor.Tensor, rows, n, logn int, inverse bool) {
	scale := float32(1)
	if inverse {
		scale = float32(1 / float64(n))
	}
	d.run(kernels.FftRowsC64(d, d.p(data), d.p(d.twiddles(n)), u32(rows), u32(n), u32(logn), inverse, scale))
}

// padded returns real rows (rows, l) zero-padded to complex rows (rows, n), transformed.
func (d *Device) padded(x *tensor.Tensor, rows, l, n, logn int) *tensor.Tensor {
	s := d.empty(rows * n * 2)
	d.run(kernels.PadRealToC64(d, d.p(s), d.p(x), u32(rows), u32(l), u32(n)))
	d.fft(s, rows, n, logn, false)
	return s
}

// sequences returns the channels of x (B, L, H) as zero-padded complex rows (B·H, n),
// transformed.
func (d *Device) sequences(x *tensor.Tensor, b, l, h, n, logn int) *tensor.Tensor {
	s := d.empty(b * h * n * 2)
	d.run(kernels.BlhToC64(d, d.p(s), d.p(x), u32(b), u32(l), u32(h), u32(n)))
	d.fft(s, b*h, n, logn, false)
	return s
}

// cmul returns a·b (or a·conj(b)) for complex rows (rows, n), b's brows rows repeating.
func (d *Device) cmul(a, b *tensor.Tensor, rows, n, brows int, conj bool) *tensor.Tensor {
	out := d.empty(rows * n * 2)
	d.run(kernels.CmulC64(d, d.p(out), d.p(a), d.p(b), u32(rows), u32(n), u32(brows), conj))
	return out
}

// toSequences transforms spectra (B·H, n) back and writes (or adds) their first L real
// values into y (B, L, H), plus skip ⊙ x when skip is given.
func (d *Device) toSequences(y, s, x, skip *tensor.Tensor, b, l, h, n, logn int, accumulate bool) {
	d.fft(s, b*h, n, logn, true)
	d.run(kernels.C64ToBlhF32(d, d.p(y), d.p(s), d.pOrNull(x), d.pOrNull(skip), u32(b), u32(l), u32(h), u32(n), accumulate))
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
		d.run(kernels.CmulSumBatchC64(d, d.p(sum), d.p(us), d.p(dys), u32(b), u32(h), u32(n)))
		d.fft(sum, h, n, logn, true)
		d.run(kernels.C64RealRowsAccF32(d, d.p(dk), d.p(sum), u32(h), u32(lk), u32(n)))
	}
	if dd != nil {
		t := d.empty(u.Numel())
		d.Binary(tensor.OpMul, t, dy, u)
		d.columnSum(dd, t, 1, b*l, h, 1, true)
	}
}
