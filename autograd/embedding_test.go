package autograd

import (
	"testing"

	"github.com/hungry-ssm/hungry/tensor"
)

func TestEmbeddingGrad(t *testing.T) {
	rng := tensor.NewRNG(101)
	table := param(rng, "table", 1, 7, 5)
	// Repeated ids: their gradients must add up in one row.
	ids := []int32{3, 0, 6, 3, 3, 1}
	checkGrad(t, "Embedding", func(g *Graph, in []*Var) *Var { return Embedding(g, in[0], ids, 2, 3) }, table)
	out := Embedding(NoGrad(), table, ids, 2, 3)
	if !tensor.SameShape(out.Shape(), []int{2, 3, 5}) {
		t.Fatalf("shape %v", out.Shape())
	}
	for i, id := range ids {
		for j := 0; j < 5; j++ {
			if out.Value.Data()[i*5+j] != table.Value.Data()[int(id)*5+j] {
				t.Fatalf("row %d is not table row %d", i, id)
			}
		}
	}
}

func TestEmbeddingErrors(t *testing.T) {
	table := param(tensor.NewRNG(102), "table", 1, 7, 5)
	wantShapeError(t, func() { Embedding(NewGraph(), table, []int32{1, 7}) }, "Embedding", "id 7", "[0, 7)")
	wantShapeError(t, func() { Embedding(NewGraph(), table, []int32{-1}) }, "id -1")
	wantShapeError(t, func() { Embedding(NewGraph(), table, []int32{1, 2, 3}, 2, 2) }, "Embedding", "[7 5]", "[2 2]")
}
