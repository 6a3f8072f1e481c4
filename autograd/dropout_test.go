package autograd

import (
	"math"
	"testing"

	"github.com/hungry-ssm/hungry/tensor"
)

func TestDropoutGrad(t *testing.T) {
	x := param(tensor.NewRNG(121), "x", 1, 3, 7, 5)
	// A fresh generator with one seed per call: every forward pass of the check draws the
	// same mask.
	checkGrad(t, "Dropout", func(g *Graph, in []*Var) *Var { return Dropout(g, in[0], 0.3, tensor.NewRNG(9)) }, x)
}

func TestDropoutMask(t *testing.T) {
	const p, n = 0.25, 20000
	x := Constant(tensor.RandUniform(tensor.DefaultCPU(), tensor.NewRNG(122), 1, 2, n))
	y := Dropout(NoGrad(), x, p, tensor.NewRNG(5)).Value.Data()
	again := Dropout(NoGrad(), x, p, tensor.NewRNG(5)).Value.Data()
	dropped := 0
	for i, v := range y {
		if v != again[i] {
			t.Fatal("the same seed drew different masks")
		}
		switch {
		case v == 0:
			dropped++
		case math.Abs(float64(v)-float64(x.Value.Data()[i])/(1-p)) > 1e-6:
			t.Fatalf("kept element %d = %v, want %v/(1−p)", i, v, x.Value.Data()[i])
		}
	}
	// Binomial(20000, 0.25): standard deviation ≈ 61, so ±5σ is ±306.
	if math.Abs(float64(dropped)-p*n) > 306 {
		t.Fatalf("dropped %d of %d, want about %v", dropped, n, p*n)
	}
	if Dropout(NoGrad(), x, 0, tensor.NewRNG(5)) != x {
		t.Fatal("p = 0 did not return its input")
	}
}
