package gpu

import (
	"fmt"
	"math"

	"github.com/hungry-ssm/hungry/ptx/kernels"
	"github.com/hungry-ssm/hungry/tensor"
)

// CausalConv implements tensor.ConvKernels: with the direct kernel, O(L·Lk) per channel,
// for short kernels, and for long ones with the fused H3 kernels, which compute it as an
// H3 convolution without v and q (two launches: the kernel's spectrum, the convolution).
func (d *Device) CausalConv(y, u, k, skip *tensor.Tensor) {
	nb, l, h, lk := tensor.ConvShapes("CausalConv", y, u, k, skip)
	if !useFFT(l, lk) {
		d.run(kernels.CausalConvFwdF32(d, d.p(y), d.p(u), d.p(k), d.pOrNull(skip), u32(nb), u32(l), u32(h), u32(lk)))
		return
	}
	if skip == nil {
		skip = d.filled(h, 0)
	}
	khat := d.spectrum(k, h, l)
	n, logn := h3FFT(khat.Shape()[1])
	d.run(h3F32.fwd(d, d.p(y), d.p(u), kernels.Ptr{}, kernels.Ptr{}, d.p(skip), d.p(khat), d.p(d.twiddles(2*n)),
		u32(nb), u32(l), u32(h), 1, u32(n), u32(logn)))
}

// CausalConvBackward implements tensor.ConvKernels, choosing like CausalConv.
func (d *Device) CausalConvBackward(du, dk, dd, dy, u, k, skip *tensor.Tensor) {
	nb, l, h, lk := tensor.ConvShapes("CausalConvBackward", nil, u, k, skip)
	if !useFFT(l, lk) {
		d.convBackward(du, dk, dd, dy, u, k, skip, nb, l, h, lk)
		return
	}
	if du == nil && dk == nil && dd == nil {
		return
	}
	if skip == nil {
		skip = d.filled(h, 0)
	}
	khat := d.spectrum(k, h, l)
	var dkhat *tensor.Tensor
	if dk != nil {
		dkhat = d.Zeros(khat.Shape()...)
	}
	d.h3Backward(h3F32, du, nil, nil, dd, dkhat, dy, u, nil, nil, skip, khat, nb, l, h, 1)
	if dk != nil {
		d.spectrumBwdWith(h3F32, dk, dkhat)
	}
}

// spectrum returns the spectra of the kernels k (h, Lk) for sequences of length l, in
// fp32.
func (d *Device) spectrum(k *tensor.Tensor, h, l int) *tensor.Tensor {
	khat := d.empty(h, tensor.H3SpectrumBins(l), 2)
	d.spectrumWith(h3F32, khat, k)
	return khat
}

func (d *Device) convBackward(du, dk, dd, dy, u, k, skip *tensor.Tensor, nb, l, h, lk int) {
	if du != nil {
		d.run(kernels.CausalConvBwdDuF32(d, d.p(du), d.p(dy), d.p(k), d.pOrNull(skip), u32(nb), u32(l), u32(h), u32(lk)))
	}
	if dk != nil || dd != nil {
		d.run(kernels.CausalConvBwdDkF32(d, d.pOrNull(dk), d.pOrNull(dd), d.p(dy), d.p(u), u32(nb), u32(l), u32(h), u32(lk)))
	}
}

// useFFT reports whether a causal convolution goes through FFTs (the fused kernels).
func useFFT(l, lk int) bool { return lk >= fftConvMinTaps && l <= MaxH3ConvLen }

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

// twiddles returns the fused H3 kernels' two-level table for real transforms of length
// n = 2N as (re, im) pairs: exp(−2πij/n) for j < 64, then exp(−2πi·64h/n) for
// h < max(1, N/64), computed in float64 on the host once per n and kept on the device.
func (d *Device) twiddles(n int) *tensor.Tensor {
	return d.constant(fmt.Sprintf("h3 twiddles %d", n), func() *tensor.Tensor {
		var tw []float32
		at := func(j int) {
			s, c := math.Sincos(-2 * math.Pi * float64(j) / float64(n))
			tw = append(tw, float32(c), float32(s))
		}
		for j := 0; j < 64; j++ {
			at(j)
		}
		for h := 0; h < max(1, n/2/64); h++ {
			at(64 * h)
		}
		return d.FromHost(tw, len(tw))
	})
}
