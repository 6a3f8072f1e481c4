package autograd

import (
	"encoding/json"
	"math"
	"os"
	"testing"

	"github.com/hungry-ssm/hungry/tensor"
)

// goldenCase is one op evaluated by PyTorch in float64 (testdata/gen/autograd_ops_golden.py):
// its inputs, the seed R of the loss Σ out⊙R, the output and the inputs' gradients.
type goldenCase struct {
	Name   string
	Inputs []struct {
		Shape []int
		Data  []float64
	}
	Seed     []float64
	OutShape []int `json:"out_shape"`
	Out      []float64
	Grads    [][]float64
	IDs      []int32
	Targets  []int32
}

func TestOpsAgainstPyTorch(t *testing.T) {
	raw, err := os.ReadFile("testdata/ops_golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var file struct{ Cases []goldenCase }
	if err := json.Unmarshal(raw, &file); err != nil {
		t.Fatal(err)
	}
	ops := map[string]func(g *Graph, c *goldenCase, in []*Var) *Var{
		"add_bias":          func(g *Graph, _ *goldenCase, in []*Var) *Var { return Add(g, in[0], in[1]) },
		"sub":               func(g *Graph, _ *goldenCase, in []*Var) *Var { return Sub(g, in[0], in[1]) },
		"mul_broadcast":     func(g *Graph, _ *goldenCase, in []*Var) *Var { return Mul(g, in[0], in[1]) },
		"div_broadcast":     func(g *Graph, _ *goldenCase, in []*Var) *Var { return Div(g, in[0], in[1]) },
		"gelu":              func(g *Graph, _ *goldenCase, in []*Var) *Var { return GELU(g, in[0]) },
		"silu":              func(g *Graph, _ *goldenCase, in []*Var) *Var { return SiLU(g, in[0]) },
		"softmax":           func(g *Graph, _ *goldenCase, in []*Var) *Var { return Softmax(g, in[0]) },
		"log_softmax":       func(g *Graph, _ *goldenCase, in []*Var) *Var { return LogSoftmax(g, in[0]) },
		"causal_softmax":    func(g *Graph, _ *goldenCase, in []*Var) *Var { return CausalSoftmax(g, in[0]) },
		"layer_norm":        func(g *Graph, _ *goldenCase, in []*Var) *Var { return LayerNorm(g, in[0], in[1], in[2], 1e-5) },
		"mean_axis1":        func(g *Graph, _ *goldenCase, in []*Var) *Var { return MeanAxis(g, in[0], 1) },
		"permute_attention": func(g *Graph, _ *goldenCase, in []*Var) *Var { return Permute(g, in[0], 2, 0, 3, 1, 4) },
		"embedding":         func(g *Graph, c *goldenCase, in []*Var) *Var { return Embedding(g, in[0], c.IDs, 2, 3) },
		"cross_entropy": func(g *Graph, c *goldenCase, in []*Var) *Var {
			return CrossEntropy(g, in[0], c.Targets, -100)
		},
	}
	dev := tensor.DefaultCPU()
	for i := range file.Cases {
		c := &file.Cases[i]
		op, ok := ops[c.Name]
		if !ok {
			t.Errorf("no op for golden case %q", c.Name)
			continue
		}
		delete(ops, c.Name)
		in := make([]*Var, len(c.Inputs))
		for j, x := range c.Inputs {
			in[j] = NewParam(c.Name, dev.FromHost(f32s(x.Data), x.Shape...))
		}
		g := NewGraph()
		out := op(g, c, in)
		if !tensor.SameShape(out.Shape(), c.OutShape) {
			t.Errorf("%s: shape %v, want %v", c.Name, out.Shape(), c.OutShape)
			continue
		}
		if err := g.BackwardWith(out, dev.FromHost(f32s(c.Seed), c.OutShape...)); err != nil {
			t.Fatalf("%s: %v", c.Name, err)
		}
		// The reference is float64 from the same float32 inputs; the ops round a handful of
		// times in float32 (2⁻²⁴ ≈ 6e-8 each) and sum at most a few dozen terms.
		const tol = 2e-6
		compareGolden(t, c.Name+" output", out.Value.Data(), c.Out, tol)
		for j, want := range c.Grads {
			compareGolden(t, c.Name+" gradient", in[j].Grad.Data(), want, tol)
		}
	}
	for name := range ops {
		t.Errorf("golden file has no case %q", name)
	}
}

func compareGolden(t *testing.T, what string, got []float32, want []float64, tol float64) {
	t.Helper()
	scale := 0.0
	for _, w := range want {
		scale = math.Max(scale, math.Abs(w))
	}
	for i := range want {
		if d := math.Abs(float64(got[i]) - want[i]); !(d <= tol*(math.Abs(want[i])+scale)) {
			t.Errorf("%s: element %d = %v, want %v", what, i, got[i], want[i])
			return
		}
	}
}

func f32s(x []float64) []float32 {
	out := make([]float32, len(x))
	for i, v := range x {
		out[i] = float32(v)
	}
	return out
}
