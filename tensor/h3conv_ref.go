package tensor

import (
	"math"
	"math/bits"
	"math/cmplx"
)

// H3ConvRef is H3Conv and every gradient of it evaluated in float64 (H3ConvReference).
type H3ConvRef struct {
	Y, DKt, DV, DQ []float64 // (B, L, H)
	DD             []float64 // (heads)
	DK             []float64 // (heads, Lk): the gradient of the time-domain kernel
}

// H3ConvReference evaluates H3Conv for k̃, v, q (B, L, H), the kernels k (heads, Lk),
// Lk ≤ L, and d (heads), and its gradients given dy, all in float64: the reference every
// device's fused kernels are tested against. The convolutions go through a float64
// complex FFT of length 2·next_pow2(L), whose rounding (about 1e-16 relative) is far
// below any float32 kernel's, so long sequences are checked in O(L log L) rather than
// O(L²). DK is what H3ConvBackward followed by H3SpectrumBackward adds to k's gradient.
func H3ConvReference(kt, v, q, k, d, dy []float32, b, l, h, headDim, lk int) H3ConvRef {
	dh := headDim
	heads := h / dh
	n := 2 << bits.Len(uint(l-1))
	r := H3ConvRef{
		Y: make([]float64, b*l*h), DKt: make([]float64, b*l*h), DV: make([]float64, b*l*h), DQ: make([]float64, b*l*h),
		DD: make([]float64, heads), DK: make([]float64, heads*lk),
	}
	col := func(x []float32, bb, c int) []float64 {
		out := make([]float64, l)
		for t := range out {
			out[t] = float64(x[(bb*l+t)*h+c])
		}
		return out
	}
	add := func(dst []float64, bb, c int, x []float64) {
		for t, e := range x {
			dst[(bb*l+t)*h+c] += e
		}
	}
	for hd := 0; hd < heads; hd++ {
		kpad := make([]complex128, n)
		for s := 0; s < lk; s++ {
			kpad[s] = complex(float64(k[hd*lk+s]), 0)
		}
		ks := fft64(kpad, false)
		dks := make([]complex128, n)
		skip := float64(d[hd])
		for bb := 0; bb < b; bb++ {
			for i := hd * dh; i < (hd+1)*dh; i++ {
				ki, qi := col(kt, bb, i), col(q, bb, i)
				for j := hd * dh; j < (hd+1)*dh; j++ {
					vj, dyj := col(v, bb, j), col(dy, bb, j)
					z, g := make([]float64, l), make([]float64, l)
					for t := range z {
						z[t] = ki[t] * vj[t]
						g[t] = dyj[t] * qi[t]
						r.DD[hd] += g[t] * z[t]
					}
					zs, gs := fft64(padded64(z, n), false), fft64(padded64(g, n), false)
					conv, corr := make([]complex128, n), make([]complex128, n)
					for f := range zs {
						conv[f] = zs[f] * ks[f]
						corr[f] = cmplx.Conj(ks[f]) * gs[f]
						dks[f] += cmplx.Conj(zs[f]) * gs[f]
					}
					conv, corr = fft64(conv, true), fft64(corr, true)
					yz, dz := make([]float64, l), make([]float64, l)
					dkt, dv := make([]float64, l), make([]float64, l)
					for t := range yz {
						yz[t] = real(conv[t]) + skip*z[t]
						dz[t] = real(corr[t]) + skip*g[t]
						dkt[t], dv[t] = dz[t]*vj[t], dz[t]*ki[t]
					}
					oy, oq := make([]float64, l), make([]float64, l)
					for t := range yz {
						oy[t], oq[t] = qi[t]*yz[t], dyj[t]*yz[t]
					}
					add(r.Y, bb, j, oy)
					add(r.DQ, bb, i, oq)
					add(r.DKt, bb, i, dkt)
					add(r.DV, bb, j, dv)
				}
			}
		}
		dk := fft64(dks, true)
		for s := 0; s < lk; s++ {
			r.DK[hd*lk+s] = real(dk[s])
		}
	}
	return r
}

func padded64(x []float64, n int) []complex128 {
	out := make([]complex128, n)
	for i, e := range x {
		out[i] = complex(e, 0)
	}
	return out
}

// fft64 returns the DFT of x (len a power of two), or with inverse the inverse DFT
// including 1/n, by iterative radix-2 with twiddles computed directly (not by
// recurrence) to keep float64 accuracy.
func fft64(x []complex128, inverse bool) []complex128 {
	n := len(x)
	a := make([]complex128, n)
	shift := 64 - bits.Len(uint(n-1))
	for i := range x {
		if n == 1 {
			a[0] = x[0]
			break
		}
		a[bits.Reverse64(uint64(i))>>shift] = x[i]
	}
	sign := -1.0
	if inverse {
		sign = 1
	}
	for size := 2; size <= n; size *= 2 {
		half := size / 2
		for k := 0; k < half; k++ {
			s, c := math.Sincos(sign * 2 * math.Pi * float64(k) / float64(size))
			w := complex(c, s)
			for start := 0; start < n; start += size {
				u, t := a[start+k], w*a[start+k+half]
				a[start+k], a[start+k+half] = u+t, u-t
			}
		}
	}
	if inverse {
		for i := range a {
			a[i] /= complex(float64(n), 0)
		}
	}
	return a
}
