package autograd

import (
	"math"
	"testing"

	"github.com/hungry-ssm/hungry/tensor"
)

func TestSoftmaxGrad(t *testing.T) {
	rng := tensor.NewRNG(81)
	for name, op := range map[string]func(*Graph, *Var) *Var{
		"Softmax": Softmax, "LogSoftmax": LogSoftmax, "CausalSoftmax": CausalSoftmax,
	} {
		shape := []int{3, 7, 5}
		if name == "CausalSoftmax" {
			shape = []int{3, 2, 7, 7}
		}
		x := param(rng, "x", 2, shape...)
		checkGrad(t, name, func(g *Graph, in []*Var) *Var { return op(g, in[0]) }, x)
	}
}

func TestCausalSoftmaxMasks(t *testing.T) {
	rng := tensor.NewRNG(82)
	const l = 6
	x := param(rng, "x", 3, 2, l, l)
	y := CausalSoftmax(NoGrad(), x).Value.Data()
	for b := 0; b < 2; b++ {
		for q := 0; q < l; q++ {
			row := y[(b*l+q)*l : (b*l+q+1)*l]
			sum := 0.0
			for k, p := range row {
				if k > q && p != 0 {
					t.Fatalf("query %d sees key %d with probability %v", q, k, p)
				}
				sum += float64(p)
			}
			if math.Abs(sum-1) > 1e-6 {
				t.Fatalf("row %d sums to %v", q, sum)
			}
		}
	}
}

func TestSoftmaxStable(t *testing.T) {
	// Logits near float32's exp overflow (e^89 > MaxFloat32) must still normalise.
	x := Constant(tensor.FromSlice([]float32{1000, 999, -1000}, 1, 3))
	p := Softmax(NoGrad(), x).Value.Data()
	lp := LogSoftmax(NoGrad(), x).Value.Data()
	e := math.Exp(-1)
	want := []float64{1 / (1 + e), e / (1 + e), 0}
	for i := range p {
		if math.Abs(float64(p[i])-want[i]) > 1e-6 || math.IsNaN(float64(lp[i])) {
			t.Fatalf("softmax %v, log-softmax %v", p, lp)
		}
	}
	if math.Abs(float64(lp[0])-math.Log(want[0])) > 1e-6 {
		t.Fatalf("log-softmax %v", lp)
	}
}

func TestSoftmaxShapeError(t *testing.T) {
	x := param(tensor.NewRNG(83), "x", 1, 2, 3, 4)
	wantShapeError(t, func() { CausalSoftmax(NewGraph(), x) }, "CausalSoftmax", "[2 3 4]")
}
