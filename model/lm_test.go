package model

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hungry-ssm/hungry/autograd"
	"github.com/hungry-ssm/hungry/layers"
	"github.com/hungry-ssm/hungry/safetensors"
	"github.com/hungry-ssm/hungry/tensor"
)

func smallConfig() Config {
	cfg := DefaultConfig()
	cfg.DModel, cfg.NLayer, cfg.VocabSize = 8, 3, 11
	cfg.DInner = 16
	cfg.AttnLayerIdx, cfg.AttnNHeads = []int{1}, 2
	cfg.DState = 8
	cfg.MaxPositionEmbeddings = 16
	return cfg
}

func randomIDs(rng *tensor.RNG, n, vocab int) []int32 {
	ids := make([]int32, n)
	for i := range ids {
		ids[i] = int32(rng.IntN(vocab))
	}
	return ids
}

func TestNewNamesAndInit(t *testing.T) {
	cfg := smallConfig()
	m, err := New(cfg, tensor.DefaultCPU(), 1)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string][]int{}
	for _, p := range m.Params() {
		if _, dup := names[p.Name]; dup {
			t.Errorf("parameter %s appears twice", p.Name)
		}
		names[p.Name] = p.Shape()
	}
	for name, shape := range map[string][]int{
		"backbone.embeddings.word_embeddings.weight":       {11, 8},
		"backbone.embeddings.position_embeddings.weight":   {16, 8},
		"backbone.layers.0.norm1.weight":                   {8},
		"backbone.layers.0.mixer.q_proj.weight":            {8, 8},
		"backbone.layers.0.mixer.ssm_k_kernel.kernel.B":    {8, 8},
		"backbone.layers.0.mixer.ssm_k_kernel.kernel.C":    {1, 8, 8},
		"backbone.layers.0.mixer.ssm_k_D":                  {8},
		"backbone.layers.0.mixer.kernel.kernel.log_dt":     {8},
		"backbone.layers.0.mixer.kernel.kernel.C":          {1, 8, 4, 2},
		"backbone.layers.0.mixer.kernel.kernel.B":          {8, 4, 2},
		"backbone.layers.0.mixer.kernel.kernel.A_imag":     {8, 4},
		"backbone.layers.0.mixer.kernel.kernel.inv_A_real": {8, 4},
		"backbone.layers.0.mixer.D":                        {8},
		"backbone.layers.0.mixer.output_linear.bias":       {8},
		"backbone.layers.1.mixer.Wqkv.weight":              {24, 8},
		"backbone.layers.1.mixer.out_proj.bias":            {8},
		"backbone.layers.2.mlp.fc1.weight":                 {16, 8},
		"backbone.layers.2.mlp.fc2.weight":                 {8, 16},
		"backbone.ln_f.bias":                               {8},
	} {
		if got, ok := names[name]; !ok || !tensor.SameShape(got, shape) {
			t.Errorf("%s: got %v (present %v), want %v", name, got, ok, shape)
		}
	}
	if _, ok := names["lm_head.weight"]; ok {
		t.Error("a tied model has its own lm_head.weight")
	}
	// Depth-scaled initialisation of the residual outputs, unscaled elsewhere.
	std := func(v *autograd.Var) float64 {
		s := 0.0
		for _, x := range v.Value.Data() {
			s += float64(x) * float64(x)
		}
		return math.Sqrt(s / float64(v.Value.Numel()))
	}
	big, err := New(Config{ModelType: "h3", DModel: 64, NLayer: 2, DInner: 256, VocabSize: 100, AttnLayerIdx: []int{1}, AttnNHeads: 4,
		DState: 64, HeadDim: 1, SSMDiscretization: "zoh", LayerNormEpsilon: 1e-5, TieWordEmbeddings: true, Tokenizer: "byte"}, tensor.DefaultCPU(), 2)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		v    *autograd.Var
		want float64
	}{
		{big.WordEmb.Weight, 0.02},
		{big.Blocks[1].MLP.FC1.Weight, 0.02},
		{big.Blocks[1].MLP.FC2.Weight, 0.01},
		{big.Blocks[1].Mixer.(*layers.Attention).OutProj.Weight, 0.01},
		{big.Blocks[0].Mixer.(*layers.H3).OutputLinear.Weight, 0.02},
	} {
		if got := std(tc.v); math.Abs(got-tc.want) > 0.1*tc.want {
			t.Errorf("%s: std %.4f, want %.4f", tc.v.Name, got, tc.want)
		}
	}
}

func TestForwardShapeDeterminismAndCausality(t *testing.T) {
	cfg := smallConfig()
	dev := tensor.DefaultCPU()
	a, _ := New(cfg, dev, 7)
	b, _ := New(cfg, dev, 7)
	rng := tensor.NewRNG(3)
	const batch, seq = 2, 9
	ids := randomIDs(rng, batch*seq, cfg.VocabSize)
	la, err := a.Logits(ids, batch, seq)
	if err != nil {
		t.Fatal(err)
	}
	lb, _ := b.Logits(ids, batch, seq)
	if !tensor.SameShape(la.Shape(), []int{batch, seq, cfg.VocabSize}) {
		t.Fatalf("logits shape %v", la.Shape())
	}
	for i := range la.Data() {
		if la.Data()[i] != lb.Data()[i] {
			t.Fatal("two models from the same seed disagree")
		}
	}
	// Changing the last token must leave every earlier position's logits alone.
	ids2 := append([]int32(nil), ids...)
	ids2[seq-1] = (ids2[seq-1] + 1) % int32(cfg.VocabSize)
	lc, _ := a.Logits(ids2, batch, seq)
	v := cfg.VocabSize
	for t0 := 0; t0 < seq; t0++ {
		for j := 0; j < v; j++ {
			same := la.Data()[t0*v+j] == lc.Data()[t0*v+j]
			if t0 < seq-1 && !same {
				t.Fatalf("position %d saw a later token", t0)
			}
		}
	}
	// Dropout in training changes the output and is reproducible from its seed.
	g := autograd.NoGrad()
	d1 := a.Forward(g, ids, batch, seq, true, tensor.NewRNG(5)).Value.Data()
	d2 := a.Forward(g, ids, batch, seq, true, tensor.NewRNG(5)).Value.Data()
	differs := false
	for i := range d1 {
		if d1[i] != d2[i] {
			t.Fatal("dropout is not reproducible from its seed")
		}
		differs = differs || d1[i] != la.Data()[i]
	}
	if !differs {
		t.Error("training forward equals inference forward despite embedding dropout")
	}

	// Attention dropout alone also acts in training only.
	cfg.EmbedDropout, cfg.AttnDropout = 0, 0.5
	c, _ := New(cfg, dev, 7)
	infer := c.Forward(g, ids, batch, seq, false, nil).Value.Data()
	trained := c.Forward(g, ids, batch, seq, true, tensor.NewRNG(5)).Value.Data()
	if slices.Equal(infer, trained) {
		t.Error("attention dropout 0.5 left the training forward unchanged")
	}
	if !slices.Equal(infer, la.Data()) {
		t.Error("attention dropout changed the inference forward")
	}
}

func TestForwardRejectsBadInput(t *testing.T) {
	m, _ := New(smallConfig(), tensor.DefaultCPU(), 1)
	for _, tc := range []struct {
		ids        []int32
		batch, seq int
		want       string
	}{
		{[]int32{1, 2, 3}, 1, 2, "token ids"},
		{[]int32{1, 11}, 1, 2, "outside the vocabulary"},
		{[]int32{1, -1}, 2, 1, "outside the vocabulary"},
		{make([]int32, 17), 1, 17, "max_position_embeddings"},
		{nil, 0, 0, "positive"},
	} {
		if _, err := m.Logits(tc.ids, tc.batch, tc.seq); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: got %v, want %q", tc.ids, err, tc.want)
		}
	}
}

func TestLMGradient(t *testing.T) {
	// The whole model through the loss, on a tiny configuration: every parameter gets a
	// gradient, and the tied embedding (used at both ends) is checked against finite
	// differences. The other gradients are too small for float32 finite differences; the
	// PyTorch golden files check them all.
	cfg := smallConfig()
	cfg.DModel, cfg.DInner, cfg.DState, cfg.HeadDim = 4, 8, 4, 2
	m, err := New(cfg, tensor.DefaultCPU(), 3)
	if err != nil {
		t.Fatal(err)
	}
	rng := tensor.NewRNG(4)
	const batch, seq = 2, 5
	ids := randomIDs(rng, batch*seq, cfg.VocabSize)
	targets := randomIDs(rng, batch*seq, cfg.VocabSize)
	// Embedding entries are about 0.02, so the step must be far smaller than the default.
	check := []*autograd.Var{m.WordEmb.Weight}
	err = autograd.CheckGrad(func(g *autograd.Graph, _ []*autograd.Var) *autograd.Var {
		logits := m.Forward(g, ids, batch, seq, false, nil)
		return autograd.CrossEntropy(g, autograd.Reshape(g, logits, batch*seq, cfg.VocabSize), targets, -100)
	}, check, autograd.GradCheckOptions{MaxPerInput: 16, Eps: 1e-3})
	if err != nil {
		t.Error(err)
	}
	g := autograd.NewGraph()
	logits := m.Forward(g, ids, batch, seq, false, nil)
	loss := autograd.CrossEntropy(g, autograd.Reshape(g, logits, batch*seq, cfg.VocabSize), targets, -100)
	for _, p := range m.Params() {
		p.ZeroGrad()
	}
	if err := g.Backward(loss); err != nil {
		t.Fatal(err)
	}
	for _, p := range m.Params() {
		if p.Grad == nil {
			t.Errorf("%s received no gradient", p.Name)
		}
	}
}

func TestSaveLoadRoundTrip(t *testing.T) {
	dev := tensor.DefaultCPU()
	for _, tied := range []bool{true, false} {
		cfg := smallConfig()
		cfg.TieWordEmbeddings = tied
		cfg.SSMDiscretization = "bilinear"
		m, err := New(cfg, dev, 9)
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		if err := Save(dir, m); err != nil {
			t.Fatal(err)
		}
		back, err := Load(dir, dev)
		if err != nil {
			t.Fatal(err)
		}
		if back.Config.SSMDiscretization != "bilinear" || back.Config.TieWordEmbeddings != tied {
			t.Errorf("config changed: %+v", back.Config)
		}
		ps, qs := m.Params(), back.Params()
		if len(ps) != len(qs) {
			t.Fatalf("%d parameters saved, %d loaded", len(ps), len(qs))
		}
		for i := range ps {
			a, b := ps[i].Value.Data(), qs[i].Value.Data()
			for j := range a {
				if a[j] != b[j] {
					t.Fatalf("%s differs after the round trip", ps[i].Name)
				}
			}
		}
		entries, _ := os.ReadDir(dir)
		if len(entries) != 2 {
			t.Errorf("save left %d files, want config.json and model.safetensors", len(entries))
		}
	}
}

// rewrite saves m, lets edit change its tensors, and writes them back.
func rewrite(t *testing.T, m *LM, edit func(map[string]safetensors.Tensor)) string {
	t.Helper()
	dir := t.TempDir()
	if err := Save(dir, m); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, weightsFile)
	f, err := safetensors.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ts, err := f.Tensors()
	if err != nil {
		t.Fatal(err)
	}
	edit(ts)
	if err := safetensors.WriteFileAtomic(path, ts, nil); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestLoadIsStrict(t *testing.T) {
	dev := tensor.DefaultCPU()
	m, _ := New(smallConfig(), dev, 1)
	const emb = "backbone.embeddings.word_embeddings.weight"
	const dt = "backbone.layers.0.mixer.kernel.kernel.log_dt"
	for _, tc := range []struct {
		name string
		edit func(map[string]safetensors.Tensor)
		want string
	}{
		{"missing", func(ts map[string]safetensors.Tensor) { delete(ts, dt) }, "lacks 1 tensors: " + dt},
		{"unexpected", func(ts map[string]safetensors.Tensor) { ts["backbone.extra"] = ts[dt] }, "unexpected tensors: backbone.extra"},
		{"shape", func(ts map[string]safetensors.Tensor) {
			x, _ := safetensors.FromF32([]int{9}, make([]float32, 9))
			ts[dt] = x
		}, dt + " has shape [9], want [8]"},
		{"dtype", func(ts map[string]safetensors.Tensor) {
			x, _ := safetensors.FromInt64([]int{8}, make([]int64, 8))
			ts[dt] = x
		}, dt + " has dtype I64"},
		{"untied head", func(ts map[string]safetensors.Tensor) {
			w, _ := ts[emb].F32()
			w[3] += 1
			x, _ := safetensors.FromF32(ts[emb].Shape, w)
			ts["lm_head.weight"] = x
		}, "lm_head.weight differs from the word embeddings"},
	} {
		_, err := Load(rewrite(t, m, tc.edit), dev)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want %q", tc.name, err, tc.want)
		}
	}
	// The official state dict stores the tied head too; an equal copy is accepted.
	dir := rewrite(t, m, func(ts map[string]safetensors.Tensor) { ts["lm_head.weight"] = ts[emb] })
	if _, err := Load(dir, dev); err != nil {
		t.Errorf("a tied lm_head.weight equal to the embeddings was refused: %v", err)
	}
}

// legacyName is the inverse of the official load_state_dict renaming for a model of
// nLayer layers: where a pre-norm tensor was stored by the first released checkpoints.
func legacyName(name string, nLayer int) string {
	var l int
	var rest string
	if _, err := fmt.Sscanf(name, "backbone.layers.%d.%s", &l, &rest); err == nil {
		for _, suffix := range []string{".weight", ".bias"} {
			switch rest {
			case "norm1" + suffix:
				if l == 0 {
					return "s4seq.encoder.ln_0" + suffix
				}
				return fmt.Sprintf("s4seq.encoder.layers.%d.norm2%s", l-1, suffix)
			case "norm2" + suffix:
				return fmt.Sprintf("s4seq.encoder.layers.%d.norm1%s", l, suffix)
			}
		}
	}
	switch {
	case strings.HasPrefix(name, "backbone.ln_f"):
		return fmt.Sprintf("s4seq.encoder.layers.%d.norm2%s", nLayer-1, strings.TrimPrefix(name, "backbone.ln_f"))
	case strings.HasPrefix(name, "backbone.embeddings.word_embeddings."):
		return "embedding." + strings.TrimPrefix(name, "backbone.embeddings.word_embeddings.")
	}
	return "s4seq.encoder." + strings.TrimPrefix(name, "backbone.")
}

func TestLoadLegacyNames(t *testing.T) {
	// A checkpoint in the first release's naming and post-norm LayerNorm numbering loads
	// into the same model, as the official load_state_dict remaps it.
	dev := tensor.DefaultCPU()
	cfg := smallConfig()
	m, _ := New(cfg, dev, 5)
	dir := rewrite(t, m, func(ts map[string]safetensors.Tensor) {
		old := make(map[string]safetensors.Tensor, len(ts))
		for name, x := range ts {
			old[legacyName(name, cfg.NLayer)] = x
		}
		clear(ts)
		for name, x := range old {
			ts[name] = x
		}
	})
	back, err := Load(dir, dev)
	if err != nil {
		t.Fatal(err)
	}
	ps, qs := m.Params(), back.Params()
	for i := range ps {
		a, b := ps[i].Value.Data(), qs[i].Value.Data()
		for j := range a {
			if a[j] != b[j] {
				t.Fatalf("%s differs after loading the legacy names", ps[i].Name)
			}
		}
	}
	// Strictness survives the renaming.
	dir = rewrite(t, m, func(ts map[string]safetensors.Tensor) {
		ts["s4seq.encoder.ln_0.weight"] = ts["backbone.layers.0.norm1.weight"]
	})
	if _, err := Load(dir, dev); err == nil || !strings.Contains(err.Error(), "both hold") {
		t.Errorf("a checkpoint holding both namings: got %v", err)
	}
}
