package autograd

import (
	"fmt"
	"testing"

	"github.com/hungry-ssm/hungry/tensor"
)

// unfusedH3Conv is the H3 mixer's long convolution as the layer composed it before the
// fused op: elementwise products (head dim 1), or per-head outer products through
// batched matmuls with the kernel and D repeated over each head's dh² channels, around
// CausalConv. BenchmarkH3LongConv compares the fused op with it.
func unfusedH3Conv(g *Graph, kt, v, q, d, kernel *Var, dh int) *Var {
	if dh == 1 {
		return Mul(g, q, CausalConv(g, Mul(g, kt, v), kernel, d))
	}
	shape := kt.Shape()
	b, l, dim := shape[0], shape[1], shape[2]
	heads := dim / dh
	rows := b * l * heads
	z := MatMul(g, Reshape(g, kt, rows, dh, 1), Reshape(g, v, rows, 1, dh), false, false)
	z = Reshape(g, z, b, l, heads*dh*dh)
	dev := kernel.Device()
	kRep := Add(g, Constant(dev.Zeros(dh*dh, heads, l)), kernel)
	kRep = Reshape(g, Permute(g, kRep, 1, 0, 2), heads*dh*dh, l)
	dRep := Add(g, Constant(dev.Zeros(dh*dh, heads)), d)
	dRep = Reshape(g, Transpose(g, dRep), heads*dh*dh)
	y := CausalConv(g, z, kRep, dRep)
	o := MatMul(g, Reshape(g, q, rows, 1, dh), Reshape(g, y, rows, dh, dh), false, false)
	return Reshape(g, o, b, l, dim)
}

// TestUnfusedH3ConvMatchesFused keeps the benchmark's baseline honest: both compute the
// same convolution and gradients.
func TestUnfusedH3ConvMatchesFused(t *testing.T) {
	rng := tensor.NewRNG(44)
	for _, dh := range []int{1, 4} {
		const b, l, h = 2, 19, 8
		kt, v, q := param(rng, "kt", 1, b, l, h), param(rng, "v", 1, b, l, h), param(rng, "q", 1, b, l, h)
		d, k := param(rng, "d", 1, h/dh), param(rng, "k", 0.3, h/dh, l)
		run := func(fused bool) []float32 {
			for _, p := range []*Var{kt, v, q, d, k} {
				p.ZeroGrad()
			}
			g := NewGraph()
			var y *Var
			if fused {
				y = H3Conv(g, kt, v, q, d, H3Spectrum(g, k, l), dh)
			} else {
				y = unfusedH3Conv(g, kt, v, q, d, k, dh)
			}
			if err := g.BackwardWith(y, y.Value); err != nil {
				t.Fatal(err)
			}
			out := y.Value.Host()
			for _, p := range []*Var{kt, v, q, d, k} {
				out = append(out, p.GradTensor().Host()...)
			}
			return out
		}
		a, c := run(true), run(false)
		for i := range a {
			if diff := a[i] - c[i]; diff > 1e-3 || diff < -1e-3 {
				t.Fatalf("dh=%d: value %d: fused %g, unfused %g", dh, i, a[i], c[i])
			}
		}
	}
}

// BenchmarkH3LongConv times the H3 long convolution, forward and backward, fused and as
// the layer composed it before (the CPU's speed-up that issue 12 asks for).
func BenchmarkH3LongConv(bm *testing.B) {
	rng := tensor.NewRNG(45)
	const b, l, h = 4, 1024, 256
	for _, dh := range []int{1, 8} {
		kt, v, q := param(rng, "kt", 1, b, l, h), param(rng, "v", 1, b, l, h), param(rng, "q", 1, b, l, h)
		d, k := param(rng, "d", 1, h/dh), param(rng, "k", 0.03, h/dh, l)
		for _, fused := range []bool{true, false} {
			name := map[bool]string{true: "fused", false: "unfused"}[fused]
			bm.Run(fmt.Sprintf("B=%d_L=%d_H=%d_dh=%d/%s", b, l, h, dh, name), func(bm *testing.B) {
				for range bm.N {
					g := NewGraph()
					var y *Var
					if fused {
						y = H3Conv(g, kt, v, q, d, H3Spectrum(g, k, l), dh)
					} else {
						y = unfusedH3Conv(g, kt, v, q, d, k, dh)
					}
					if err := g.BackwardWith(y, y.Value); err != nil {
						bm.Fatal(err)
					}
				}
			})
		}
	}
}
