package kernels_test

import (
	"github.com/hungry-ssm/hungry/ptx/kernels"
	"math"
	"testing"
)

var geluC = math.Sqrt(2 / math.Pi)

func geluRef(x float64) float64 {
	return 0.5 * x * (1 + math.Tanh(geluC*(x+0.044715*x*x*x)))
}

func geluGradRef(x float64) float64 {
	z := geluC * (x + 0.044715*x*x*x)
	th := math.Tanh(z)
	return 0.5*(1+th) + 0.5*x*(1-th*th)*geluC*(1+3*0.044715*x*x)
}

func TestElementwise(t *testing.T) {
	for _, n := range awkwardSizes {
		e := newEnv(t, "elementwise")
		grid, block := [3]int{ceilDiv(n, 1024), 1, 1}, [3]int{256, 1, 1}
		a, b := e.rand(n, -3, 3), e.rand(n, -3, 3)
		pa, pb := e.f32(a), e.f32(b)
		want := func(f func(i int) float64) []float64 {
			w := make([]float64, n)
			for i := range w {
				w[i] = f(i)
			}
			return w
		}

		out := e.out(n)
		e.launch(kernels.AddF32Kernel, grid, block, 0, out, pa, pb, n)
		check(t, name("add n=%d", n), e.read(out, n), want(func(i int) float64 { return float64(a[i]) + float64(b[i]) }), rtolF32, nil)

		out = e.out(n)
		e.launch(kernels.ScaleF32Kernel, grid, block, 0, out, pa, float32(-1.7), n)
		check(t, name("scale n=%d", n), e.read(out, n), want(func(i int) float64 { return -1.7 * float64(a[i]) }), rtolF32, nil)

		y := e.f32(b)
		e.launch(kernels.AxpyF32Kernel, grid, block, 0, y, pa, float32(0.37), n)
		// y + αx may cancel: the error is relative to the size of the terms.
		check(t, name("axpy n=%d", n), e.read(y, n), want(func(i int) float64 { return float64(b[i]) + 0.37*float64(a[i]) }), rtolF32,
			func(i int) float64 { return math.Abs(float64(b[i])) + math.Abs(0.37*float64(a[i])) })

	}
}

func TestAdamW(t *testing.T) {
	for _, n := range awkwardSizes {
		e := newEnv(t, "elementwise")
		p, g := e.rand(n, -1, 1), e.rand(n, -1, 1)
		m, v := e.rand(n, -0.1, 0.1), e.rand(n, 0.001, 0.01)
		pp, pg, pm, pv := e.f32(p), e.f32(g), e.f32(m), e.f32(v)
		const lr, wd, b1, b2, eps, step, gs = 0.01, 0.1, 0.9, 0.999, 1e-8, 3, 0.5
		bc1 := 1 - math.Pow(b1, step)
		bc2 := 1 - math.Pow(b2, step)
		e.launch(kernels.AdamwF32Kernel, [3]int{ceilDiv(n, 1024), 1, 1}, [3]int{256, 1, 1}, 0, pp, pm, pv, pg,
			float32(b1), float32(b2), float32(eps), float32(1-lr*wd), float32(lr/bc1), float32(math.Sqrt(bc2)), float32(gs), n)
		wp, wm, wv := make([]float64, n), make([]float64, n), make([]float64, n)
		for i := range wp {
			gi := float64(g[i]) * gs
			wm[i] = b1*float64(m[i]) + (1-b1)*gi
			wv[i] = b2*float64(v[i]) + (1-b2)*gi*gi
			wp[i] = float64(p[i])*(1-lr*wd) - lr/bc1*wm[i]/(math.Sqrt(wv[i])/math.Sqrt(bc2)+eps)
		}
		// The moments mix terms of either sign; the update is relative to |p| plus the step.
		check(t, name("adamw m n=%d", n), e.read(pm, n), wm, rtolF32, func(i int) float64 { return math.Abs(b1 * float64(m[i])) })
		check(t, name("adamw v n=%d", n), e.read(pv, n), wv, rtolF32, nil)
		check(t, name("adamw p n=%d", n), e.read(pp, n), wp, rtolF32, func(i int) float64 { return math.Abs(float64(p[i])) + lr/bc1 })
	}
}
