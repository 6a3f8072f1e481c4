package autograd

import (
	"math"
	"testing"

	"github.com/hungry-ssm/hungry/tensor"
)

func TestLayerNormGrad(t *testing.T) {
	rng := tensor.NewRNG(91)
	x := param(rng, "x", 1, 3, 5, 7)
	w := param(rng, "w", 1, 7)
	b := param(rng, "b", 1, 7)
	checkGrad(t, "LayerNorm", func(g *Graph, in []*Var) *Var { return LayerNorm(g, in[0], in[1], in[2], 1e-5) }, x, w, b)
	checkGrad(t, "LayerNorm without affine", func(g *Graph, in []*Var) *Var { return LayerNorm(g, in[0], nil, nil, 1e-5) }, x)
	checkGrad(t, "LayerNorm scale only", func(g *Graph, in []*Var) *Var { return LayerNorm(g, in[0], in[1], nil, 1e-5) }, x, w)
}

func TestLayerNormNormalises(t *testing.T) {
	rng := tensor.NewRNG(92)
	x := param(rng, "x", 3, 4, 31)
	y := LayerNorm(NoGrad(), x, nil, nil, 1e-5).Value.Data()
	for r := 0; r < 4; r++ {
		m, v := 0.0, 0.0
		for _, e := range y[r*31 : (r+1)*31] {
			m += float64(e)
			v += float64(e) * float64(e)
		}
		m /= 31
		v = v/31 - m*m
		// eps = 1e-5 against a variance near 9 shrinks the result's variance by ~1e-6.
		if math.Abs(m) > 1e-6 || math.Abs(v-1) > 1e-5 {
			t.Fatalf("row %d: mean %v, variance %v", r, m, v)
		}
	}
}

func TestLayerNormShapeError(t *testing.T) {
	rng := tensor.NewRNG(93)
	x, w := param(rng, "x", 1, 2, 5), param(rng, "w", 1, 4)
	wantShapeError(t, func() { LayerNorm(NewGraph(), x, w, nil, 1e-5) }, "LayerNorm", "[2 5]", "[4]")
}
