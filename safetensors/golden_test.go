package safetensors

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
)

// goldenDir holds the H3 reference cases written by testdata/gen/h3_golden.py with its own
// small pure-Python writer, so reading them checks interoperability with an independent
// implementation of the format.
const goldenDir = "../testdata/golden"

type goldenConfig struct {
	Case         string // from the io file's metadata
	DModel       int    `json:"d_model"`
	NLayer       int    `json:"n_layer"`
	DInner       int    `json:"d_inner"`
	VocabSize    int    `json:"vocab_size"`
	AttnLayerIdx []int  `json:"attn_layer_idx"`
	HeadDim      int    `json:"head_dim"`
	DState       int    `json:"d_state"`
}

// expectedParams lists the parameter names and shapes the project's checkpoint format
// prescribes for a case.
func expectedParams(c goldenConfig) map[string][]int {
	d := c.DModel
	want := map[string][]int{}
	h3 := func(prefix string) {
		H := d / c.HeadDim
		for _, n := range []string{"q_proj", "k_proj", "v_proj", "output_linear"} {
			want[prefix+n+".weight"] = []int{d, d}
			want[prefix+n+".bias"] = []int{d}
		}
		want[prefix+"ssm_k_D"] = []int{d}
		want[prefix+"D"] = []int{H}
		want[prefix+"ssm_k_kernel.kernel.B"] = []int{d, 64}
		want[prefix+"ssm_k_kernel.kernel.C"] = []int{1, d, 64}
		want[prefix+"kernel.kernel.C"] = []int{1, H, 32, 2}
		want[prefix+"kernel.kernel.log_dt"] = []int{H}
		want[prefix+"kernel.kernel.B"] = []int{H, 32, 2}
		want[prefix+"kernel.kernel.inv_A_real"] = []int{H, 32}
		want[prefix+"kernel.kernel.A_imag"] = []int{H, 32}
	}
	if c.Case == "h3_layer" {
		h3("")
		return want
	}
	want["backbone.embeddings.word_embeddings.weight"] = []int{c.VocabSize, d}
	for i := 0; i < c.NLayer; i++ {
		p := fmt.Sprintf("backbone.layers.%d.", i)
		for _, n := range []string{"norm1", "norm2"} {
			want[p+n+".weight"] = []int{d}
			want[p+n+".bias"] = []int{d}
		}
		want[p+"mlp.fc1.weight"] = []int{c.DInner, d}
		want[p+"mlp.fc1.bias"] = []int{c.DInner}
		want[p+"mlp.fc2.weight"] = []int{d, c.DInner}
		want[p+"mlp.fc2.bias"] = []int{d}
		if slices.Contains(c.AttnLayerIdx, i) {
			want[p+"mixer.Wqkv.weight"] = []int{3 * d, d}
			want[p+"mixer.Wqkv.bias"] = []int{3 * d}
			want[p+"mixer.out_proj.weight"] = []int{d, d}
			want[p+"mixer.out_proj.bias"] = []int{d}
		} else {
			h3(p + "mixer.")
		}
	}
	want["backbone.ln_f.weight"] = []int{d}
	want["backbone.ln_f.bias"] = []int{d}
	return want
}

func TestGoldenFiles(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join(goldenDir, "*", "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	// Four H3-layer cases and two language models; fewer means files went missing.
	if len(dirs) < 6 {
		t.Fatalf("found %d golden cases in %s, want at least 6", len(dirs), goldenDir)
	}
	for _, cfgPath := range dirs {
		dir := filepath.Dir(cfgPath)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			raw, err := os.ReadFile(cfgPath)
			if err != nil {
				t.Fatal(err)
			}
			var cfg goldenConfig
			if err := json.Unmarshal(raw, &cfg); err != nil {
				t.Fatal(err)
			}
			model := readCanonical(t, filepath.Join(dir, "model.safetensors"))
			io := readCanonical(t, filepath.Join(dir, "io.safetensors"))
			cfg.Case = io.Metadata["case"]
			if cfg.Case != "h3_layer" && cfg.Case != "lm" {
				t.Fatalf("io metadata names case %q", cfg.Case)
			}

			want := expectedParams(cfg)
			if got := model.Names(); !reflect.DeepEqual(got, sortedKeys(want)) {
				t.Fatalf("parameter names\n got %v\nwant %v", got, sortedKeys(want))
			}
			for name, shape := range want {
				checkFiniteF32(t, model, name, shape)
				checkFiniteF32(t, io, "grad."+name, shape)
			}
			checkFiniteF32(t, io, "loss", []int{})
			if cfg.Case == "h3_layer" {
				u, _ := io.Info("u")
				for _, n := range []string{"u", "W", "out", "grad.u"} {
					checkFiniteF32(t, io, n, u.Shape)
				}
				return
			}
			ids, _ := io.Info("input_ids")
			for _, n := range []string{"input_ids", "targets"} {
				x, err := io.Tensor(n)
				if err != nil {
					t.Fatal(err)
				}
				v, err := x.Int64()
				if err != nil || x.DType != I64 || !reflect.DeepEqual(x.Shape, ids.Shape) {
					t.Fatalf("%s: %s %v %v", n, x.DType, x.Shape, err)
				}
				for _, id := range v {
					if id < 0 || id >= int64(cfg.VocabSize) {
						t.Fatalf("%s holds token %d outside the vocabulary", n, id)
					}
				}
			}
			checkFiniteF32(t, io, "logits", append(slices.Clone(ids.Shape), cfg.VocabSize))
		})
	}
}

// readCanonical parses a file and checks that our writer reproduces it byte for byte.
func readCanonical(t *testing.T, path string) *File {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	all, err := f.Tensors()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := Write(&buf, all, f.Metadata); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), raw) {
		t.Fatalf("%s: re-encoding differs from the file written by the Python generator", path)
	}
	return f
}

func checkFiniteF32(t *testing.T, f *File, name string, shape []int) {
	t.Helper()
	v, gotShape, err := f.F32(name)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(gotShape, shape) {
		t.Fatalf("%s: shape %v, want %v", name, gotShape, shape)
	}
	var sumSq float64
	for i, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			t.Fatalf("%s[%d] = %v", name, i, x)
		}
		sumSq += float64(x) * float64(x)
	}
	if len(v) > 0 && sumSq == 0 {
		t.Fatalf("%s is all zeros", name)
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
