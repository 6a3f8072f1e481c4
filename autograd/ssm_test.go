package autograd

import (
	"math"
	"testing"

	"github.com/hungry-ssm/hungry/tensor"
)

func TestDiagSSMKernelGrad(t *testing.T) {
	rng := tensor.NewRNG(21)
	dev := tensor.DefaultCPU()
	const h, n, L = 2, 4, 9
	for _, disc := range []tensor.Discretization{tensor.ZOH, tensor.Bilinear} {
		logDt := make([]float32, h)
		for i := range logDt {
			// Large steps make every parameter matter within nine taps.
			logDt[i] = float32(math.Log(0.3) + 0.5*rng.Float64())
		}
		invA := rng.Normal(h*n, float32(math.Log(0.5)), 0.2)
		aImag := make([]float32, h*n)
		for i := range aImag {
			aImag[i] = float32(math.Pi*float64(i%n)) + 0.1*float32(rng.NormFloat64())
		}
		inputs := []*Var{
			NewParam("log_dt", dev.FromHost(logDt, h)),
			NewParam("inv_A_real", dev.FromHost(invA, h, n)),
			NewParam("A_imag", dev.FromHost(aImag, h, n)),
			NewParam("B", dev.FromHost(rng.Normal(h*n*2, 0.5, 0.3), h, n, 2)),
			NewParam("C", tensor.RandNormal(dev, rng, 0.7, 1, h, n, 2)),
		}
		err := CheckGrad(func(g *Graph, in []*Var) *Var {
			return DiagSSMKernel(g, in[0], in[1], in[2], in[3], in[4], L, disc)
		}, inputs, GradCheckOptions{Eps: 1e-3})
		if err != nil {
			t.Errorf("%v: %v", disc, err)
		}
	}
}

func TestShiftSSMKernelGrad(t *testing.T) {
	rng := tensor.NewRNG(22)
	dev := tensor.DefaultCPU()
	for _, taps := range []int{1, 5, 8} {
		b := NewParam("B", tensor.RandNormal(dev, rng, 1, 3, 8))
		c := NewParam("C", tensor.RandUniform(dev, rng, -0.125, 0.125, 1, 3, 8))
		err := CheckGrad(func(g *Graph, in []*Var) *Var {
			return ShiftSSMKernel(g, in[0], in[1], taps)
		}, []*Var{b, c}, GradCheckOptions{})
		if err != nil {
			t.Errorf("taps %d: %v", taps, err)
		}
	}
}

func TestSSMKernelOpsRejectBadSizes(t *testing.T) {
	dev := tensor.DefaultCPU()
	b := NewParam("B", dev.Zeros(3, 8))
	if err := tensor.Catch(func() { ShiftSSMKernel(NoGrad(), b, b, 9) }); err == nil {
		t.Error("more taps than states was accepted")
	}
	one := NewParam("x", dev.Zeros(2))
	m := NewParam("m", dev.Zeros(2, 4))
	p := NewParam("p", dev.Zeros(2, 4, 2))
	if err := tensor.Catch(func() { DiagSSMKernel(NoGrad(), one, m, m, p, p, 0, tensor.ZOH) }); err == nil {
		t.Error("an empty kernel was accepted")
	}
}
