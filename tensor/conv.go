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
	// The shapes are gathered only on failure: a list built up front costs every call an
	// allocation.
	bad := func(msg string) {
		shapes := [][]int{u.shape, k.shape}
		if d != nil {
			shapes = append(shapes, d.shape)
		}
		panic(&ShapeError{Op: op, Shapes: shapes, Msg: msg})
	}
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
	// The skip weight's wanted shape is built only on failure, not on every call.
	if dd != nil && (dd.Rank() != 1 || dd.shape[0] != k.shape[0]) {
		check(dd, []int{k.shape[0]}, "skip weight")
	}
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

// channelStride is the distance between the channels' sequences in the transposed
// buffers: half the FFT length (the sequence and its zero padding to next_pow2(L); the
// FFT supplies the other half of zeros itself) plus one cache line. A power-of-two
// stride would map the rows that one 8×8 transpose block writes to the same L1 cache
// set, where they would evict each other.
func channelStride(n int) int { return n/2 + 16 }

// transposeRows is how many sequence positions the transposes move per step: 64 rows of
// channels-last data make each channel's piece a whole number of cache lines, and the
// transposed rows of a step (64·H floats, 64 KiB at H = 256) stay in L2 while the skip
// term and accumulation are applied to them.
const transposeRows = 64

// toChannels transposes one sequence src (L, H), channels last, into dst: channel c's
// values at dst[c·st : c·st+L]. dst beyond L in each channel is left as it is.
func (c *CPU) toChannels(dst []float32, st int, src []float32, l, h int) {
	c.For(l, transposeRows, func(lo, hi int) {
		fft.Transpose(dst[lo:], st, src[lo*h:], h, hi-lo, h)
	})
}

// fromChannels is the inverse of toChannels that also applies the skip term and can
// accumulate: dst[t,c] (+)= src[c·st+t] + d[c]·x[t,c], d optional.
func (c *CPU) fromChannels(dst []float32, src []float32, st, l, h int, d *Tensor, x []float32, accumulate bool) {
	c.For(l, transposeRows, func(lo, hi int) {
		var rows []float32
		if accumulate {
			rows = c.f32(transposeRows * h)
			defer c.putF32(rows)
		}
		for t0 := lo; t0 < hi; t0 += transposeRows {
			n := min(transposeRows, hi-t0)
			out := dst[t0*h : (t0+n)*h]
			if accumulate {
				fft.Transpose(rows, h, src[t0:], st, h, n)
				simd.Add(out, out, rows)
			} else {
				fft.Transpose(out, h, src[t0:], st, h, n)
			}
			if d != nil {
				for t := 0; t < n; t++ {
					simd.MulAdd(out[t*h:(t+1)*h], d.data, x[(t0+t)*h:])
				}
			}
		}
	})
}

// kernelSpectra returns the spectra of the H kernels (zero-padded to the FFT length), m
// bins each; they serve every sequence of the batch.
func (c *CPU) kernelSpectra(plan *fft.Plan, k *Tensor, h, lk int) []complex64 {
	n := plan.Len()
	m := n/2 + 1
	spec := c.c64(h * m)
	c.For(h, 1, func(lo, hi int) {
		for ch := lo; ch < hi; ch++ {
			plan.Forward(spec[ch*m:(ch+1)*m], k.data[ch*lk:(ch+1)*lk])
		}
	})
	return spec
}

// CausalConv implements ConvKernels. Each sequence of the batch is transposed so that
// every channel is contiguous and zero-padded to the FFT length, convolved channel by
// channel in parallel, and transposed back; the tiled transposes read and write whole
// cache lines, where gathering a channel straight from the channels-last rows would touch
// a new line (and every fourth access a new page) per element.
func (c *CPU) CausalConv(y, u, k, d *Tensor) {
	nb, l, h, lk := ConvShapes("CausalConv", y, u, k, d)
	plan := fftConvPlan("CausalConv", u, l)
	n := plan.Len()
	m := n/2 + 1
	st := channelStride(n)
	kspec := c.kernelSpectra(plan, k, h, lk)
	defer c.putC64(kspec)
	seq := c.f32(h * st)
	defer c.putF32(seq)
	for b := 0; b < nb; b++ {
		ub := u.data[b*l*h : (b+1)*l*h]
		c.toChannels(seq, st, ub, l, h)
		c.For(h, 1, func(lo, hi int) {
			spec, out := c.c64(m), c.f32(n)
			defer c.putC64(spec)
			defer c.putF32(out)
			for ch := lo; ch < hi; ch++ {
				row := seq[ch*st : ch*st+n/2]
				plan.Forward(spec, row)
				fft.MulSpectra(spec, kspec[ch*m:(ch+1)*m], spec, false)
				plan.Inverse(out, spec)
				// Only the first L values go back, so the padding stays zero.
				copy(row[:l], out[:l])
			}
		})
		c.fromChannels(y.data[b*l*h:(b+1)*l*h], seq, st, l, h, d, ub, false)
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
	st := channelStride(n)
	needU := dk != nil || dd != nil
	var kspec, acc []complex64
	if du != nil {
		kspec = c.kernelSpectra(plan, k, h, lk)
		defer c.putC64(kspec)
	}
	if dk != nil {
		acc = c.c64(h * m)
		defer c.putC64(acc)
	}
	ddAcc := c.f64(h)
	defer c.putF64(ddAcc)
	dySeq := c.f32(h * st)
	defer c.putF32(dySeq)
	var uSeq []float32
	if needU {
		uSeq = c.f32(h * st)
		defer c.putF32(uSeq)
	}
	for b := 0; b < nb; b++ {
		dyb := dy.data[b*l*h : (b+1)*l*h]
		c.toChannels(dySeq, st, dyb, l, h)
		if needU {
			c.toChannels(uSeq, st, u.data[b*l*h:(b+1)*l*h], l, h)
		}
		c.For(h, 1, func(lo, hi int) {
			spec, spec2, out := c.c64(m), c.c64(m), c.f32(n)
			defer c.putC64(spec)
			defer c.putC64(spec2)
			defer c.putF32(out)
			for ch := lo; ch < hi; ch++ {
				dyRow := dySeq[ch*st : ch*st+n/2]
				if dd != nil {
					ddAcc[ch] += float64(simd.Dot(dyRow[:l], uSeq[ch*st:ch*st+l]))
				}
				if du == nil && dk == nil {
					continue
				}
				plan.Forward(spec, dyRow)
				if dk != nil {
					plan.Forward(spec2, uSeq[ch*st:ch*st+n/2])
					fft.MulAddSpectra(acc[ch*m:(ch+1)*m], spec2, spec, true)
				}
				if du != nil {
					fft.MulSpectra(spec2, kspec[ch*m:(ch+1)*m], spec, true)
					plan.Inverse(out, spec2)
					// dy's row is spent: it carries du back, its padding still zero.
					copy(dyRow[:l], out[:l])
				}
			}
		})
		if du != nil {
			c.fromChannels(du.data[b*l*h:(b+1)*l*h], dySeq, st, l, h, d, dyb, true)
		}
	}
	if dk != nil {
		c.For(h, 1, func(lo, hi int) {
			out := c.f32(n)
			defer c.putF32(out)
			for ch := lo; ch < hi; ch++ {
				plan.Inverse(out, acc[ch*m:(ch+1)*m])
				row := dk.data[ch*lk : (ch+1)*lk]
				simd.Add(row, row, out)
			}
		})
	}
	if dd != nil {
		for ch, v := range ddAcc {
			dd.data[ch] += float32(v)
		}
	}
}

// transposeKernel returns k (H, Lk) as (Lk, H), so the taps of all channels at one lag are
// contiguous like the channels of a row.
func (c *CPU) transposeKernel(k *Tensor, h, lk int) []float32 {
	kt := c.f32(lk * h)
	for hh := 0; hh < h; hh++ {
		for s := 0; s < lk; s++ {
			kt[s*h+hh] = k.data[hh*lk+s]
		}
	}
	return kt
}

// shortConvChunk is how many output rows of one sequence a ShortConv task computes: a
// multiple of simd.CorrRows's 4-row blocks, long enough that the taps−1 extra input rows
// each task copies into its window cost little.
const shortConvChunk = 64

// ShortConv implements ConvKernels. Every output row is a sum of input rows scaled
// channel by channel, so the inner loops run over contiguous channels: simd.CorrRows
// over a window of the input with the taps reversed and zero rows before the sequence.
func (c *CPU) ShortConv(y, u, k, d *Tensor) {
	nb, l, h, lk := ConvShapes("ShortConv", y, u, k, d)
	// y[t] = Σ_s kt[s]⊙u[t−s] = Σ_j kr[j]⊙u[t−lk+1+j] with kr[j] = kt[lk−1−j].
	kr := c.f32(lk * h)
	defer c.putF32(kr)
	for hh := 0; hh < h; hh++ {
		for s := 0; s < lk; s++ {
			kr[(lk-1-s)*h+hh] = k.data[hh*lk+s]
		}
	}
	chunks := (l + shortConvChunk - 1) / shortConvChunk
	c.For(nb*chunks, 1, func(lo, hi int) {
		win := c.f32((shortConvChunk + lk - 1) * h)
		defer c.putF32(win)
		for task := lo; task < hi; task++ {
			b, t0 := task/chunks, task%chunks*shortConvChunk
			t1 := min(t0+shortConvChunk, l)
			// The window holds input rows t0−lk+1 … t1−1, zero before the sequence.
			first := t0 - lk + 1
			zero := max(0, -first)
			w := win[:(t1-first)*h]
			clear(w[:zero*h])
			copy(w[zero*h:], u.data[(b*l+first+zero)*h:(b*l+t1)*h])
			ys := y.data[(b*l+t0)*h : (b*l+t1)*h]
			if d != nil {
				for r := b*l + t0; r < b*l+t1; r++ {
					simd.Mul(y.data[r*h:(r+1)*h], d.data, u.data[r*h:])
				}
			} else {
				clear(ys)
			}
			simd.CorrRows(ys, w, kr, t1-t0, h, lk)
		}
	})
}

// ShortConvBackward implements ConvKernels.
func (c *CPU) ShortConvBackward(du, dk, dd, dy, u, k, d *Tensor) {
	nb, l, h, lk := ConvShapes("ShortConvBackward", nil, u, k, d)
	checkConvGrads("ShortConvBackward", du, dk, dd, dy, u, k)
	if du != nil {
		// du[t] += Σ_s kt[s]⊙dy[t+s] over s with t+s < l: simd.CorrRows over a window of
		// dy with zero rows past the sequence's end.
		kt := c.transposeKernel(k, h, lk)
		defer c.putF32(kt)
		chunks := (l + shortConvChunk - 1) / shortConvChunk
		c.For(nb*chunks, 1, func(lo, hi int) {
			win := c.f32((shortConvChunk + lk - 1) * h)
			defer c.putF32(win)
			for task := lo; task < hi; task++ {
				b, t0 := task/chunks, task%chunks*shortConvChunk
				t1 := min(t0+shortConvChunk, l)
				avail := min(t1+lk-1, l) - t0
				w := win[:(t1-t0+lk-1)*h]
				copy(w, dy.data[(b*l+t0)*h:(b*l+t0+avail)*h])
				clear(w[avail*h:])
				if d != nil {
					for r := b*l + t0; r < b*l+t1; r++ {
						simd.MulAdd(du.data[r*h:(r+1)*h], d.data, dy.data[r*h:])
					}
				}
				simd.CorrRows(du.data[(b*l+t0)*h:(b*l+t1)*h], w, kt, t1-t0, h, lk)
			}
		})
	}
	if dk == nil && dd == nil {
		return
	}
	// dk and dd are sums over every row, so the workers split the channels instead. Each
	// sequence is summed in float32 and the sequences in float64, which keeps the rounding
	// error of long batches near L·2⁻²⁴ rather than B·L·2⁻²⁴. With the sequence behind
	// lk−1 zero rows, dk[s] = Σ_t dy[t]⊙u[t−s] is simd.CorrSumRows's shift lk−1−s, and dd
	// = Σ_t dy[t]⊙u[t] the same sum as dk[0].
	c.For(h, 8, func(lo, hi int) {
		w := hi - lo
		seq, total := c.f32((lk+1)*w), c.f64((lk+1)*w)
		defer c.putF32(seq)
		defer c.putF64(total)
		var padded []float32
		if dk != nil {
			padded = c.f32((l + lk - 1) * h)
			defer c.putF32(padded)
		}
		for b := 0; b < nb; b++ {
			clear(seq)
			if dk != nil {
				copy(padded[(lk-1)*h:], u.data[b*l*h:(b+1)*l*h])
				shifts := seq[:lk*w] // shift j of the correlation is dk's tap lk−1−j
				simd.CorrSumRows(shifts, dy.data[b*l*h+lo:], padded[lo:], l, h, w, lk)
				for s := 0; s < lk/2; s++ {
					a, z := shifts[s*w:(s+1)*w], shifts[(lk-1-s)*w:(lk-s)*w]
					for i := range a {
						a[i], z[i] = z[i], a[i]
					}
				}
				copy(seq[lk*w:], seq[:w])
			} else {
				for t := 0; t < l; t++ {
					r := b*l + t
					simd.MulAdd(seq[lk*w:], dy.data[r*h+lo:r*h+hi], u.data[r*h+lo:])
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
