package tensor

import (
	"fmt"
	"math/bits"
	"unsafe"

	"github.com/hungry-ssm/hungry/tensor/internal/fft"
	"github.com/hungry-ssm/hungry/tensor/internal/simd"
)

// H3ConvKernels are the H3 mixer's long convolution, fused. With k̃, v and q shaped
// (B, L, H) channels last, H = heads·headDim, a skip weight d (heads) and the spectrum K̂
// (heads, H3SpectrumBins(L), 2) of each head's kernel, head h's output channel h·dh+j
// (order '(h j)', as the official CUDA kernel writes it) is
//
//	y[h·dh+j] = Σᵢ q[h·dh+i] ⊙ (irfft(rfft(zᵢⱼ, n) ⊙ K̂_h)[:L] + d_h·zᵢⱼ),  zᵢⱼ = k̃[h·dh+i] ⊙ v[h·dh+j]
//
// with n = 2·(bins−1) ≥ 2L, so the circular convolution is the causal one. With head
// dim 1 the sum has one term and the products are elementwise. K̂ holds the first n/2+1
// bins of the unnormalised DFT as (re, im) pairs; it is computed once per step by
// H3Spectrum and shared by the forward and backward kernels.
//
// The backward kernels add to the gradient tensors they are given; a nil gradient tensor
// is not computed. K̂'s gradient is the derivative with respect to the real and imaginary
// parts of every stored bin, summed over the batch.
type H3ConvKernels interface {
	// H3Spectrum writes K̂ (heads, bins, 2) = rfft(k, n) for the kernels k (heads, Lk),
	// Lk ≤ bins−1, zero-padded to n = 2·(bins−1).
	H3Spectrum(khat, k *Tensor)
	// H3SpectrumBackward adds ∂loss/∂k to dk given ∂loss/∂K̂: one inverse transform per
	// head.
	H3SpectrumBackward(dk, dkhat *Tensor)
	// H3Conv writes y.
	H3Conv(y, kt, v, q, d, khat *Tensor, headDim int)
	// H3ConvBackward adds the gradients of k̃, v, q, d and K̂ given dy.
	H3ConvBackward(dkt, dv, dq, dd, dkhat, dy, kt, v, q, d, khat *Tensor, headDim int)
}

// H3SpectrumBins is the number of complex bins K̂ holds for sequences of length l: n/2+1
// for the transform length n = 2·next_pow2(l) (at least fft.MinSize) that CausalConv
// also uses.
func H3SpectrumBins(l int) int {
	return max(2<<bits.Len(uint(max(l, 1)-1)), fft.MinSize)/2 + 1
}

// H3ConvShapes checks the operands of H3Conv and returns B, L, H and the number of
// heads. y may be nil. It panics with a *ShapeError naming the shapes when they do not
// fit.
func H3ConvShapes(op string, y, kt, v, q, d, khat *Tensor, headDim int) (batch, length, channels, heads int) {
	// The shapes are gathered only on failure: a list built up front costs every call an
	// allocation.
	bad := func(msg string) {
		panic(&ShapeError{Op: op, Shapes: [][]int{kt.shape, v.shape, q.shape, d.shape, khat.shape}, Msg: msg})
	}
	if kt.Rank() != 3 {
		bad("inputs must be (B, L, H)")
	}
	batch, length, channels = kt.shape[0], kt.shape[1], kt.shape[2]
	switch {
	case length < 1:
		bad("empty sequence")
	case length > MaxFFTConvLen:
		bad(fmt.Sprintf("sequence length %d exceeds %d", length, MaxFFTConvLen))
	case !SameShape(v.shape, kt.shape) || !SameShape(q.shape, kt.shape):
		bad("k̃, v and q must have the same shape")
	case y != nil && !SameShape(y.shape, kt.shape):
		bad(fmt.Sprintf("output %v must be shaped like the inputs", y.shape))
	case headDim < 1 || channels%headDim != 0:
		bad(fmt.Sprintf("%d channels are not a whole number of heads of %d", channels, headDim))
	}
	heads = channels / headDim
	if !SameShape(d.shape, []int{heads}) {
		bad(fmt.Sprintf("skip weight must be (%d)", heads))
	}
	if !SameShape(khat.shape, []int{heads, H3SpectrumBins(length), 2}) {
		bad(fmt.Sprintf("spectrum must be (%d, %d, 2)", heads, H3SpectrumBins(length)))
	}
	return batch, length, channels, heads
}

// H3SpectrumShapes checks the operands of H3Spectrum and returns the number of heads, the
// kernel length and the number of bins.
func H3SpectrumShapes(op string, khat, k *Tensor) (heads, taps, bins int) {
	bad := func(msg string) {
		panic(&ShapeError{Op: op, Shapes: [][]int{khat.shape, k.shape}, Msg: msg})
	}
	if k.Rank() != 2 || khat.Rank() != 3 || khat.shape[2] != 2 || khat.shape[0] != k.shape[0] {
		bad("want a kernel (heads, Lk) and a spectrum (heads, bins, 2)")
	}
	heads, taps, bins = k.shape[0], k.shape[1], khat.shape[1]
	n := 2 * (bins - 1)
	switch {
	case n < fft.MinSize || n > fft.MaxSize || n&(n-1) != 0:
		bad(fmt.Sprintf("%d bins is not half of a power-of-two transform plus one", bins))
	case taps < 1 || taps > bins-1:
		bad(fmt.Sprintf("kernel length %d outside [1, %d]", taps, bins-1))
	}
	return heads, taps, bins
}

// checkH3Grads checks that each non-nil gradient is shaped like its operand.
func checkH3Grads(op string, dkt, dv, dq, dd, dkhat, dy, kt, d, khat *Tensor) {
	check := func(g *Tensor, want []int, what string) {
		if g != nil && !SameShape(g.shape, want) {
			panic(&ShapeError{Op: op, Shapes: [][]int{g.shape, want}, Msg: what + " gradient is not shaped like its operand"})
		}
	}
	if dy == nil {
		panic(&ShapeError{Op: op, Msg: "no output gradient"})
	}
	check(dy, kt.shape, "output")
	check(dkt, kt.shape, "k̃")
	check(dv, kt.shape, "v")
	check(dq, kt.shape, "q")
	check(dd, d.shape, "skip weight")
	check(dkhat, khat.shape, "spectrum")
}

// spectrumPlan returns the real FFT of length 2·(bins−1).
func spectrumPlan(bins int) *fft.Plan {
	p, err := fft.NewPlan(2 * (bins - 1))
	if err != nil {
		panic(fmt.Sprintf("tensor: FFT for %d bins: %v", bins, err))
	}
	return p
}

// complexView is the float32 (re, im) pairs of x as complex64 values, which have the same
// memory layout.
func complexView(x []float32) []complex64 {
	if len(x) == 0 {
		return nil
	}
	return unsafe.Slice((*complex64)(unsafe.Pointer(&x[0])), len(x)/2)
}

// H3Spectrum implements H3ConvKernels.
func (c *CPU) H3Spectrum(khat, k *Tensor) {
	heads, lk, bins := H3SpectrumShapes("H3Spectrum", khat, k)
	plan := spectrumPlan(bins)
	spec := complexView(khat.data)
	c.For(heads, 1, func(lo, hi int) {
		// The kernel padded to n/2 takes the transform's faster path.
		pad := c.f32(bins - 1)
		defer c.putF32(pad)
		for h := lo; h < hi; h++ {
			copy(pad, k.data[h*lk:(h+1)*lk])
			plan.Forward(spec[h*bins:(h+1)*bins], pad)
		}
	})
}

// H3SpectrumBackward implements H3ConvKernels. K̂[j] = Σₛ k[s]·e^{−2πijs/n}, so with
// G = ∂/∂Re K̂ + i·∂/∂Im K̂, ∂loss/∂k[s] = Re Σⱼ G[j]·e^{2πijs/n}. The inverse real
// transform computes (1/n)·(G[0] + G[n/2]·(−1)ˢ + 2·Re Σ_{0<j<n/2} G[j]·e^{2πijs/n}), so
// it gets G scaled by n at the end bins and by n/2 between them.
func (c *CPU) H3SpectrumBackward(dk, dkhat *Tensor) {
	heads, lk, bins := H3SpectrumShapes("H3SpectrumBackward", dkhat, dk)
	plan := spectrumPlan(bins)
	n := plan.Len()
	g := complexView(dkhat.data)
	c.For(heads, 1, func(lo, hi int) {
		spec, out := c.c64(bins), c.f32(n)
		defer c.putC64(spec)
		defer c.putF32(out)
		for h := lo; h < hi; h++ {
			src := g[h*bins : (h+1)*bins]
			half := complex(float32(n)/2, 0)
			for j, x := range src {
				spec[j] = x * half
			}
			spec[0] = src[0] * complex(float32(n), 0)
			spec[bins-1] = src[bins-1] * complex(float32(n), 0)
			plan.Inverse(out, spec)
			row := dk.data[h*lk : (h+1)*lk]
			simd.Add(row, row, out)
		}
	})
}

// h3Tile is the channel tile one task of the fused kernels works on: whole heads, at
// least 16 channels when there are enough, so that every row a tile's transposes read
// from the channels-last tensors is a whole 64-byte cache line.
func h3Tile(channels, headDim int) int {
	return min(channels, headDim*max(1, 16/headDim))
}

// h3Work is one task's scratch space: the tile's channels of each operand as contiguous
// rows of length L, one zero-padded sequence and its spectrum. Its buffers come from the
// device's scratch store, so a step after the first allocates none of them.
type h3Work struct {
	rows      [7][]float32
	buf       []float32 // backs rows
	pad, pad2 []float32 // n/2 values; beyond L they stay zero
	out       []float32 // n values
	spec      []complex64
	spec2     []complex64
}

func (c *CPU) newH3Work(operands, tile, l, bins int) h3Work {
	w := h3Work{
		pad:   c.f32(bins - 1),
		pad2:  c.f32(bins - 1),
		out:   c.f32(2 * (bins - 1)),
		spec:  c.c64(bins),
		spec2: c.c64(bins),
		buf:   c.f32(operands * tile * l),
	}
	for i := 0; i < operands; i++ {
		w.rows[i] = w.buf[i*tile*l : (i+1)*tile*l]
	}
	return w
}

// release gives w's buffers back to c's scratch store; w must not be used afterwards.
func (c *CPU) release(w *h3Work) {
	c.putF32(w.pad)
	c.putF32(w.pad2)
	c.putF32(w.out)
	c.putC64(w.spec)
	c.putC64(w.spec2)
	c.putF32(w.buf)
}

// gather copies channels [c0, c0+tc) of sequence b of x (B, L, H) into dst as rows of L.
func gather(dst []float32, x *Tensor, b, l, h, c0, tc int) {
	fft.Transpose(dst, l, x.data[b*l*h+c0:], h, l, tc)
}

// scatter is gather's inverse.
func scatter(x *Tensor, src []float32, b, l, h, c0, tc int) {
	fft.Transpose(x.data[b*l*h+c0:], h, src, l, tc, l)
}

// H3Conv implements H3ConvKernels. Each task takes one sequence and a tile of whole
// heads: it gathers the tile's channels of k̃, v and q into rows, runs every product of
// the head through one forward transform, the spectral product, one inverse transform
// and the skip and q terms while it is in cache, and scatters the tile's output back.
// Neither k̃ ⊙ v nor the convolution's output ever reaches memory outside the task.
func (c *CPU) H3Conv(y, kt, v, q, d, khat *Tensor, headDim int) {
	nb, l, h, _ := H3ConvShapes("H3Conv", y, kt, v, q, d, khat, headDim)
	bins := khat.shape[1]
	plan := spectrumPlan(bins)
	kspec := complexView(khat.data)
	tile := h3Tile(h, headDim)
	tiles := (h + tile - 1) / tile
	dh := headDim
	c.For(nb*tiles, 1, func(lo, hi int) {
		w := c.newH3Work(4, tile, l, bins)
		defer c.release(&w)
		kr, vr, qr, yr := w.rows[0], w.rows[1], w.rows[2], w.rows[3]
		for task := lo; task < hi; task++ {
			b, c0 := task/tiles, task%tiles*tile
			tc := min(tile, h-c0)
			gather(kr, kt, b, l, h, c0, tc)
			gather(vr, v, b, l, h, c0, tc)
			gather(qr, q, b, l, h, c0, tc)
			clear(yr[:tc*l])
			for h0 := 0; h0 < tc; h0 += dh {
				head := (c0 + h0) / dh
				ks := kspec[head*bins : (head+1)*bins]
				skip := d.data[head]
				for i := h0; i < h0+dh; i++ {
					for j := h0; j < h0+dh; j++ {
						z := w.pad[:l]
						simd.Mul(z, kr[i*l:(i+1)*l], vr[j*l:(j+1)*l])
						plan.Forward(w.spec, w.pad)
						fft.MulSpectra(w.spec, ks, w.spec, false)
						plan.Inverse(w.out, w.spec)
						o := w.out[:l]
						simd.Axpy(skip, z, o)
						simd.MulAdd(yr[j*l:(j+1)*l], qr[i*l:(i+1)*l], o)
					}
				}
			}
			scatter(y, yr, b, l, h, c0, tc)
		}
	})
}

// H3ConvBackward implements H3ConvKernels. With g = dy_j ⊙ q_i the gradient reaching
// the convolution's output and zero padding to n ≥ 2L:
//
//	∂/∂q_i  += dy_j ⊙ (irfft(Z·K̂)[:L] + d·z)   (the forward's conv, recomputed)
//	∂/∂z    = irfft(conj(K̂)·G)[:L] + d·g,   then ∂/∂k̃_i += ∂z ⊙ v_j, ∂/∂v_j += ∂z ⊙ k̃_i
//	∂/∂d    += Σ_t g·z
//	∂/∂K̂[j] += (c_j/n)·Σ_b conj(Z)·G     (c_j = 1 at the end bins, 2 between)
//
// Tasks own tiles of whole heads and loop over the batch, so the sums over the batch for
// d and K̂ need no reduction across tasks. Each tile's existing gradients are gathered,
// added to in cache and scattered back.
func (c *CPU) H3ConvBackward(dkt, dv, dq, dd, dkhat, dy, kt, v, q, d, khat *Tensor, headDim int) {
	nb, l, h, heads := H3ConvShapes("H3ConvBackward", nil, kt, v, q, d, khat, headDim)
	checkH3Grads("H3ConvBackward", dkt, dv, dq, dd, dkhat, dy, kt, d, khat)
	if dkt == nil && dv == nil && dq == nil && dd == nil && dkhat == nil {
		return
	}
	bins := khat.shape[1]
	plan := spectrumPlan(bins)
	n := plan.Len()
	kspec := complexView(khat.data)
	tile := h3Tile(h, headDim)
	tiles := (h + tile - 1) / tile
	dh := headDim
	needDz := dkt != nil || dv != nil
	// The sums over the batch live in the scratch store, which hands them out zeroed.
	ddAcc := c.f64(heads)
	defer c.putF64(ddAcc)
	var kAcc []complex64
	if dkhat != nil {
		kAcc = c.c64(heads * bins)
		defer c.putC64(kAcc)
	}
	c.For(tiles, 1, func(lo, hi int) {
		w := c.newH3Work(7, tile, l, bins)
		defer c.release(&w)
		kr, vr, qr, gr := w.rows[0], w.rows[1], w.rows[2], w.rows[3]
		dkr, dvr, dqr := w.rows[4], w.rows[5], w.rows[6]
		for task := lo; task < hi; task++ {
			c0 := task * tile
			tc := min(tile, h-c0)
			for b := 0; b < nb; b++ {
				gather(kr, kt, b, l, h, c0, tc)
				gather(vr, v, b, l, h, c0, tc)
				gather(qr, q, b, l, h, c0, tc)
				gather(gr, dy, b, l, h, c0, tc)
				if dkt != nil {
					gather(dkr, dkt, b, l, h, c0, tc)
				}
				if dv != nil {
					gather(dvr, dv, b, l, h, c0, tc)
				}
				if dq != nil {
					gather(dqr, dq, b, l, h, c0, tc)
				}
				for h0 := 0; h0 < tc; h0 += dh {
					head := (c0 + h0) / dh
					ks := kspec[head*bins : (head+1)*bins]
					skip := d.data[head]
					var ddSum float64
					for i := h0; i < h0+dh; i++ {
						for j := h0; j < h0+dh; j++ {
							ki, vj, qi, dyj := kr[i*l:(i+1)*l], vr[j*l:(j+1)*l], qr[i*l:(i+1)*l], gr[j*l:(j+1)*l]
							z, g := w.pad[:l], w.pad2[:l]
							simd.Mul(z, ki, vj)
							simd.Mul(g, dyj, qi)
							ddSum += dot64(g, z)
							if dq != nil || dkhat != nil {
								plan.Forward(w.spec, w.pad)
							}
							if dq != nil {
								fft.MulSpectra(w.spec2, ks, w.spec, false)
								plan.Inverse(w.out, w.spec2)
								o := w.out[:l]
								simd.Axpy(skip, z, o)
								simd.MulAdd(dqr[i*l:(i+1)*l], dyj, o)
							}
							if !needDz && dkhat == nil {
								continue
							}
							plan.Forward(w.spec2, w.pad2)
							if dkhat != nil {
								fft.MulAddSpectra(kAcc[head*bins:(head+1)*bins], w.spec, w.spec2, true)
							}
							if needDz {
								fft.MulSpectra(w.spec, ks, w.spec2, true)
								plan.Inverse(w.out, w.spec)
								dz := w.out[:l]
								simd.Axpy(skip, g, dz)
								if dkt != nil {
									simd.MulAdd(dkr[i*l:(i+1)*l], dz, vj)
								}
								if dv != nil {
									simd.MulAdd(dvr[j*l:(j+1)*l], dz, ki)
								}
							}
						}
					}
					ddAcc[head] += ddSum
				}
				if dkt != nil {
					scatter(dkt, dkr, b, l, h, c0, tc)
				}
				if dv != nil {
					scatter(dv, dvr, b, l, h, c0, tc)
				}
				if dq != nil {
					scatter(dq, dqr, b, l, h, c0, tc)
				}
			}
		}
	})
	if dd != nil {
		for hd, s := range ddAcc {
			dd.data[hd] += float32(s)
		}
	}
	if dkhat != nil {
		out := complexView(dkhat.data)
		mid, end := complex(2/float32(n), 0), complex(1/float32(n), 0)
		for hd := 0; hd < heads; hd++ {
			for j := 0; j < bins; j++ {
				s := mid
				if j == 0 || j == bins-1 {
					s = end
				}
				out[hd*bins+j] += s * kAcc[hd*bins+j]
			}
		}
	}
}

// dot64 is Σ x[i]·y[i] summed in float64: d's gradient is one number per head summed
// over B·L·dh² products of either sign, whose float32 sum would lose digits to
// cancellation that the float64 one keeps, at a cost of L multiply-adds beside four
// transforms of 2L.
func dot64(x, y []float32) float64 {
	var s0, s1 float64
	i := 0
	for ; i+1 < len(x); i += 2 {
		s0 += float64(x[i]) * float64(y[i])
		s1 += float64(x[i+1]) * float64(y[i+1])
	}
	if i < len(x) {
		s0 += float64(x[i]) * float64(y[i])
	}
	return s0 + s1
}
