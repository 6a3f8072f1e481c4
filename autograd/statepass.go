package autograd

import (
	"fmt"

	"github.com/hungry-ssm/hungry/tensor"
)

// DiagSSM names the parameters of a diagonal SSM as SSMKernels takes them.
type DiagSSM struct {
	LogDt, InvAReal, AImag, B, C *Var
	Disc                         tensor.Discretization
}

func (p DiagSSM) values() [5]*tensor.Tensor {
	return [5]*tensor.Tensor{p.LogDt.Value, p.InvAReal.Value, p.AImag.Value, p.B.Value, p.C.Value}
}

func (p DiagSSM) grads(g *Graph) [5]*tensor.Tensor {
	return [5]*tensor.Tensor{g.gradOrNil(p.LogDt), g.gradOrNil(p.InvAReal), g.gradOrNil(p.AImag), g.gradOrNil(p.B), g.gradOrNil(p.C)}
}

// ChunkedConv returns what CausalConv(g, u, K, d) returns for u (B, L, C) and the
// diagonal SSM's kernel K of L taps, computed chunk by chunk with state passing
// (tensor.StatePassKernels): kernel is the first Lc taps (C, Lc) of K, each head's
// repeated over its C/H channels, and the chunk length is Lc. Every chunk, the last
// zero-padded, is one FFT convolution of Lc positions; the diagonal SSM's modes carry the
// earlier chunks in. The gradients are exact: they flow through the carried states into
// the SSM's parameters and every earlier chunk. Only the states at the chunk boundaries,
// (B, C, N, 2) each, are kept for the backward pass.
func ChunkedConv(g *Graph, u, kernel, d *Var, ssm DiagSSM) *Var {
	p := ssm.values()
	ushape := u.Shape()
	nb, l, nc, _, modes := tensor.StateShapes("ChunkedConv", u.Value, nil, p[0], p[1], p[2], p[3], p[4])
	if kernel.Value.Rank() != 2 || kernel.Shape()[0] != nc {
		panic(&tensor.ShapeError{Op: "ChunkedConv", Shapes: [][]int{ushape, kernel.Shape()}, Msg: fmt.Sprintf("kernel must be (%d, Lc)", nc)})
	}
	lc := kernel.Shape()[1]
	var dv *tensor.Tensor
	if d != nil {
		dv = d.Value
	}
	tensor.ConvShapes("ChunkedConv", nil, tensor.New(1, lc, nc), kernel.Value, dv)
	dev := u.Device()
	chunks := (l + lc - 1) / lc
	out := g.Result(g.Zeros(dev, ushape...), u, kernel, d, ssm.LogDt, ssm.InvAReal, ssm.AImag, ssm.B, ssm.C)
	// states[i] is the state after chunks 0..i−1; the first chunk starts from zero.
	states := make([]*tensor.Tensor, chunks)
	uc, yc := dev.Zeros(nb, lc, nc), dev.Zeros(nb, lc, nc)
	for i := 0; i < chunks; i++ {
		t0, n := i*lc, min(lc, l-i*lc)
		chunkOf(dev, uc, u.Value, nb, l, nc, t0, n)
		dev.CausalConv(yc, uc, kernel.Value, dv)
		if i > 0 {
			dev.DiagSSMStateOut(yc, states[i], p[0], p[1], p[2], p[3], p[4], ssm.Disc)
		}
		putChunk(dev, out.Value, yc, nb, l, nc, t0, n)
		if i+1 < chunks {
			// Only the last chunk can be short, so every state is made from a full one.
			states[i+1] = dev.Zeros(nb, nc, modes, 2)
			dev.DiagSSMStateNext(states[i+1], states[i], uc, p[0], p[1], p[2], p[3], p[4], ssm.Disc)
		}
	}
	g.OnBackward(out, func() {
		gp := ssm.grads(g)
		du, dk := g.gradOrNil(u), g.gradOrNil(kernel)
		var dd *tensor.Tensor
		if d != nil {
			dd = g.gradOrNil(d)
		}
		dyc, duc := dev.Zeros(nb, lc, nc), dev.Zeros(nb, lc, nc)
		// gx is the gradient of the state after chunk i, which chunk i+1 read.
		var gx *tensor.Tensor
		for i := chunks - 1; i >= 0; i-- {
			t0, n := i*lc, min(lc, l-i*lc)
			chunkOf(dev, dyc, out.Grad, nb, l, nc, t0, n)
			chunkOf(dev, uc, u.Value, nb, l, nc, t0, n)
			duChunk := duc
			if du == nil {
				duChunk = nil
			} else {
				dev.Fill(duc, 0)
			}
			dev.CausalConvBackward(duChunk, dk, dd, dyc, uc, kernel.Value, dv)
			var gPrev *tensor.Tensor
			if i > 0 {
				gPrev = dev.Zeros(nb, nc, modes, 2)
				dev.DiagSSMStateOutBackward(dyc, states[i], p[0], p[1], p[2], p[3], p[4], ssm.Disc,
					gPrev, gp[0], gp[1], gp[2], gp[3], gp[4])
			}
			if gx != nil {
				dev.DiagSSMStateNextBackward(gx, states[i], uc, p[0], p[1], p[2], p[3], p[4], ssm.Disc,
					gPrev, duChunk, gp[0], gp[1], gp[2], gp[3], gp[4])
			}
			if du != nil {
				addChunk(dev, du, duc, nb, l, nc, t0, n)
			}
			gx = gPrev
		}
	})
	return out
}

// flatFrom is t's elements from the off-th on, as a view.
func flatFrom(t *tensor.Tensor, off int) *tensor.Tensor {
	n := t.Numel()
	return t.Reshape(n).Slice(off, n)
}

// chunkOf copies positions [t0, t0+n) of x (B, L, C) into dst (B, Lc, C), zero beyond n.
func chunkOf(dev tensor.Device, dst, x *tensor.Tensor, nb, l, nc, t0, n int) {
	lc := dst.Dim(1)
	if n < lc {
		dev.Fill(dst, 0)
	}
	dev.CopyBlocks(dst, flatFrom(x, t0*nc), nb, n*nc, lc*nc, l*nc)
}

// putChunk copies the first n positions of src (B, Lc, C) to positions [t0, t0+n) of x.
func putChunk(dev tensor.Device, x, src *tensor.Tensor, nb, l, nc, t0, n int) {
	dev.CopyBlocks(flatFrom(x, t0*nc), src, nb, n*nc, l*nc, src.Dim(1)*nc)
}

// addChunk adds the first n positions of src (B, Lc, C) to positions [t0, t0+n) of x.
func addChunk(dev tensor.Device, x, src *tensor.Tensor, nb, l, nc, t0, n int) {
	lc := src.Dim(1)
	xf, sf := x.Reshape(x.Numel()), src.Reshape(src.Numel())
	for b := 0; b < nb; b++ {
		dst := xf.Slice((b*l+t0)*nc, (b*l+t0+n)*nc)
		dev.Binary(tensor.OpAdd, dst, dst, sf.Slice(b*lc*nc, (b*lc+n)*nc))
	}
}
