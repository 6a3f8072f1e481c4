package model

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/hungry-ssm/hungry/layers"
	"github.com/hungry-ssm/hungry/safetensors"
	"github.com/hungry-ssm/hungry/torchfile"
)

// GPT2Vocab is the GPT-2 tokenizer's vocabulary; the released H3 models pad it to a
// multiple of 8 (pad_vocab_size_multiple=8), so their embeddings have 50264 rows.
const GPT2Vocab = 50257

// OfficialPreset describes one released H3 model (the commands of the official README).
type OfficialPreset struct {
	Name         string
	DModel       int
	NLayer       int
	Heads        int
	AttnLayerIdx []int
	RotaryEmbDim int
	File         string // the checkpoint as the official README names it
}

// OfficialPresets lists the released checkpoints.
func OfficialPresets() []OfficialPreset {
	return []OfficialPreset{
		{Name: "h3-125m", DModel: 768, NLayer: 12, Heads: 12, AttnLayerIdx: []int{6}, File: "H3-125M/model.pt"},
		{Name: "h3-355m", DModel: 1024, NLayer: 24, Heads: 16, AttnLayerIdx: []int{8, 16}, File: "H3-355M/model.pt"},
		{Name: "h3-1.3b", DModel: 2048, NLayer: 24, Heads: 16, AttnLayerIdx: []int{8, 16}, File: "H3-1.3B/model.pt"},
		{Name: "h3-2.7b", DModel: 2560, NLayer: 32, Heads: 20, AttnLayerIdx: []int{8, 16, 24}, File: "H3-2.7B/model-3attn.pt"},
		{Name: "h3-2.7b-rotary", DModel: 2560, NLayer: 32, Heads: 20, AttnLayerIdx: []int{10, 21}, RotaryEmbDim: 64, File: "H3-2.7B/model-2attn-rotary.pt"},
	}
}

// Config returns the model configuration of a released checkpoint: vocabulary 50257
// padded to 50264, MLP width 4·d, d_state 64, head_dim 1, bilinear discretisation, tied
// embeddings and the GPT-2 tokenizer.
func (p OfficialPreset) Config() Config {
	c := DefaultConfig()
	c.DModel, c.NLayer, c.DInner = p.DModel, p.NLayer, 4*p.DModel
	c.VocabSize = padVocab(GPT2Vocab)
	c.AttnLayerIdx = slices.Clone(p.AttnLayerIdx)
	c.AttnNHeads = p.Heads
	c.RotaryEmbDim = p.RotaryEmbDim
	c.SSMDiscretization = "bilinear"
	c.Tokenizer = "gpt2"
	return c
}

// FindOfficialPreset returns the preset of that name.
func FindOfficialPreset(name string) (OfficialPreset, error) {
	var names []string
	for _, p := range OfficialPresets() {
		if p.Name == name {
			return p, nil
		}
		names = append(names, p.Name)
	}
	return OfficialPreset{}, fmt.Errorf("unknown preset %q (want one of %s)", name, strings.Join(names, ", "))
}

func padVocab(v int) int { return (v + 7) / 8 * 8 }

// validateRotary checks RotaryEmbDim against the attention heads.
func (c Config) validateRotary() error {
	if c.RotaryEmbDim == 0 {
		return nil
	}
	if len(c.AttnLayerIdx) == 0 {
		return fmt.Errorf("config: rotary_emb_dim %d is set but no layer is attention", c.RotaryEmbDim)
	}
	if err := layers.CheckRotary(c.RotaryEmbDim, c.DModel/c.AttnNHeads); err != nil {
		return fmt.Errorf("config: rotary_emb_dim: %v", err)
	}
	return nil
}

// ParamShapes returns the name and shape of every parameter a model of cfg has, without
// building it (an import checks a multi-gigabyte checkpoint against it). Only the H3
// mixer is described, the one the released models use.
func ParamShapes(cfg Config) (map[string][]int, error) {
	if cfg.DInner == 0 {
		cfg.DInner = 4 * cfg.DModel
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Mixer != "" && cfg.Mixer != MixerH3 {
		return nil, fmt.Errorf("model: mixer %q has no official checkpoint layout", cfg.Mixer)
	}
	d, h := cfg.DModel, cfg.DModel/cfg.HeadDim
	n, m := cfg.DState, cfg.DState/2
	out := map[string][]int{"backbone.embeddings.word_embeddings.weight": {cfg.VocabSize, d}}
	add := func(prefix string, shapes map[string][]int) {
		for k, s := range shapes {
			out[prefix+k] = s
		}
	}
	linear := func(prefix string, o, i int) {
		add(prefix, map[string][]int{".weight": {o, i}, ".bias": {o}})
	}
	if cfg.MaxPositionEmbeddings > 0 {
		out["backbone.embeddings.position_embeddings.weight"] = []int{cfg.MaxPositionEmbeddings, d}
	}
	for i := 0; i < cfg.NLayer; i++ {
		p := fmt.Sprintf("backbone.layers.%d.", i)
		add(p, map[string][]int{"norm1.weight": {d}, "norm1.bias": {d}, "norm2.weight": {d}, "norm2.bias": {d}})
		linear(p+"mlp.fc1", cfg.DInner, d)
		linear(p+"mlp.fc2", d, cfg.DInner)
		if cfg.IsAttention(i) {
			linear(p+"mixer.Wqkv", 3*d, d)
			linear(p+"mixer.out_proj", d, d)
			continue
		}
		for _, l := range []string{"q_proj", "k_proj", "v_proj", "output_linear"} {
			linear(p+"mixer."+l, d, d)
		}
		add(p+"mixer.", map[string][]int{
			"ssm_k_D": {d}, "D": {h},
			"ssm_k_kernel.kernel.B": {d, n}, "ssm_k_kernel.kernel.C": {1, d, n},
			"kernel.kernel.C": {1, h, m, 2}, "kernel.kernel.B": {h, m, 2}, "kernel.kernel.log_dt": {h},
			"kernel.kernel.inv_A_real": {h, m}, "kernel.kernel.A_imag": {h, m},
		})
	}
	out["backbone.ln_f.weight"] = []int{d}
	out["backbone.ln_f.bias"] = []int{d}
	if !cfg.TieWordEmbeddings {
		out[lmHeadKey] = []int{cfg.VocabSize, d}
	}
	return out, nil
}

// Imported is an official checkpoint converted to this package's layout.
type Imported struct {
	Config Config
	// Tensors holds every parameter under its name here, in the checkpoint's dtype.
	Tensors map[string]safetensors.Tensor
	// Notes say what the conversion inferred or changed, one line each.
	Notes []string
}

var layerIndex = regexp.MustCompile(`(?:^|\.)layers\.(\d+)\.`)

// ImportStateDict converts the state dict of an official H3 checkpoint. base is the
// configuration the user expects (a preset or a config file) or nil; the checkpoint's
// keys and shapes decide the architecture where they disagree with it, and a note says
// what differed. It strips "model." prefixes, renames the first checkpoints' parameters
// as the official load_state_dict does (see legacyNames), drops the rotary inv_freq
// buffers old flash-attn saved (after checking them), and checks every tensor against
// the configuration's shapes.
func ImportStateDict(entries []torchfile.Entry, base *Config) (*Imported, error) {
	imp := &Imported{Tensors: map[string]safetensors.Tensor{}}
	notef := func(format string, args ...any) { imp.Notes = append(imp.Notes, fmt.Sprintf(format, args...)) }

	prefixed := 0
	for _, e := range entries {
		if strings.HasPrefix(e.Name, "model.") {
			prefixed++
		}
	}
	src := map[string]*torchfile.Tensor{}
	var names []string
	rotary := 0
	for _, e := range entries {
		name := e.Name
		if prefixed > 0 {
			var ok bool
			if name, ok = strings.CutPrefix(name, "model."); !ok {
				notef("ignored %s: it lies outside the model.* entries", e.Name)
				continue
			}
		}
		if strings.HasSuffix(name, ".rotary_emb.inv_freq") {
			r, err := checkInvFreq(name, e.Tensor)
			if err != nil {
				return nil, err
			}
			if rotary != 0 && r != rotary {
				return nil, fmt.Errorf("model: rotary buffers disagree: dimensions %d and %d", rotary, r)
			}
			rotary = r
			continue
		}
		if _, dup := src[name]; dup {
			return nil, fmt.Errorf("model: checkpoint holds %s twice", name)
		}
		src[name] = e.Tensor
		names = append(names, name)
	}
	if prefixed > 0 {
		notef("stripped the \"model.\" prefix of %d tensors", prefixed)
	}
	nLayer := 0
	for _, n := range names {
		if m := layerIndex.FindStringSubmatch(n); m != nil {
			if i, err := strconv.Atoi(m[1]); err == nil && i < 1<<16 {
				nLayer = max(nLayer, i+1)
			}
		}
	}
	nm := legacyNames(names, nLayer)
	if nm.clash[0] != "" {
		return nil, fmt.Errorf("model: checkpoint tensors %s and %s both hold %s", nm.clash[0], nm.clash[1], nm.ours(nm.clash[1]))
	}
	if len(nm.toOurs) > 0 {
		notef("renamed the first checkpoints' parameters (s4seq.encoder., embedding., post-norm LayerNorms) as the official loader does")
	}
	ours := map[string]*torchfile.Tensor{}
	for _, n := range names {
		ours[nm.ours(n)] = src[n]
	}

	cfg, err := inferConfig(ours, nLayer, rotary, base, notef)
	if err != nil {
		return nil, err
	}
	imp.Config = cfg
	want, err := ParamShapes(cfg)
	if err != nil {
		return nil, err
	}
	var unexpected, missing []string
	for n := range ours {
		if _, ok := want[n]; !ok && !(n == lmHeadKey && cfg.TieWordEmbeddings) {
			unexpected = append(unexpected, n)
		}
	}
	for n := range want {
		if _, ok := ours[n]; !ok {
			missing = append(missing, n)
		}
	}
	if len(unexpected) > 0 {
		return nil, fmt.Errorf("model: checkpoint has %d tensors the config does not: %s", len(unexpected), listNames(unexpected))
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("model: checkpoint lacks %d tensors: %s", len(missing), listNames(missing))
	}
	sorted := make([]string, 0, len(want))
	for n := range want {
		sorted = append(sorted, n)
	}
	sort.Strings(sorted)
	for _, n := range sorted {
		t := ours[n]
		if !slices.Equal(t.Shape, want[n]) {
			return nil, fmt.Errorf("model: tensor %s has shape %v, the config wants %v", n, t.Shape, want[n])
		}
		data, err := t.Bytes()
		if err != nil {
			return nil, fmt.Errorf("model: tensor %s: %w", n, err)
		}
		imp.Tensors[n] = safetensors.Tensor{DType: t.DType, Shape: slices.Clone(t.Shape), Data: data}
	}
	return imp, nil
}

// checkInvFreq verifies a rotary inv_freq buffer (base^(−2i/dim), i < dim/2) and returns
// its dimension.
func checkInvFreq(name string, t *torchfile.Tensor) (int, error) {
	if len(t.Shape) != 1 || t.Shape[0] == 0 || t.Shape[0] > 1<<12 {
		return 0, fmt.Errorf("model: %s has shape %v, want (rotary_dim/2)", name, t.Shape)
	}
	v, err := t.F32()
	if err != nil {
		return 0, fmt.Errorf("model: %s: %w", name, err)
	}
	dim := 2 * len(v)
	for i, x := range v {
		want := math.Pow(layers.RotaryBase, -float64(2*i)/float64(dim))
		// fp16 checkpoints round the buffer too: 1e-3 covers half precision.
		if math.Abs(float64(x)-want) > 1e-3*want {
			return 0, fmt.Errorf("model: %s[%d] = %g, want %g: only base %d rotary embeddings are supported", name, i, x, want, layers.RotaryBase)
		}
	}
	return dim, nil
}

// inferConfig reads the architecture off the checkpoint's shapes and reconciles it with
// base (or the official defaults).
func inferConfig(ours map[string]*torchfile.Tensor, nLayer, rotary int, base *Config, notef func(string, ...any)) (Config, error) {
	shape := func(name string, rank int) ([]int, error) {
		t, ok := ours[name]
		if !ok {
			return nil, fmt.Errorf("model: checkpoint lacks %s", name)
		}
		if len(t.Shape) != rank {
			return nil, fmt.Errorf("model: tensor %s has shape %v, want %d dimensions", name, t.Shape, rank)
		}
		return t.Shape, nil
	}
	emb, err := shape("backbone.embeddings.word_embeddings.weight", 2)
	if err != nil {
		return Config{}, err
	}
	if nLayer == 0 {
		return Config{}, fmt.Errorf("model: checkpoint has no backbone.layers.* tensors")
	}
	got := DefaultConfig()
	got.VocabSize, got.DModel, got.NLayer = emb[0], emb[1], nLayer
	got.AttnLayerIdx = []int{}
	h3Layer := -1
	for i := 0; i < nLayer; i++ {
		if _, ok := ours[fmt.Sprintf("backbone.layers.%d.mixer.Wqkv.weight", i)]; ok {
			got.AttnLayerIdx = append(got.AttnLayerIdx, i)
		} else if h3Layer < 0 {
			h3Layer = i
		}
	}
	fc1, err := shape("backbone.layers.0.mlp.fc1.weight", 2)
	if err != nil {
		return Config{}, err
	}
	got.DInner = fc1[0]
	if h3Layer >= 0 {
		p := fmt.Sprintf("backbone.layers.%d.mixer.", h3Layer)
		dh, err := shape(p+"D", 1)
		if err != nil {
			return Config{}, err
		}
		if dh[0] <= 0 || got.DModel%dh[0] != 0 {
			return Config{}, fmt.Errorf("model: %sD has %d heads, which do not divide d_model %d", p, dh[0], got.DModel)
		}
		got.HeadDim = got.DModel / dh[0]
		b, err := shape(p+"ssm_k_kernel.kernel.B", 2)
		if err != nil {
			return Config{}, err
		}
		got.DState = b[1]
	}
	if pe, ok := ours["backbone.embeddings.position_embeddings.weight"]; ok && len(pe.Shape) == 2 {
		got.MaxPositionEmbeddings = pe.Shape[0]
	}
	if head, ok := ours[lmHeadKey]; ok {
		tied, err := sameTensor(head, ours["backbone.embeddings.word_embeddings.weight"])
		if err != nil {
			return Config{}, err
		}
		got.TieWordEmbeddings = tied
	}
	got.RotaryEmbDim = rotary

	var cfg Config
	if base == nil {
		cfg = got
		cfg.SSMDiscretization = "bilinear"
		cfg.Tokenizer = "byte"
		if cfg.VocabSize >= GPT2Vocab {
			cfg.Tokenizer = "gpt2"
		}
		for _, p := range OfficialPresets() {
			if p.DModel == cfg.DModel && len(cfg.AttnLayerIdx) > 0 {
				cfg.AttnNHeads = p.Heads
				notef("attention heads: %d, as the released %d-wide models (not recorded in the weights)", p.Heads, p.DModel)
				break
			}
		}
		if len(cfg.AttnLayerIdx) > 0 && cfg.AttnNHeads == 0 {
			return Config{}, fmt.Errorf("model: the number of attention heads is not recorded in the weights; give --preset or --config")
		}
	} else {
		cfg = *base
		if cfg.DInner == 0 {
			cfg.DInner = 4 * cfg.DModel
		}
		differ := func(field string, want, have any, set func()) {
			if fmt.Sprint(want) != fmt.Sprint(have) {
				notef("%s: the config says %v, the checkpoint has %v; using the checkpoint's", field, want, have)
				set()
			}
		}
		differ("d_model", cfg.DModel, got.DModel, func() { cfg.DModel = got.DModel })
		differ("n_layer", cfg.NLayer, got.NLayer, func() { cfg.NLayer = got.NLayer })
		differ("vocab_size", cfg.VocabSize, got.VocabSize, func() { cfg.VocabSize = got.VocabSize })
		differ("d_inner", cfg.DInner, got.DInner, func() { cfg.DInner = got.DInner })
		differ("attn_layer_idx", cfg.AttnLayerIdx, got.AttnLayerIdx, func() { cfg.AttnLayerIdx = got.AttnLayerIdx })
		if h3Layer >= 0 {
			differ("head_dim", cfg.HeadDim, got.HeadDim, func() { cfg.HeadDim = got.HeadDim })
			differ("d_state", cfg.DState, got.DState, func() { cfg.DState = got.DState })
		}
		differ("max_position_embeddings", cfg.MaxPositionEmbeddings, got.MaxPositionEmbeddings, func() { cfg.MaxPositionEmbeddings = got.MaxPositionEmbeddings })
		if _, ok := ours[lmHeadKey]; ok || !cfg.TieWordEmbeddings {
			differ("tie_word_embeddings", cfg.TieWordEmbeddings, got.TieWordEmbeddings, func() { cfg.TieWordEmbeddings = got.TieWordEmbeddings })
		}
		if rotary > 0 {
			differ("rotary_emb_dim", cfg.RotaryEmbDim, rotary, func() { cfg.RotaryEmbDim = rotary })
		}
	}
	if rotary == 0 && cfg.RotaryEmbDim == 0 {
		// Newer flash-attn does not save inv_freq: the rotary model is then known only by
		// its attention layers, which no other release shares.
		for _, p := range OfficialPresets() {
			if p.RotaryEmbDim > 0 && p.DModel == cfg.DModel && slices.Equal(p.AttnLayerIdx, cfg.AttnLayerIdx) {
				cfg.RotaryEmbDim = p.RotaryEmbDim
				notef("rotary_emb_dim %d, as the released %s (its attention layers; not recorded in the weights)", p.RotaryEmbDim, p.Name)
			}
		}
	}
	if cfg.Tokenizer == "gpt2" && cfg.VocabSize < GPT2Vocab {
		return Config{}, fmt.Errorf("model: vocabulary %d is smaller than GPT-2's %d; give a config with another tokenizer", cfg.VocabSize, GPT2Vocab)
	}
	// The official models train with embedding dropout 0.1 and attention dropout 0; both
	// only matter for further training.
	if err := cfg.Validate(); err != nil {
		return Config{}, fmt.Errorf("model: inferred %w", err)
	}
	return cfg, nil
}

// sameTensor reports whether two tensors hold the same values (a tied head saved beside
// the embeddings).
func sameTensor(a, b *torchfile.Tensor) (bool, error) {
	if b == nil || !slices.Equal(a.Shape, b.Shape) {
		return false, nil
	}
	x, err := a.Bytes()
	if err != nil {
		return false, fmt.Errorf("model: %s: %w", lmHeadKey, err)
	}
	y, err := b.Bytes()
	if err != nil {
		return false, fmt.Errorf("model: word embeddings: %w", err)
	}
	return a.DType == b.DType && bytes.Equal(x, y), nil
}

// SaveImported writes dir/model.safetensors (tensors in their checkpoint dtype, which Load
// converts to float32) and dir/config.json. It writes plainly, as model.Save does: a caller
// that needs the folder to appear whole fills it through train.WriteDirAtomic.
func SaveImported(dir string, imp *Imported) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("model: %w", err)
	}
	f, err := os.Create(filepath.Join(dir, weightsFile))
	if err != nil {
		return fmt.Errorf("model: %w", err)
	}
	if err := safetensors.Write(f, imp.Tensors, map[string]string{"format": "pt"}); err != nil {
		f.Close()
		return fmt.Errorf("model: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("model: %w", err)
	}
	cfg, err := imp.Config.Marshal()
	if err != nil {
		return fmt.Errorf("model: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, configFile), cfg, 0o644); err != nil {
		return fmt.Errorf("model: %w", err)
	}
	return nil
}
