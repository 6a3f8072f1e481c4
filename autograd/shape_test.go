package autograd

import (
	"testing"

	"github.com/hungry-ssm/hungry/tensor"
)

func TestShapeOpsGrad(t *testing.T) {
	rng := tensor.NewRNG(71)
	x := param(rng, "x", 1, 3, 7, 5)
	// Each view is followed by a product with a fixed tensor so its gradient is not
	// simply passed through unchanged.
	w := Constant(tensor.RandNormal(tensor.DefaultCPU(), rng, 1, 5, 21))
	checkGrad(t, "Reshape", func(g *Graph, in []*Var) *Var { return Mul(g, Reshape(g, in[0], -1, 21), Reshape(g, w, 5, 21)) }, x)
	checkGrad(t, "Transpose", func(g *Graph, in []*Var) *Var { return Transpose(g, in[0]) }, x)
	checkGrad(t, "Permute", func(g *Graph, in []*Var) *Var { return Permute(g, in[0], 2, 0, 1) }, x)
	qkv := param(rng, "qkv", 1, 2, 5, 3, 2, 3)
	checkGrad(t, "Permute attention", func(g *Graph, in []*Var) *Var { return Permute(g, in[0], 2, 0, 3, 1, 4) }, qkv)
	checkGrad(t, "SliceRows", func(g *Graph, in []*Var) *Var { return SliceRows(g, in[0], 1, 3) }, x)
	// Two overlapping slices and the whole: their gradients add up in x.
	checkGrad(t, "SliceRows overlapping", func(g *Graph, in []*Var) *Var {
		a := SliceRows(g, in[0], 0, 2)
		b := SliceRows(g, in[0], 1, 3)
		return Mul(g, a, b)
	}, x)
}

func TestTransposeValues(t *testing.T) {
	x := Constant(tensor.FromSlice([]float32{1, 2, 3, 4, 5, 6}, 1, 2, 3))
	y := Transpose(NoGrad(), x)
	if !tensor.SameShape(y.Shape(), []int{1, 3, 2}) {
		t.Fatalf("shape %v", y.Shape())
	}
	for i, want := range []float32{1, 4, 2, 5, 3, 6} {
		if y.Value.Data()[i] != want {
			t.Fatalf("got %v", y.Value.Data())
		}
	}
}

func TestShapeOpsErrors(t *testing.T) {
	g := NewGraph()
	x := param(tensor.NewRNG(72), "x", 1, 2, 3)
	wantShapeError(t, func() { Reshape(g, x, 4, 2) }, "Reshape", "[2 3]", "[4 2]")
	wantShapeError(t, func() { Permute(g, x, 1, 1) }, "Permute", "[2 3]", "[1 1]")
	wantShapeError(t, func() { SliceRows(g, x, 1, 3) }, "SliceRows", "[2 3]", "[1, 3)")
	wantShapeError(t, func() { Transpose(g, param(tensor.NewRNG(1), "v", 1, 4)) }, "Transpose", "[4]")
}
