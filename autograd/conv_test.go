package autograd

import (
	"fmt"
	"math"
	"testing"

	"github.com/hungry-ssm/hungry/tensor"
)

func TestConvGrad(t *testing.T) {
	rng := tensor.NewRNG(41)
	ops := []struct {
		name string
		op   func(g *Graph, u, k, d *Var) *Var
	}{{"CausalConv", CausalConv}, {"ShortConv", ShortConv}}
	for _, o := range ops {
		for _, c := range []struct{ b, l, h, lk int }{{2, 9, 3, 9}, {1, 13, 2, 4}, {2, 5, 1, 1}} {
			u := param(rng, "u", 1, c.b, c.l, c.h)
			k := param(rng, "k", 0.5, c.h, c.lk)
			d := param(rng, "d", 1, c.h)
			name := fmt.Sprintf("%s B=%d L=%d H=%d Lk=%d", o.name, c.b, c.l, c.h, c.lk)
			checkGrad(t, name, func(g *Graph, in []*Var) *Var {
				return o.op(g, in[0], in[1], in[2])
			}, u, k, d)
			checkGrad(t, name+" without d", func(g *Graph, in []*Var) *Var {
				return o.op(g, in[0], in[1], nil)
			}, u, k)
			// A constant input takes the kernels' nil-gradient path.
			checkGrad(t, name+" constant u", func(g *Graph, in []*Var) *Var {
				return o.op(g, in[0], in[1], in[2])
			}, Constant(u.Value), k, d)
		}
	}
}

// directConv64 is the O(L²) causal convolution in float64.
func directConv64(u, k, d []float32, nb, l, h, lk int) []float64 {
	y := make([]float64, nb*l*h)
	for b := 0; b < nb; b++ {
		for c := 0; c < h; c++ {
			for t := 0; t < l; t++ {
				s := float64(d[c]) * float64(u[(b*l+t)*h+c])
				for j := 0; j < lk && j <= t; j++ {
					s += float64(k[c*lk+j]) * float64(u[(b*l+t-j)*h+c])
				}
				y[(b*l+t)*h+c] = s
			}
		}
	}
	return y
}

// TestCausalConvMatchesDirect holds the FFT convolution to the direct one in float64.
// The 1e-4 bound is what the model needs (it is far below the noise of float32
// training); the kernels measure about 5e-7 (see the tensor package's tests).
func TestCausalConvMatchesDirect(t *testing.T) {
	const tol = 1e-4
	rng := tensor.NewRNG(42)
	const nb, h = 2, 3
	for _, l := range []int{1, 7, 64, 1000, 4096} {
		u := param(rng, "u", 1, nb, l, h)
		// A decaying kernel, like an SSM's, with every tap non-zero.
		kd := rng.Normal(h*l, 0, 1)
		for i := range kd {
			kd[i] *= float32(math.Exp(-float64(i%l) / 200))
		}
		k := NewParam("k", tensor.FromSlice(kd, h, l))
		d := param(rng, "d", 1, h)
		y := CausalConv(NoGrad(), u, k, d).Value.Data()
		want := directConv64(u.Value.Data(), kd, d.Value.Data(), nb, l, h, l)
		var num, den float64
		for i, w := range want {
			e := float64(y[i]) - w
			num += e * e
			den += w * w
		}
		rel := math.Sqrt(num / den)
		t.Logf("L=%d: relative error %.2e", l, rel)
		if rel > tol {
			t.Errorf("L=%d: relative error %.3g > %g", l, rel, tol)
		}
	}
}

func TestConvRejectsBadShapes(t *testing.T) {
	dev := tensor.DefaultCPU()
	u := Constant(dev.Zeros(2, 5, 3))
	wantShapeError(t, func() { CausalConv(NoGrad(), u, Constant(dev.Zeros(3, 6)), nil) }, "CausalConv", "kernel length")
	wantShapeError(t, func() { ShortConv(NoGrad(), u, Constant(dev.Zeros(4, 2)), nil) }, "ShortConv", "kernel")
	wantShapeError(t, func() { ShortConv(NoGrad(), u, Constant(dev.Zeros(3, 2)), Constant(dev.Zeros(2))) }, "skip")
}
