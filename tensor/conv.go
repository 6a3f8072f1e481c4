package tensor

import (
	"fmt"
	"math/bits"

	"github.com/hungry-ssm/hungry/tensor/internal/fft"
	"github.com/hungry-ssm/hungry/tensor/internal/simd"
)

// ConvKernels are the causal convolutions along the sequence axis of channels-last
// sequences, the layout linear layers produce. With u and y shaped (B, L, H), a kernel k
// (H, Lk) with Lk ≤ L (zero beyond Lk) and an optional skip weight d (H):
//
//	y[b,t,h] = Σ_{s=0..min(t, Lk−1)} k[h,s]·u[b,t−s,h] + d[h]·u[b,t,h]
//
// The backward kernels add to the gradient tensors they are given; a nil gradient tensor
// is not computed. d may be nil (no skip term).
type ConvKernels interface {
	// CausalConv computes y by FFT: O(L log L) per channel whatever Lk is.
	CausalConv(y, u, k, d *Tensor)
	// CausalConvBackward adds ∂loss/∂u, ∂loss/∂k and ∂loss/∂d to du, dk and dd given dy,
	// using FFTs.
	CausalConvBackward(du, dk, dd, dy, u, k, d *Tensor)
	// ShortConv computes y directly, O(L·Lk) per channel: faster than the FFT for the
	// short kernels (Lk ≤ 64) of the shift SSM.
	ShortConv(y, u, k, d *Tensor)
	// ShortConvBackward is CausalConvBackward computed directly.
	ShortConvBackward(du, dk, dd, dy, u, k, d *Tensor)
}

// MaxFFTConvLen is the longest sequence CausalConv accepts: its FFT of length
// 2·next_pow2(L) must not exceed the FFT's largest size.
const MaxFFTConvLen = fft.MaxSize / 2

// ConvShapes checks the operands of a causal convolution and returns B, L, H and Lk. y
// (shaped like u) and d may be nil. It panics with a *ShapeError naming the shapes when
// they do not fit.
func ConvShapes(op string, y, u, k, d *Tensor) (batch, length, channels, taps int) {
	shapes := [][]int{u.shape, k.shape}
	if d != nil {
		shapes = append(shapes, d.shape)
	}
	bad := func(msg string) { panic(&ShapeError{Op: op, Shapes: shapes, Msg: msg}) }
	if u.Rank() != 3 {
		bad("input must be (B, L, H)")
	}
	batch, length, channels = u.shape[0], u.shape[1], u.shape[2]
	if length < 1 {
		bad("empty sequence")
	}
	if k.Rank() != 2 || k.shape[0] != channels {
		bad(fmt.Sprintf("kernel must be (H, Lk) with H = %d", channels))
	}
	taps = k.shape[1]
	if taps < 1 || taps > length {
		bad(fmt.Sprintf("kernel length %d outside [1, L = %d]", taps, length))
	}
	if d != nil && !SameShape(d.shape, []int{channels}) {
		bad(fmt.Sprintf("skip weight must be (%d)", channels))
	}
	if y != nil && !SameShape(y.shape, u.shape) {
		bad(fmt.Sprintf("output %v must be shaped like the input", y.shape))
	}
	return batch, length, channels, taps
}

// checkConvGrads checks that each non-nil gradient is shaped like its operand.
func checkConvGrads(op string, du, dk, dd, dy, u, k *Tensor) {
	check := func(g *Tensor, want []int, what string) {
		if g != nil && !SameShape(g.shape, want) {
			panic(&ShapeError{Op: op, Shapes: [][]int{g.shape, want}, Msg: what + " gradient is not shaped like its operand"})
		}
	}
	check(dy, u.shape, "output")
	check(du, u.shape, "input")
	check(dk, k.shape, "kernel")
	check(dd, []int{k.shape[0]}, "skip weight")
}

// fftConvPlan returns the FFT that convolves sequences of length l without wrap-around.
func fftConvPlan(op string, u *Tensor, l int) *fft.Plan {
	if l > MaxFFTConvLen {
		panic(&ShapeError{Op: op, Shapes: [][]int{u.shape}, Msg: fmt.Sprintf("sequence length %d exceeds %d", l, MaxFFTConvLen)})
	}
	// 2·next_pow2(L) ≥ 2L keeps the circular convolution free of wrap-around for every
	// output t < L; fft.MinSize bounds it below for the shortest sequences.
	n := max(2<<bits.Len(uint(l-1)), fft.MinSize)
	p, err := fft.NewPlan(n)
	if err != nil {
		panic(fmt.Sprintf("tensor: FFT length %d for L = %d: %v", n, l, err))
	}
	return p
}

// channelBlock is how many channels a worker transforms together. Channels-last rows are
// gathered a block at a time, so each cache line of u is read once rather than once per
// channel; 8 float32 channels fill half a 64-byte line and keep a block's buffers (8
// sequences of the FFT length) within L2 for L up to 8192. Fewer channels per block are
// used when that leaves the workers idle.
func (c *CPU) channelBlock(h int) int {
	return max(1, min(8, h/(2*c.Workers())))
}

// CausalConv implements ConvKernels.
func (c *CPU) CausalConv(y, u, k, d *Tensor) {
	nb, l, h, lk := ConvShapes("CausalConv", y, u, k, d)
	plan := fftConvPlan("CausalConv", u, l)
	n := plan.Len()
	m := n/2 + 1
	hb := c.channelBlock(h)
	blocks := (h + hb - 1) / hb
	c.For(blocks, 1, func(lo, hi int) {
		in := make([]float32, hb*n)
		out := make([]float32, hb*n)
		kspec := make([]complex64, hb*m)
		spec := make([]complex64, m)
		for blk := lo; blk < hi; blk++ {
			h0 := blk * hb
			w := min(hb, h-h0)
			// The kernel's spectrum serves the whole batch. The gathers below rewrite
			// in[:L] of every channel, so only the padding beyond L must stay zero.
			for ch := 0; ch < w; ch++ {
				buf := in[ch*n : (ch+1)*n]
				copy(buf, k.data[(h0+ch)*lk:(h0+ch+1)*lk])
				clear(buf[lk:l])
				plan.Forward(kspec[ch*m:(ch+1)*m], buf)
			}
			for b := 0; b < nb; b++ {
				gatherChannels(in, n, u.data, h, b*l, l, h0, w)
				for ch := 0; ch < w; ch++ {
					plan.Forward(spec, in[ch*n:(ch+1)*n])
					fft.MulSpectra(spec, kspec[ch*m:(ch+1)*m], spec, false)
					plan.Inverse(out[ch*n:(ch+1)*n], spec)
				}
				for t := 0; t < l; t++ {
					r := (b*l + t) * h
					yrow, urow := y.data[r+h0:r+h0+w], u.data[r+h0:r+h0+w]
					for ch := range yrow {
						v := out[ch*n+t]
						if d != nil {
							v += d.data[h0+ch] * urow[ch]
						}
						yrow[ch] = v
					}
				}
			}
		}
	})
}

// gatherChannels copies channels [h0, h0+w) of rows [row0, row0+l) of the channels-last
// array src (h channels per row) into dst, one sequence of stride n per channel.
func gatherChannels(dst []float32, n int, src []float32, h, row0, l, h0, w int) {
	for t := 0; t < l; t++ {
		r := (row0+t)*h + h0
		for ch, v := range src[r : r+w] {
			dst[ch*n+t] = v
		}
	}
}

// CausalConvBackward implements ConvKernels. With zero padding to n ≥ 2L the circular
// correlations below equal the linear ones for every index they are read at:
//
//	du[t] = Σ_s k[s]·dy[t+s]  = IFFT(conj(K)·DY)[t]
//	dk[s] = Σ_t u[t]·dy[t+s]  = IFFT(Σ_b conj(U_b)·DY_b)[s]
func (c *CPU) CausalConvBackward(du, dk, dd, dy, u, k, d *Tensor) {
	nb, l, h, lk := ConvShapes("CausalConvBackward", nil, u, k, d)
	checkConvGrads("CausalConvBackward", du, dk, dd, dy, u, k)
	if du == nil && dk == nil && dd == nil {
		return
	}
	plan := fftConvPlan("CausalConvBackward", u, l)
	n := plan.Len()
	m := n/2 + 1
	hb := c.channelBlock(h)
	blocks := (h + hb - 1) / hb
	needU := dk != nil || dd != nil
	c.For(blocks, 1, func(lo, hi int) {
		dyBuf := make([]float32, hb*n)
		out := make([]float32, hb*n)
		spec := make([]complex64, m)
		spec2 := make([]complex64, m)
		var uBuf []float32
		if needU {
			uBuf = make([]float32, hb*n)
		}
		var kspec, acc []complex64
		if du != nil {
			kspec = make([]complex64, hb*m)
		}
		if dk != nil {
			acc = make([]complex64, hb*m)
		}
		ddAcc := make([]float64, hb)
		for blk := lo; blk < hi; blk++ {
			h0 := blk * hb
			w := min(hb, h-h0)
			if du != nil {
				for ch := 0; ch < w; ch++ {
					buf := dyBuf[ch*n : (ch+1)*n]
					copy(buf, k.data[(h0+ch)*lk:(h0+ch+1)*lk])
					clear(buf[lk:l])
					plan.Forward(kspec[ch*m:(ch+1)*m], buf)
				}
			}
			clear(acc)
			clear(ddAcc)
			for b := 0; b < nb; b++ {
				gatherChannels(dyBuf, n, dy.data, h, b*l, l, h0, w)
				if needU {
					gatherChannels(uBuf, n, u.data, h, b*l, l, h0, w)
				}
				if dd != nil {
					for ch := 0; ch < w; ch++ {
						ddAcc[ch] += float64(simd.Dot(dyBuf[ch*n:ch*n+l], uBuf[ch*n:ch*n+l]))
					}
				}
				if du == nil && dk == nil {
					continue
				}
				for ch := 0; ch < w; ch++ {
					plan.Forward(spec, dyBuf[ch*n:(ch+1)*n])
					if du != nil {
						fft.MulSpectra(spec2, kspec[ch*m:(ch+1)*m], spec, true)
						plan.Inverse(out[ch*n:(ch+1)*n], spec2)
					}
					if dk != nil {
						plan.Forward(spec2, uBuf[ch*n:(ch+1)*n])
						fft.MulAddSpectra(acc[ch*m:(ch+1)*m], spec2, spec, true)
					}
				}
				if du != nil {
					for t := 0; t < l; t++ {
						r := (b*l + t) * h
						drow, dyrow := du.data[r+h0:r+h0+w], dy.data[r+h0:r+h0+w]
						for ch := range drow {
							v := out[ch*n+t]
							if d != nil {
								v += d.data[h0+ch] * dyrow[ch]
							}
							drow[ch] += v
						}
					}
				}
			}
			if dk != nil {
				for ch := 0; ch < w; ch++ {
					res := out[:n]
					plan.Inverse(res, acc[ch*m:(ch+1)*m])
					simd.Add(dk.data[(h0+ch)*lk:(h0+ch+1)*lk], dk.data[(h0+ch)*lk:(h0+ch+1)*lk], res)
				}
			}
			if dd != nil {
				for ch := 0; ch < w; ch++ {
					dd.data[h0+ch] += float32(ddAcc[ch])
				}
			}
		}
	})
}

// transposeKernel returns k (H, Lk) as (Lk, H), so the taps of all channels at one lag are
// contiguous like the channels of a row.
func transposeKernel(k *Tensor, h, lk int) []float32 {
	kt := make([]float32, lk*h)
	for hh := 0; hh < h; hh++ {
		for s := 0; s < lk; s++ {
			kt[s*h+hh] = k.data[hh*lk+s]
		}
	}
	return kt
}

// rowGrain is how many (b, t) rows a worker takes at least, so that a share does about
// 2^14 multiply-adds.
func rowGrain(h, lk int) int { return max(1, (1<<14)/(h*lk)) }

// ShortConv implements ConvKernels. Every output row is a sum of input rows scaled
// channel by channel, so the inner loops run over contiguous channels.
func (c *CPU) ShortConv(y, u, k, d *Tensor) {
	nb, l, h, lk := ConvShapes("ShortConv", y, u, k, d)
	kt := transposeKernel(k, h, lk)
	c.For(nb*l, rowGrain(h, lk), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			t := r % l
			yrow := y.data[r*h : (r+1)*h]
			if d != nil {
				simd.Mul(yrow, d.data, u.data[r*h:])
			} else {
				clear(yrow)
			}
			for s := 0; s < lk && s <= t; s++ {
				simd.MulAdd(yrow, kt[s*h:(s+1)*h], u.data[(r-s)*h:])
			}
		}
	})
}

// ShortConvBackward implements ConvKernels.
func (c *CPU) ShortConvBackward(du, dk, dd, dy, u, k, d *Tensor) {
	nb, l, h, lk := ConvShapes("ShortConvBackward", nil, u, k, d)
	checkConvGrads("ShortConvBackward", du, dk, dd, dy, u, k)
	if du != nil {
		kt := transposeKernel(k, h, lk)
		c.For(nb*l, rowGrain(h, lk), func(lo, hi int) {
			for r := lo; r < hi; r++ {
				t := r % l
				drow := du.data[r*h : (r+1)*h]
				if d != nil {
					simd.MulAdd(drow, d.data, dy.data[r*h:])
				}
				for s := 0; s < lk && t+s < l; s++ {
					simd.MulAdd(drow, kt[s*h:(s+1)*h], dy.data[(r+s)*h:])
				}
			}
		})
	}
	if dk == nil && dd == nil {
		return
	}
	// dk and dd are sums over every row, so the workers split the channels instead. Each
	// sequence is summed in float32 and the sequences in float64, which keeps the rounding
	// error of long batches near L·2⁻²⁴ rather than B·L·2⁻²⁴.
	c.For(h, 8, func(lo, hi int) {
		w := hi - lo
		seq := make([]float32, (lk+1)*w)
		total := make([]float64, (lk+1)*w)
		for b := 0; b < nb; b++ {
			clear(seq)
			for t := 0; t < l; t++ {
				r := b*l + t
				dyrow := dy.data[r*h+lo : r*h+hi]
				if dd != nil {
					simd.MulAdd(seq[lk*w:], dyrow, u.data[r*h+lo:])
				}
				if dk != nil {
					for s := 0; s < lk && s <= t; s++ {
						simd.MulAdd(seq[s*w:(s+1)*w], dyrow, u.data[(r-s)*h+lo:])
					}
				}
			}
			for i, v := range seq {
				total[i] += float64(v)
			}
		}
		for ch := 0; ch < w; ch++ {
			if dk != nil {
				for s := 0; s < lk; s++ {
					dk.data[(lo+ch)*lk+s] += float32(total[s*w+ch])
				}
			}
			if dd != nil {
				dd.data[lo+ch] += float32(total[lk*w+ch])
			}
		}
	})
}
