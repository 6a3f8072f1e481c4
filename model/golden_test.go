package model

import (
	"math"
	"path/filepath"
	"testing"

	"github.com/hungry-ssm/hungry/autograd"
	"github.com/hungry-ssm/hungry/safetensors"
	"github.com/hungry-ssm/hungry/tensor"
)

// Parity tolerances against the PyTorch golden files (testdata/gen/h3_golden.py, float64
// from float32-rounded inputs), as max|ours − theirs| / max|theirs| per tensor: gradients
// cross zero, so a per-element ratio would judge rounding noise. A float32 forward pass of
// a few layers stays near 1e-6, hence 1e-4 for logits; gradients chain about twice as many
// float32 ops, hence 1e-3.
const (
	goldenLogitTol = 1e-4
	goldenGradTol  = 1e-3
)

func relErr(got, want []float32) float64 {
	scale, e := 0.0, 0.0
	for i := range want {
		scale = math.Max(scale, math.Abs(float64(want[i])))
		e = math.Max(e, math.Abs(float64(got[i])-float64(want[i])))
	}
	if scale == 0 {
		return e
	}
	return e / scale
}

func TestLMGolden(t *testing.T) {
	dev := tensor.DefaultCPU()
	for _, name := range []string{"lm_hybrid", "lm_h3_hd8"} {
		dir := filepath.Join("..", "testdata", "golden", name)
		m, err := Load(dir, dev)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		f, err := safetensors.ReadFile(filepath.Join(dir, "io.safetensors"))
		if err != nil {
			t.Fatal(err)
		}
		ints := func(key string) ([]int32, []int) {
			x, err := f.Tensor(key)
			if err != nil {
				t.Fatal(err)
			}
			v, err := x.Int64()
			if err != nil {
				t.Fatal(err)
			}
			out := make([]int32, len(v))
			for i := range v {
				out[i] = int32(v[i])
			}
			return out, x.Shape
		}
		floats := func(key string) []float32 {
			v, _, err := f.F32(key)
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
		ids, shape := ints("input_ids")
		targets, _ := ints("targets")
		batch, seq := shape[0], shape[1]
		v := m.Config.VocabSize

		g := autograd.NewGraph()
		logits := m.Forward(g, ids, batch, seq, false, nil)
		loss := autograd.CrossEntropy(g, autograd.Reshape(g, logits, batch*seq, v), targets, -100)
		e := relErr(logits.Value.Data(), floats("logits"))
		t.Logf("%s: logits relative error %.2e, loss %.6f vs %.6f", name, e, loss.Value.Item(), floats("loss")[0])
		if e > goldenLogitTol {
			t.Errorf("%s: logits relative error %.3g > %g", name, e, goldenLogitTol)
		}
		if d := math.Abs(float64(loss.Value.Item() - floats("loss")[0])); d > goldenLogitTol*math.Abs(float64(floats("loss")[0])) {
			t.Errorf("%s: loss %v, golden %v", name, loss.Value.Item(), floats("loss")[0])
		}
		if err := g.Backward(loss); err != nil {
			t.Fatal(err)
		}
		worst, worstName := 0.0, ""
		for _, p := range m.Params() {
			e := relErr(p.Grad.Host(), floats("grad."+p.Name))
			if e > worst {
				worst, worstName = e, p.Name
			}
			if e > goldenGradTol {
				t.Errorf("%s: gradient of %s: relative error %.3g > %g", name, p.Name, e, goldenGradTol)
			}
		}
		t.Logf("%s: worst gradient relative error %.2e (%s)", name, worst, worstName)
	}
}
