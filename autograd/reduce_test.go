package autograd

import (
	"testing"

	"github.com/hungry-ssm/hungry/tensor"
)

func TestReduceGrad(t *testing.T) {
	rng := tensor.NewRNG(61)
	for _, axis := range []int{0, 1, 2, -1} {
		x := param(rng, "x", 1, 3, 7, 5)
		checkGrad(t, "SumAxis", func(g *Graph, in []*Var) *Var { return SumAxis(g, in[0], axis) }, x)
		checkGrad(t, "MeanAxis", func(g *Graph, in []*Var) *Var { return MeanAxis(g, in[0], axis) }, x)
	}
	x := param(rng, "x", 1, 3, 7, 5)
	checkGrad(t, "Sum", func(g *Graph, in []*Var) *Var { return Sum(g, in[0]) }, x)
	checkGrad(t, "Mean", func(g *Graph, in []*Var) *Var { return Mean(g, in[0]) }, x)
}

func TestReduceShapes(t *testing.T) {
	x := Constant(tensor.FromSlice([]float32{1, 2, 3, 4, 5, 6}, 2, 3))
	g := NoGrad()
	for _, tc := range []struct {
		got   *Var
		shape []int
		want  []float32
	}{
		{SumAxis(g, x, 0), []int{3}, []float32{5, 7, 9}},
		{MeanAxis(g, x, -1), []int{2}, []float32{2, 5}},
		{Sum(g, x), []int{1}, []float32{21}},
		{Mean(g, x), []int{1}, []float32{3.5}},
		{SumAxis(g, Reshape(g, x, 6), 0), []int{1}, []float32{21}},
	} {
		if !tensor.SameShape(tc.got.Shape(), tc.shape) {
			t.Errorf("shape %v, want %v", tc.got.Shape(), tc.shape)
			continue
		}
		for i, v := range tc.got.Value.Data() {
			if v != tc.want[i] {
				t.Errorf("got %v, want %v", tc.got.Value.Data(), tc.want)
				break
			}
		}
	}
	wantShapeError(t, func() { SumAxis(g, x, 2) }, "SumAxis", "[2 3]", "no axis 2")
}
