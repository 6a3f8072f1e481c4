package hungry

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/hungry-ssm/hungry/model"
	"github.com/hungry-ssm/hungry/safetensors"
	"github.com/hungry-ssm/hungry/sample"
	"github.com/hungry-ssm/hungry/tensor"
	"github.com/hungry-ssm/hungry/torchfile"
)

// Imported official-layout checkpoints generate PyTorch's greedy tokens through Load and
// GenerateIDs: the recurrent mode for H3 and plain attention, recomputation for rotary
// attention (its recurrent step is not wired yet).
func TestImportedGreedyGeneration(t *testing.T) {
	dir := filepath.Join("testdata", "import")
	exp, err := safetensors.ReadFile(filepath.Join(dir, "expected.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	ints := func(key string) []int32 {
		x, err := exp.Tensor(key)
		if err != nil {
			t.Fatal(err)
		}
		v, _ := x.Int64()
		out := make([]int32, len(v))
		for i := range v {
			out[i] = int32(v[i])
		}
		return out
	}
	for _, c := range []struct {
		name   string
		rotary int
	}{{"new_f32", 0}, {"old_f32", 0}, {"new_f16", 0}, {"rotary_f32", 8}} {
		f, err := torchfile.Open(filepath.Join(dir, c.name+".pt"))
		if err != nil {
			t.Fatal(err)
		}
		sd, err := torchfile.StateDict(f.Root)
		if err != nil {
			t.Fatal(err)
		}
		base := model.DefaultConfig()
		base.DModel, base.NLayer, base.DInner, base.VocabSize = 32, 3, 64, 264
		base.AttnLayerIdx, base.AttnNHeads, base.RotaryEmbDim, base.SSMDiscretization = []int{1}, 2, c.rotary, "bilinear"
		imp, err := model.ImportStateDict(sd, &base)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		out := t.TempDir()
		if err := model.SaveImported(out, imp); err != nil {
			t.Fatal(err)
		}
		m, err := Load(out, tensor.DefaultCPU())
		if err != nil {
			t.Fatal(err)
		}
		want := ints(c.name + ".greedy")
		got, err := m.GenerateIDs(ints(c.name + ".input_ids")[:7], len(want), sample.Options{Greedy: true}, tensor.NewRNG(1))
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("%s: greedy tokens %v, PyTorch %v", c.name, got, want)
		}
	}
}
