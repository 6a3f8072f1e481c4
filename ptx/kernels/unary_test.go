package kernels_test

import (
	"math"
	"testing"

	"github.com/hungry-ssm/hungry/ptx/kernels"
	"github.com/hungry-ssm/hungry/ptx/ptxsim"
	"github.com/hungry-ssm/hungry/tensor"
)

var unaryOpsByName = []struct {
	name     string
	op       tensor.UnaryOp
	fwd, bwd *kernels.Info
	// gradScale bounds the magnitude of the terms f'(x) is computed from, for the
	// tolerance of the backward pass where f' crosses zero (GELU near x = −0.75).
	gradScale func(x float64) float64
}{
	{"gelu", tensor.OpGELU, kernels.UnaryGeluF32Kernel, kernels.UnaryBwdGeluF32Kernel, func(x float64) float64 { return 1 + 2*math.Abs(x)*(1+0.134*x*x) }},
	{"relu", tensor.OpReLU, kernels.UnaryReluF32Kernel, kernels.UnaryBwdReluF32Kernel, func(float64) float64 { return 1 }},
	{"silu", tensor.OpSiLU, kernels.UnarySiluF32Kernel, kernels.UnaryBwdSiluF32Kernel, func(x float64) float64 { return 1 + math.Abs(x) }},
	{"sigmoid", tensor.OpSigmoid, kernels.UnarySigmoidF32Kernel, kernels.UnaryBwdSigmoidF32Kernel, func(float64) float64 { return 1 }},
	{"tanh", tensor.OpTanh, kernels.UnaryTanhF32Kernel, kernels.UnaryBwdTanhF32Kernel, func(float64) float64 { return 1 }},
	{"exp", tensor.OpExp, kernels.UnaryExpF32Kernel, kernels.UnaryBwdExpF32Kernel, func(x float64) float64 { return math.Exp(x) }},
}

func TestUnary(t *testing.T) {
	for _, n := range awkwardSizes {
		e := newEnv(t, "unary")
		x := e.rand(n, -6, 6)
		for i := 0; i < n; i += 13 { // some saturated inputs
			x[i] *= 4
		}
		for i := 3; i < n; i += 4 { // and small ones, where tanh takes its polynomial
			x[i] *= 0.1
		}
		px := e.f32(x)
		grid, block := [3]int{ceilDiv(n, 1024), 1, 1}, [3]int{256, 1, 1}
		dout, dx0 := e.rand(n, -1, 1), e.rand(n, -1, 1)
		pdout := e.f32(dout)
		for _, o := range unaryOpsByName {
			y := cpuRef.Zeros(n)
			cpuRef.Unary(o.op, y, ten(x, n))
			out := e.out(n)
			e.launch(o.fwd, grid, block, 0, out, px, n)
			// Each function is evaluated to a few ulps, relative to its value: no cancellation
			// (GELU and SiLU are x times a positive factor; tanh uses a polynomial near 0).
			check(t, name("%s n=%d", o.name, n), e.read(out, n), f64s(y.Data()), rtolF32, nil)

			want := ten(dx0, n)
			cpuRef.UnaryBackward(o.op, want, ten(dout, n), ten(x, n), y)
			dx := e.f32(dx0)
			e.launch(o.bwd, grid, block, 0, dx, pdout, px, e.f32(y.Data()), n)
			check(t, name("%s bwd n=%d", o.name, n), e.read(dx, n), f64s(want.Data()), rtolF32, func(i int) float64 {
				return math.Abs(float64(dx0[i])) + math.Abs(float64(dout[i]))*o.gradScale(float64(x[i]))
			})
		}
	}
}

func TestSGD(t *testing.T) {
	const lr, mom, wd, gs = 0.05, 0.9, 0.01, 0.5
	for _, n := range awkwardSizes {
		e := newEnv(t, "unary")
		p, g, buf := e.rand(n, -1, 1), e.rand(n, -1, 1), e.rand(n, -0.1, 0.1)
		wp, wbuf := ten(p, n), ten(buf, n)
		cpuRef.SGD(wp, ten(g, n), wbuf, lr, mom, wd, gs)
		pp, pbuf := e.f32(p), e.f32(buf)
		e.launch(kernels.SgdF32Kernel, [3]int{ceilDiv(n, 1024), 1, 1}, [3]int{256, 1, 1}, 0, pp, pbuf, e.f32(g), float32(lr), float32(mom), float32(wd), float32(gs), n)
		// buf mixes terms of either sign (≤ |mom·buf| + |gs·g| + |wd·p|); p subtracts lr·buf.
		bufScale := func(i int) float64 {
			return mom*math.Abs(float64(buf[i])) + gs*math.Abs(float64(g[i])) + wd*math.Abs(float64(p[i]))
		}
		check(t, name("sgd buf n=%d", n), e.read(pbuf, n), f64s(wbuf.Data()), rtolF32, bufScale)
		check(t, name("sgd p n=%d", n), e.read(pp, n), f64s(wp.Data()), rtolF32, func(i int) float64 {
			return math.Abs(float64(p[i])) + lr*bufScale(i)
		})
	}
}

func TestSquaredNorm(t *testing.T) {
	for _, n := range append(awkwardSizes, 5000) {
		e := newEnv(t, "unary")
		x := e.rand(n, -2, 2)
		px := e.f32(x)
		want := cpuRef.SquaredNorm(ten(x, n))
		for _, g := range []int{1, 3, min(ceilDiv(n, 256), 1024)} {
			partial := e.out(g)
			e.launch(kernels.SquaredNormPartialF32Kernel, [3]int{g, 1, 1}, [3]int{256, 1, 1}, 0, partial, px, n)
			got := 0.0
			for _, v := range e.read(partial, g) {
				got += float64(v)
			}
			// Positive terms: the error is relative to the sum itself.
			check(t, name("squared norm n=%d G=%d", n, g), []float32{float32(got)}, []float64{want}, rtolF32, nil)
		}
	}
}

// TestUnalignedViews launches the vectorised kernels on views that start 4 bytes past a
// 16-byte boundary (a tensor's view may), which must take the scalar path and give the
// same bits as the aligned launch.
func TestUnalignedViews(t *testing.T) {
	type launch struct {
		kernel *kernels.Info
		ptrs   int // pointer operands, each filled with fresh data
		extra  []any
	}
	const n, nb = 37, 5
	cases := []launch{
		{kernels.AddF32Kernel, 3, []any{n}},
		{kernels.AdamwF32Kernel, 4, []any{float32(0.9), float32(0.999), float32(1e-8), float32(0.99), float32(0.01), float32(0.5), float32(1), n}},
		{kernels.BinaryMulF32Kernel, 3, []any{n, nb}},
		{kernels.BinaryBwdADivF32Kernel, 3, []any{n, nb}},
		{kernels.UnaryBwdSiluF32Kernel, 4, []any{n}},
		{kernels.SgdF32Kernel, 3, []any{float32(0.1), float32(0.9), float32(0.01), float32(1), n}},
	}
	for _, c := range cases {
		e := newEnv(t, c.kernel.Module)
		data := make([][]float32, c.ptrs)
		for p := range data {
			data[p] = e.rand(n+1, 0.5, 2) // positive: safe as divisors and second moments
		}
		run := func(offset int) [][]float32 {
			ptrs := make([]any, c.ptrs)
			for p := range ptrs {
				ptrs[p] = e.f32(data[p][:n+offset]) + ptrOff(offset)
			}
			e.launch(c.kernel, [3]int{ceilDiv(n, 1024), 1, 1}, [3]int{256, 1, 1}, 0, append(ptrs, c.extra...)...)
			out := make([][]float32, c.ptrs)
			for p := range ptrs {
				out[p] = e.read(ptrs[p].(ptxsim.Ptr), n)
			}
			return out
		}
		// The aligned run sees data[p][0:n]; the unaligned one data[p][1:n+1]: shift the
		// inputs so both compute on the same values.
		aligned := run(0)
		for p := range data {
			copy(data[p][1:], data[p][:n])
		}
		unaligned := run(1)
		for p := range aligned {
			check(t, name("%s unaligned operand %d", c.kernel.Name, p), unaligned[p], f64s(aligned[p]), 0, nil)
		}
	}
}
