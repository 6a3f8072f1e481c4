package autograd

import (
	"testing"

	"github.com/hungry-ssm/hungry/tensor"
)

func TestMatMulGrad(t *testing.T) {
	rng := tensor.NewRNG(7)
	dev := tensor.DefaultCPU()
	for _, tc := range []struct {
		name           string
		ashape, bshape []int
		transA, transB bool
	}{
		{"2d", []int{3, 5}, []int{5, 4}, false, false},
		{"2d-tt", []int{5, 3}, []int{4, 5}, true, true},
		{"batched-shared-weight-t", []int{2, 3, 5}, []int{4, 5}, false, true},
		{"batched-shared-weight", []int{2, 3, 5}, []int{5, 4}, false, false},
		{"batched-transA-shared", []int{2, 5, 3}, []int{5, 4}, true, false},
		{"batched-both", []int{2, 3, 5}, []int{2, 4, 5}, false, true},
		{"shared-left", []int{3, 5}, []int{2, 5, 4}, false, false},
		{"batched-tn", []int{2, 5, 3}, []int{2, 5, 4}, true, false},
	} {
		a := NewParam("a", tensor.RandNormal(dev, rng, 1, tc.ashape...))
		b := NewParam("b", tensor.RandNormal(dev, rng, 1, tc.bshape...))
		err := CheckGrad(func(g *Graph, in []*Var) *Var {
			return MatMul(g, in[0], in[1], tc.transA, tc.transB)
		}, []*Var{a, b}, GradCheckOptions{})
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}

func TestCheckGradCatchesAWrongGradient(t *testing.T) {
	// An op whose backward is off by a factor of two must be rejected, or the checker
	// proves nothing.
	dev := tensor.DefaultCPU()
	x := NewParam("x", tensor.RandNormal(dev, tensor.NewRNG(3), 1, 4, 3))
	w := Constant(tensor.RandNormal(dev, tensor.NewRNG(4), 1, 3, 2))
	wrong := func(g *Graph, in []*Var) *Var {
		out := g.Result(dev.Zeros(4, 2), in[0])
		dev.MatMul(out.Value, in[0].Value, w.Value, false, false, false)
		g.OnBackward(out, func() {
			dev.MatMul(in[0].GradTensor(), out.Grad, w.Value, false, true, true)
			dev.MatMul(in[0].GradTensor(), out.Grad, w.Value, false, true, true)
		})
		return out
	}
	if err := CheckGrad(wrong, []*Var{x}, GradCheckOptions{}); err == nil {
		t.Fatal("a doubled gradient passed the check")
	}
}
