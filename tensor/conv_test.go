package tensor

import (
	"fmt"
	"math"
	"testing"
)

// convRef holds a causal convolution and its gradients evaluated in float64 straight from
// the definitions (O(B·L·Lk·H)).
type convRef struct {
	y, du, dk, dd []float64
}

func refConv(u, k, d, dy *Tensor) convRef {
	nb, l, h, lk := ConvShapes("ref", nil, u, k, d)
	r := convRef{
		y:  make([]float64, nb*l*h),
		du: make([]float64, nb*l*h),
		dk: make([]float64, h*lk),
		dd: make([]float64, h),
	}
	at := func(b, t, c int) int { return (b*l+t)*h + c }
	for b := 0; b < nb; b++ {
		for c := 0; c < h; c++ {
			dc := 0.0
			if d != nil {
				dc = float64(d.data[c])
			}
			for t := 0; t < l; t++ {
				i := at(b, t, c)
				s := dc * float64(u.data[i])
				g := float64(dy.data[i])
				r.du[i] += dc * g
				r.dd[c] += g * float64(u.data[i])
				for j := 0; j < lk && j <= t; j++ {
					kj := float64(k.data[c*lk+j])
					s += kj * float64(u.data[at(b, t-j, c)])
					r.du[at(b, t-j, c)] += kj * g
					r.dk[c*lk+j] += g * float64(u.data[at(b, t-j, c)])
				}
				r.y[i] = s
			}
		}
	}
	return r
}

// relErr64 is ‖got − want‖₂ / ‖want‖₂.
func relErr64(got []float32, want []float64) float64 {
	var num, den float64
	for i, w := range want {
		e := float64(got[i]) - w
		num += e * e
		den += w * w
	}
	return math.Sqrt(num / den)
}

// fftConvTol bounds the relative error (2-norm) of the FFT convolution and its gradients
// against float64. A float32 FFT round trip errs by about 2e-7 relative to the norm of the
// transformed sequences (see package fft); the products and sums around it add a few
// times that, and the result can be smaller than the sequences it came from. The tests
// measure at most 5e-7; 5e-6 leaves a margin of ten.
const fftConvTol = 5e-6

// directConvTol bounds the same error for the direct kernels, which round once per
// multiply-add in float32: Lk·2⁻²⁴ relative per element at most, and under 1e-6 for the
// kernel lengths tested.
const directConvTol = 1e-5

type convCase struct{ b, l, h, lk int }

func (cc convCase) String() string {
	return fmt.Sprintf("B=%d L=%d H=%d Lk=%d", cc.b, cc.l, cc.h, cc.lk)
}

func testConvKernels(t *testing.T, cases []convCase, tol float64, forward func(y, u, k, d *Tensor),
	backward func(du, dk, dd, dy, u, k, d *Tensor)) {
	rng := NewRNG(31)
	cpu := DefaultCPU()
	for _, cc := range cases {
		for _, withD := range []bool{true, false} {
			u := RandNormal(cpu, rng, 1, cc.b, cc.l, cc.h)
			k := RandNormal(cpu, rng, 1/float32(math.Sqrt(float64(cc.lk))), cc.h, cc.lk)
			dy := RandNormal(cpu, rng, 1, cc.b, cc.l, cc.h)
			var d *Tensor
			if withD {
				d = RandNormal(cpu, rng, 1, cc.h)
			}
			ref := refConv(u, k, d, dy)
			y := RandNormal(cpu, rng, 1, cc.b, cc.l, cc.h) // overwritten, not added to
			forward(y, u, k, d)
			e := relErr64(y.data, ref.y)
			t.Logf("%v d=%v: forward relative error %.2e", cc, withD, e)
			if e > tol {
				t.Errorf("%v d=%v: forward relative error %.3g > %g", cc, withD, e, tol)
			}

			// Each gradient alone, from zero.
			du := cpu.Zeros(cc.b, cc.l, cc.h)
			backward(du, nil, nil, dy, u, k, d)
			dk := cpu.Zeros(cc.h, cc.lk)
			backward(nil, dk, nil, dy, u, k, d)
			dd := cpu.Zeros(cc.h)
			backward(nil, nil, dd, dy, u, k, d)
			checkGrads(t, fmt.Sprintf("%v d=%v alone", cc, withD), tol, du.data, dk.data, dd.data, ref.du, ref.dk, ref.dd)

			// All together, added to non-zero gradients.
			du = RandNormal(cpu, rng, 1, cc.b, cc.l, cc.h)
			dk = RandNormal(cpu, rng, 1, cc.h, cc.lk)
			dd = RandNormal(cpu, rng, 1, cc.h)
			for i, v := range du.data {
				ref.du[i] += float64(v)
			}
			for i, v := range dk.data {
				ref.dk[i] += float64(v)
			}
			for i, v := range dd.data {
				ref.dd[i] += float64(v)
			}
			backward(du, dk, dd, dy, u, k, d)
			checkGrads(t, fmt.Sprintf("%v d=%v accumulated", cc, withD), tol, du.data, dk.data, dd.data, ref.du, ref.dk, ref.dd)
		}
	}
}

func checkGrads(t *testing.T, name string, tol float64, du, dk, dd []float32, wantDu, wantDk, wantDd []float64) {
	t.Helper()
	for _, g := range []struct {
		name string
		got  []float32
		want []float64
	}{{"du", du, wantDu}, {"dk", dk, wantDk}, {"dd", dd, wantDd}} {
		e := relErr64(g.got, g.want)
		t.Logf("%s: %s relative error %.2e", name, g.name, e)
		if e > tol {
			t.Errorf("%s: %s relative error %.3g > %g", name, g.name, e, tol)
		}
	}
}

func TestCausalConvMatchesDirect(t *testing.T) {
	cpu := DefaultCPU()
	testConvKernels(t, []convCase{
		{1, 1, 1, 1}, {2, 7, 3, 7}, {2, 7, 3, 2}, {1, 31, 5, 31}, {3, 64, 9, 64},
		{2, 100, 17, 33}, {2, 1000, 3, 1000}, {1, 1000, 2, 5}, {1, 1025, 4, 1025},
	}, fftConvTol, cpu.CausalConv, cpu.CausalConvBackward)
}

func TestShortConvMatchesDirect(t *testing.T) {
	cpu := DefaultCPU()
	testConvKernels(t, []convCase{
		{1, 1, 1, 1}, {2, 7, 3, 7}, {2, 7, 3, 2}, {1, 31, 5, 31}, {3, 64, 9, 64},
		{2, 100, 17, 33}, {2, 1000, 7, 4}, {1, 300, 33, 64},
	}, directConvTol, cpu.ShortConv, cpu.ShortConvBackward)
}

func TestConvShapesRejectMismatches(t *testing.T) {
	u := New(2, 5, 3)
	for _, c := range []struct {
		name    string
		y, k, d *Tensor
	}{
		{"kernel longer than the sequence", nil, New(3, 6), nil},
		{"kernel channels", nil, New(4, 2), nil},
		{"kernel rank", nil, New(3), nil},
		{"skip weight", nil, New(3, 2), New(2)},
		{"output shape", New(2, 5, 4), New(3, 2), nil},
		{"empty kernel", nil, New(3, 0), nil},
	} {
		if err := Catch(func() { ConvShapes("test", c.y, u, c.k, c.d) }); err == nil {
			t.Errorf("%s: accepted", c.name)
		}
	}
	if err := Catch(func() { ConvShapes("test", nil, New(5, 3), New(3, 2), nil) }); err == nil {
		t.Error("a rank-2 input was accepted")
	}
	if err := Catch(func() {
		DefaultCPU().CausalConvBackward(New(2, 5, 3), New(3, 3), nil, New(2, 5, 3), u, New(3, 2), nil)
	}); err == nil {
		t.Error("a kernel gradient of the wrong shape was accepted")
	}
}
