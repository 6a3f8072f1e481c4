package autograd

import (
	"fmt"

	"github.com/hungry-ssm/hungry/tensor"
)

// H3Spectrum returns K̂ (heads, tensor.H3SpectrumBins(length), 2), the spectra of the
// kernels k (heads, Lk ≤ length) that H3Conv convolves sequences of the given length
// with. Computing it once per layer and step serves the forward and the backward pass,
// and the whole batch.
func H3Spectrum(g *Graph, k *Var, length int) *Var {
	if length < 1 || length > tensor.MaxFFTConvLen || k.Value.Rank() != 2 || k.Shape()[1] > length {
		panic(&tensor.ShapeError{Op: "H3Spectrum", Shapes: [][]int{k.Shape()},
			Msg: fmt.Sprintf("want a kernel (heads, Lk) with Lk ≤ length = %d ≤ %d", length, tensor.MaxFFTConvLen)})
	}
	dev := k.Device()
	out := g.Result(g.Empty(dev, k.Shape()[0], tensor.H3SpectrumBins(length), 2), k)
	dev.H3Spectrum(out.Value, k.Value)
	g.OnBackward(out, func() {
		if k.RequiresGrad() {
			dev.H3SpectrumBackward(g.grad(k), out.Grad)
		}
	})
	return out
}

// H3Conv returns the H3 mixer's long convolution y (B, L, H) of k̃, v and q (B, L, H)
// with skip weights d (heads) and kernel spectra khat from H3Spectrum: per head of
// headDim channels, y[h·dh+j] = Σᵢ q[h·dh+i] ⊙ (kernel_h * (k̃[h·dh+i] ⊙ v[h·dh+j]) +
// d_h·k̃[h·dh+i] ⊙ v[h·dh+j]). See tensor.H3ConvKernels. The device fuses the products,
// the convolution and the contraction with q, so the dh² sequences of a head's outer
// product never reach memory.
func H3Conv(g *Graph, kt, v, q, d, khat *Var, headDim int) *Var {
	tensor.H3ConvShapes("H3Conv", nil, kt.Value, v.Value, q.Value, d.Value, khat.Value, headDim)
	dev := kt.Device()
	out := g.Result(g.Empty(dev, kt.Shape()...), kt, v, q, d, khat)
	dev.H3Conv(out.Value, kt.Value, v.Value, q.Value, d.Value, khat.Value, headDim)
	g.OnBackward(out, func() {
		dev.H3ConvBackward(g.gradOrNil(kt), g.gradOrNil(v), g.gradOrNil(q), g.gradOrNil(d), g.gradOrNil(khat),
			out.Grad, kt.Value, v.Value, q.Value, d.Value, khat.Value, headDim)
	})
	return out
}
