package gpu

import (
	"fmt"
	"math/bits"
	"sync/atomic"

	"github.com/hungry-ssm/hungry/ptx/kernels"
	"github.com/hungry-ssm/hungry/tensor"
)

// MaxH3ConvLen is the longest sequence the fused H3 convolution takes: its kernels hold
// two complex buffers of next_pow2(L) entries in shared memory, 128 KiB at 8192, within
// what an sm_80 block may opt into (163 KiB).
const MaxH3ConvLen = 8192

// ConvPrecision selects how the fused H3 convolution's FFTs compute.
type ConvPrecision int

const (
	// ConvTF32, the default, runs radix-16 stages as 16-point DFTs on the tensor cores
	// (mma.sync m16n8k8, TF32 inputs, fp32 accumulation), as the device's matrix
	// multiplies do: TF32 keeps 10 mantissa bits, and the tests measure about 1e-3
	// relative error against float64 at L = 8192.
	ConvTF32 ConvPrecision = iota
	// ConvF32 runs radix-2 butterflies in fp32: about 3e-7 relative error, like the
	// CPU's.
	ConvF32
	// ConvBF16 runs ConvTF32's radix-16 stages with bfloat16 inputs and fp32
	// accumulation (mma.sync m16n8k16): half the tensor-core operand width, with 7
	// mantissa bits: the tests measure up to 8.8e-3 relative error at L = 8192.
	ConvBF16
	// ConvF16 is ConvBF16 with IEEE half inputs: 10 mantissa bits like TF32, and about
	// its error (1.1e-3 at L = 8192), while the unnormalised FFT's values stay well
	// inside fp16's range for inputs of order one.
	ConvF16
)

// convSettings is the device's choice of ConvPrecision; the zero value is ConvTF32.
type convSettings struct{ prec atomic.Int32 }

// SetConvPrecision selects the FFTs of the fused H3 convolution (H3Spectrum, H3Conv and
// their backward) for the calls that follow. CausalConv, the general convolution, keeps
// fp32 whatever is set: its callers (the S4D ablation) are compared with the CPU at
// fp32 tolerances.
func (d *Device) SetConvPrecision(p ConvPrecision) { d.conv.prec.Store(int32(p)) }

// h3Kernels are the launchers of one precision.
type h3Kernels struct {
	spectrum    func(kernels.Launcher, kernels.Ptr, kernels.Ptr, kernels.Ptr, uint32, uint32, uint32, uint32) error
	spectrumBwd func(kernels.Launcher, kernels.Ptr, kernels.Ptr, kernels.Ptr, uint32, uint32, uint32, uint32) error
	fwd         func(kernels.Launcher, kernels.Ptr, kernels.Ptr, kernels.Ptr, kernels.Ptr, kernels.Ptr, kernels.Ptr, kernels.Ptr, uint32, uint32, uint32, uint32, uint32, uint32) error
	bwd         func(kernels.Launcher, kernels.Ptr, kernels.Ptr, kernels.Ptr, kernels.Ptr, kernels.Ptr, kernels.Ptr, kernels.Ptr, kernels.Ptr, kernels.Ptr, kernels.Ptr, kernels.Ptr, kernels.Ptr, uint32, uint32, uint32, uint32, uint32, uint32) error
}

var (
	h3F32  = h3Kernels{kernels.H3SpectrumF32, kernels.H3SpectrumBwdF32, kernels.H3ConvFwdF32, kernels.H3ConvBwdF32}
	h3TF32 = h3Kernels{kernels.H3SpectrumTf32, kernels.H3SpectrumBwdTf32, kernels.H3ConvFwdTf32, kernels.H3ConvBwdTf32}
	h3BF16 = h3Kernels{kernels.H3SpectrumBf16, kernels.H3SpectrumBwdBf16, kernels.H3ConvFwdBf16, kernels.H3ConvBwdBf16}
	h3F16  = h3Kernels{kernels.H3SpectrumF16, kernels.H3SpectrumBwdF16, kernels.H3ConvFwdF16, kernels.H3ConvBwdF16}
)

func (d *Device) h3() h3Kernels {
	switch ConvPrecision(d.conv.prec.Load()) {
	case ConvF32:
		return h3F32
	case ConvBF16:
		return h3BF16
	case ConvF16:
		return h3F16
	}
	return h3TF32
}

// h3FFT returns N (half the real transform's length, the packed complex FFT's) and its
// log2 for a spectrum of bins bins.
func h3FFT(bins int) (n, logn int) {
	n = bins - 1
	return n, bits.TrailingZeros(uint(n))
}

// H3Spectrum implements tensor.H3ConvKernels.
func (d *Device) H3Spectrum(khat, k *tensor.Tensor) {
	d.spectrumWith(d.h3(), khat, k)
}

func (d *Device) spectrumWith(ks h3Kernels, khat, k *tensor.Tensor) {
	heads, lk, bins := tensor.H3SpectrumShapes("H3Spectrum", khat, k)
	n, logn := d.h3Plan("H3Spectrum", khat, bins)
	d.run(ks.spectrum(d, d.p(khat), d.p(k), d.p(d.twiddles(2*n)), u32(heads), u32(lk), u32(n), u32(logn)))
}

// H3SpectrumBackward implements tensor.H3ConvKernels.
func (d *Device) H3SpectrumBackward(dk, dkhat *tensor.Tensor) {
	d.spectrumBwdWith(d.h3(), dk, dkhat)
}

func (d *Device) spectrumBwdWith(ks h3Kernels, dk, dkhat *tensor.Tensor) {
	heads, lk, bins := tensor.H3SpectrumShapes("H3SpectrumBackward", dkhat, dk)
	n, logn := d.h3Plan("H3SpectrumBackward", dkhat, bins)
	d.run(ks.spectrumBwd(d, d.p(dk), d.p(dkhat), d.p(d.twiddles(2*n)), u32(heads), u32(lk), u32(n), u32(logn)))
}

// h3Plan checks that a spectrum of bins bins fits the fused kernels.
func (d *Device) h3Plan(op string, khat *tensor.Tensor, bins int) (n, logn int) {
	n, logn = h3FFT(bins)
	if n > MaxH3ConvLen {
		panic(&tensor.ShapeError{Op: op, Shapes: [][]int{khat.Shape()},
			Msg: fmt.Sprintf("the GPU's fused H3 convolution takes sequences up to %d", MaxH3ConvLen)})
	}
	return n, logn
}

// H3Conv implements tensor.H3ConvKernels in one launch: block (channel, batch) runs the
// products of its head through FFTs in shared memory and writes its output channel.
func (d *Device) H3Conv(y, kt, v, q, skip, khat *tensor.Tensor, headDim int) {
	nb, l, h, _ := tensor.H3ConvShapes("H3Conv", y, kt, v, q, skip, khat, headDim)
	n, logn := d.h3Plan("H3Conv", khat, khat.Shape()[1])
	d.run(d.h3().fwd(d, d.p(y), d.p(kt), d.p(v), d.p(q), d.p(skip), d.p(khat), d.p(d.twiddles(2*n)),
		u32(nb), u32(l), u32(h), u32(headDim), u32(n), u32(logn)))
}

// H3ConvBackward implements tensor.H3ConvKernels in two launches. The first recomputes
// each spectrum from the inputs rather than reading spectra the forward saved: a saved
// spectrum of a sequence of L floats is 2·next_pow2(L) floats, so writing it in the
// forward and reading it back costs at least four times the bytes of reading the inputs
// again, and the FFTs that recomputation adds run in shared memory. Its blocks loop over
// the batch and write per-channel partial sums of d's and K̂'s gradients, which the second
// launch adds per head in a fixed order.
func (d *Device) H3ConvBackward(dkt, dv, dq, dd, dkhat, dy, kt, v, q, skip, khat *tensor.Tensor, headDim int) {
	nb, l, h, _ := tensor.H3ConvShapes("H3ConvBackward", nil, kt, v, q, skip, khat, headDim)
	checkH3Grads(dkt, dv, dq, dd, dkhat, dy, kt, skip, khat)
	if dkt == nil && dv == nil && dq == nil && dd == nil && dkhat == nil {
		return
	}
	d.h3Backward(d.h3(), dkt, dv, dq, dd, dkhat, dy, kt, v, q, skip, khat, nb, l, h, headDim)
}

// h3Backward launches the backward kernels; v and q may be nil (read as ones, as
// CausalConv's backward has them), and then dv and dq must be too.
func (d *Device) h3Backward(ks h3Kernels, dkt, dv, dq, dd, dkhat, dy, kt, v, q, skip, khat *tensor.Tensor, nb, l, h, headDim int) {
	n, logn := d.h3Plan("H3ConvBackward", khat, khat.Shape()[1])
	var dpart, ddpart *tensor.Tensor
	if dkhat != nil {
		dpart = d.empty(h, n+1, 2)
	}
	if dd != nil {
		ddpart = d.empty(h)
	}
	d.run(ks.bwd(d, d.pOrNull(dkt), d.pOrNull(dv), d.pOrNull(dq), d.pOrNull(dpart), d.pOrNull(ddpart),
		d.p(dy), d.p(kt), d.pOrNull(v), d.pOrNull(q), d.p(skip), d.p(khat), d.p(d.twiddles(2*n)),
		u32(nb), u32(l), u32(h), u32(headDim), u32(n), u32(logn)))
	if dkhat != nil || dd != nil {
		d.run(kernels.H3ConvBwdReduceF32(d, d.pOrNull(dkhat), d.pOrNull(dd), d.pOrNull(dpart), d.pOrNull(ddpart),
			u32(h/headDim), u32(headDim), u32(n)))
	}
}

// checkH3Grads checks each gradient's shape: a wrong one would make a kernel write
// memory it does not own.
func checkH3Grads(dkt, dv, dq, dd, dkhat, dy, kt, skip, khat *tensor.Tensor) {
	if dy == nil {
		panic(&tensor.ShapeError{Op: "H3ConvBackward", Msg: "no output gradient"})
	}
	for _, g := range []struct{ g, like *tensor.Tensor }{{dkt, kt}, {dv, kt}, {dq, kt}, {dd, skip}, {dkhat, khat}, {dy, kt}} {
		if g.g != nil && !tensor.SameShape(g.g.Shape(), g.like.Shape()) {
			panic(&tensor.ShapeError{Op: "H3ConvBackward", Shapes: [][]int{g.like.Shape()}, Msg: "a gradient is not shaped like its operand"})
		}
	}
}
