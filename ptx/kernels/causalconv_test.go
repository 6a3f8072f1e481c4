package kernels_test

import (
	"github.com/hungry-ssm/hungry/ptx/kernels"
	"math"
	"testing"

	"github.com/hungry-ssm/hungry/ptx/ptxsim"
)

// convShapes are (B, L, H, Lk): a kernel as long as the sequence, a short one, one tap.
var convShapes = [][4]int{{1, 1, 1, 1}, {2, 7, 3, 7}, {1, 33, 5, 20}, {2, 31, 33, 31}, {1, 100, 7, 64}, {1, 100, 2, 100}, {3, 9, 4, 1}}

// convRef is tensor.ConvKernels' definition evaluated directly in float64 (the CPU device
// convolves by FFT, whose rounding error is relative to a whole sequence, not to each
// output's own terms), with the magnitudes of the terms each output sums.
type convRef struct {
	y, du, dk, dd         []float64
	ySc, duSc, dkSc, ddSc []float64
	B, L, H, Lk           int
}

func newConvRef(B, L, H, Lk int, u, k, d, dy, du0, dk0, dd0 []float32) *convRef {
	n := B * L * H
	r := &convRef{y: make([]float64, n), du: f64s(du0), dk: f64s(dk0), ySc: make([]float64, n), duSc: make([]float64, n),
		dkSc: make([]float64, H*Lk), B: B, L: L, H: H, Lk: Lk}
	if d != nil {
		r.dd, r.ddSc = f64s(dd0), make([]float64, H)
	}
	for i, v := range du0 {
		r.duSc[i] = math.Abs(float64(v))
	}
	for i, v := range dk0 {
		r.dkSc[i] = math.Abs(float64(v))
	}
	add := func(dst, sc []float64, i int, term float64) { dst[i] += term; sc[i] += math.Abs(term) }
	for b := 0; b < B; b++ {
		for t := 0; t < L; t++ {
			for h := 0; h < H; h++ {
				i := (b*L+t)*H + h
				if d != nil {
					add(r.y, r.ySc, i, float64(d[h])*float64(u[i]))
					add(r.du, r.duSc, i, float64(d[h])*float64(dy[i]))
					add(r.dd, r.ddSc, h, float64(dy[i])*float64(u[i]))
				}
				for s := 0; s < Lk; s++ {
					if s <= t {
						add(r.y, r.ySc, i, float64(k[h*Lk+s])*float64(u[i-s*H]))
						add(r.dk, r.dkSc, h*Lk+s, float64(dy[i])*float64(u[i-s*H]))
					}
					if t+s < L {
						add(r.du, r.duSc, i, float64(k[h*Lk+s])*float64(dy[i+s*H]))
					}
				}
			}
		}
	}
	return r
}

func TestCausalConvDirect(t *testing.T) {
	for _, s := range convShapes {
		B, L, H, Lk := s[0], s[1], s[2], s[3]
		n := B * L * H
		e := newEnv(t, "causalconv")
		u, k, d, dy := e.rand(n, -1, 1), e.rand(H*Lk, -0.3, 0.3), e.rand(H, -1, 1), e.rand(n, -1, 1)
		du0, dk0, dd0 := e.rand(n, -1, 1), e.rand(H*Lk, -1, 1), e.rand(H, -1, 1)
		pu, pk, pdy := e.f32(u), e.f32(k), e.f32(dy)
		g, blk := [3]int{ceilDiv(n, 256), 1, 1}, [3]int{256, 1, 1}
		for _, withD := range []bool{true, false} {
			var dv []float32
			var dp ptxsim.Ptr = ptrNull
			if withD {
				dv, dp = d, e.f32(d)
			}
			ref := newConvRef(B, L, H, Lk, u, k, dv, dy, du0, dk0, dd0)
			sc := func(v []float64) func(int) float64 { return func(i int) float64 { return v[i] } }
			y := e.out(n)
			e.launch(kernels.CausalConvFwdF32Kernel, g, blk, 0, y, pu, pk, dp, B, L, H, Lk)
			check(t, name("causal conv %v d=%v", s, withD), e.read(y, n), ref.y, rtolF32, sc(ref.ySc))
			du := e.f32(du0)
			e.launch(kernels.CausalConvBwdDuF32Kernel, g, blk, 0, du, pdy, pk, dp, B, L, H, Lk)
			check(t, name("causal conv du %v d=%v", s, withD), e.read(du, n), ref.du, rtolF32, sc(ref.duSc))
			dk := e.f32(dk0)
			var dd ptxsim.Ptr = ptrNull
			if withD {
				dd = e.f32(dd0)
			}
			e.launch(kernels.CausalConvBwdDkF32Kernel, [3]int{ceilDiv(H, 32), ceilDiv(Lk, 8), 1}, [3]int{32, 8, 1}, 0, dk, dd, pdy, pu, B, L, H, Lk)
			check(t, name("causal conv dk %v d=%v", s, withD), e.read(dk, H*Lk), ref.dk, rtolF32, sc(ref.dkSc))
			if withD {
				check(t, name("causal conv dd %v", s), e.read(dd, H), ref.dd, rtolF32, sc(ref.ddSc))
			}
		}
	}
}

// TestCausalConvMatchesCPU ties the float64 definition above to the CPU device's FFT
// convolution on one shape, so a disagreement about the semantics cannot hide.
func TestCausalConvMatchesCPU(t *testing.T) {
	const B, L, H, Lk = 2, 33, 5, 20
	e := newEnv(t, "causalconv")
	n := B * L * H
	u, k, d, dy := e.rand(n, -1, 1), e.rand(H*Lk, -0.3, 0.3), e.rand(H, -1, 1), e.rand(n, -1, 1)
	du0, dk0, dd0 := e.rand(n, -1, 1), e.rand(H*Lk, -1, 1), e.rand(H, -1, 1)
	ref := newConvRef(B, L, H, Lk, u, k, d, dy, du0, dk0, dd0)
	y := cpuRef.Zeros(B, L, H)
	cpuRef.CausalConv(y, ten(u, B, L, H), ten(k, H, Lk), ten(d, H))
	du, dk, dd := ten(du0, B, L, H), ten(dk0, H, Lk), ten(dd0, H)
	cpuRef.CausalConvBackward(du, dk, dd, ten(dy, B, L, H), ten(u, B, L, H), ten(k, H, Lk), ten(d, H))
	// The FFT's error is relative to the sequence's largest terms: 1e-4 of the sum of
	// magnitudes bounds it at these lengths.
	const rtolFFT = 1e-4
	check(t, "cpu y", y.Data(), ref.y, rtolFFT, func(i int) float64 { return ref.ySc[i] })
	check(t, "cpu du", du.Data(), ref.du, rtolFFT, func(i int) float64 { return ref.duSc[i] })
	check(t, "cpu dk", dk.Data(), ref.dk, rtolFFT, func(i int) float64 { return ref.dkSc[i] })
	check(t, "cpu dd", dd.Data(), ref.dd, rtolFFT, func(i int) float64 { return ref.ddSc[i] })
}
