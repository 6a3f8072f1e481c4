package kernels_test

import (
	"github.com/hungry-ssm/hungry/ptx/kernels"
	"math"
	"testing"

	"github.com/hungry-ssm/hungry/ptx/ptxsim"
)

// TestFFTCausalConv runs the whole channels-last FFT convolution, forward and backward,
// kernel by kernel as the GPU device does, and compares with the float64 definition.
func TestFFTCausalConv(t *testing.T) {
	for _, s := range convShapes {
		B, L, H, Lk := s[0], s[1], s[2], s[3]
		n := 2
		for n < 2*L {
			n *= 2
		}
		nel := B * L * H
		e := newEnv(t, "fft")
		u, k, d, dy := e.rand(nel, -1, 1), e.rand(H*Lk, -0.3, 0.3), e.rand(H, -1, 1), e.rand(nel, -1, 1)
		du0, dk0, dd0 := e.rand(nel, -1, 1), e.rand(H*Lk, -1, 1), e.rand(H, -1, 1)
		ref := newConvRef(B, L, H, Lk, u, k, d, dy, du0, dk0, dd0)
		pu, pk, pd, pdy := e.f32(u), e.f32(k), e.f32(d), e.f32(dy)
		tw := e.f32(twiddles(n))
		blk := [3]int{256, 1, 1}
		grid := func(total int) [3]int { return [3]int{ceilDiv(total, 256), 1, 1} }
		rows := B * H
		// The gather and scatter move 32×32 (t, h) tiles, one batch per grid z.
		tiles := func(tlen int) [3]int { return [3]int{ceilDiv(tlen, 32), ceilDiv(H, 32), B} }
		tblk := [3]int{32, 8, 1}
		cbuf := func(r int) ptxsim.Ptr { return e.out(2 * r * n) }

		kf := cbuf(H)
		e.launch(kernels.PadRealToC64Kernel, grid(H*n), blk, 0, kf, pk, H, Lk, n)
		e.fft(kf, tw, H, n, false)
		uf := cbuf(rows)
		e.launch(kernels.BlhToC64Kernel, tiles(n), tblk, 0, uf, pu, B, L, H, n)
		e.fft(uf, tw, rows, n, false)
		yf := cbuf(rows)
		e.launch(kernels.CmulC64Kernel, grid(rows*n), blk, 0, yf, uf, kf, rows, n, H, 0)
		e.fft(yf, tw, rows, n, true)
		y := e.out(nel)
		e.launch(kernels.C64ToBlhF32Kernel, tiles(L), tblk, 0, y, yf, pu, pd, B, L, H, n, 0)

		dyf := cbuf(rows)
		e.launch(kernels.BlhToC64Kernel, tiles(n), tblk, 0, dyf, pdy, B, L, H, n)
		e.fft(dyf, tw, rows, n, false)
		duf := cbuf(rows)
		e.launch(kernels.CmulC64Kernel, grid(rows*n), blk, 0, duf, dyf, kf, rows, n, H, 1)
		e.fft(duf, tw, rows, n, true)
		du := e.f32(du0)
		e.launch(kernels.C64ToBlhF32Kernel, tiles(L), tblk, 0, du, duf, pdy, pd, B, L, H, n, 1)
		dkf := cbuf(H)
		e.launch(kernels.CmulSumBatchC64Kernel, grid(H*n), blk, 0, dkf, uf, dyf, B, H, n)
		e.fft(dkf, tw, H, n, true)
		dk := e.f32(dk0)
		e.launch(kernels.C64RealRowsAccF32Kernel, grid(H*Lk), blk, 0, dk, dkf, H, Lk, n)
		dd := e.f32(dd0)
		e.launch(kernels.CausalConvBwdDkF32Kernel, [3]int{ceilDiv(H, 32), 1, 1}, [3]int{32, 8, 1}, 0, ptrNull, dd, pdy, pu, B, L, H, 1)

		// An FFT spreads each value's rounding over the whole transform: an output's error
		// is about log2(n)·2^-24 of the sequence's largest magnitudes rather than of its own
		// terms, so the scale adds the largest term magnitude of the array.
		fftScale := func(sc []float64) func(int) float64 {
			big := 0.0
			for _, v := range sc {
				big = math.Max(big, v)
			}
			return func(i int) float64 { return sc[i] + big }
		}
		check(t, name("fft conv y %v", s), e.read(y, nel), ref.y, rtolF32, fftScale(ref.ySc))
		check(t, name("fft conv du %v", s), e.read(du, nel), ref.du, rtolF32, fftScale(ref.duSc))
		check(t, name("fft conv dk %v", s), e.read(dk, H*Lk), ref.dk, rtolF32, fftScale(ref.dkSc))
		check(t, name("fft conv dd %v", s), e.read(dd, H), ref.dd, rtolF32, func(h int) float64 { return ref.ddSc[h] })
	}
}
