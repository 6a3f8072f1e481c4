// Package model is the H3 language model (Fu, Dao et al., "Hungry Hungry Hippos"): its
// configuration, its forward pass, and checkpoints that use the official parameter names.
package model

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/hungry-ssm/hungry/tensor"
)

// Config describes a model; it is stored as config.json beside the weights.
type Config struct {
	ModelType string `json:"model_type"`
	DModel    int    `json:"d_model"`
	NLayer    int    `json:"n_layer"`
	// DInner is the MLP width (0 means 4·d_model).
	DInner    int `json:"d_inner"`
	VocabSize int `json:"vocab_size"`
	// AttnLayerIdx lists the layers whose mixer is attention instead of H3.
	AttnLayerIdx []int `json:"attn_layer_idx"`
	AttnNHeads   int   `json:"attn_n_heads"`
	// DState is the shift SSM's number of taps; the diagonal SSM has DState/2 complex modes.
	DState            int     `json:"d_state"`
	HeadDim           int     `json:"head_dim"`
	SSMDiscretization string  `json:"ssm_discretization"`
	LayerNormEpsilon  float64 `json:"layer_norm_epsilon"`
	// MaxPositionEmbeddings > 0 adds learned position embeddings; 0 means none.
	MaxPositionEmbeddings int    `json:"max_position_embeddings"`
	TieWordEmbeddings     bool   `json:"tie_word_embeddings"`
	Tokenizer             string `json:"tokenizer"`
	// EmbedDropout and ResidDropout are the official SSMModel's dropout rates: on the
	// embeddings and on every residual branch, in training only.
	EmbedDropout float64 `json:"embed_dropout"`
	ResidDropout float64 `json:"resid_dropout"`
	// AttnDropout drops attention probabilities in training (the official attn_cfg's
	// dropout); left out of the JSON when zero, as official H3 configs have no such key.
	AttnDropout float64 `json:"attn_dropout,omitempty"`
	// Mixer picks the non-attention layers' mixer: "h3" (or empty, the default, left out
	// of the JSON so official configs round-trip unchanged), or the paper's ablations
	// "s4d" (the diagonal SSM alone, gated) and "shift" (the shift SSM and gating without
	// the diagonal SSM).
	Mixer string `json:"mixer,omitempty"`
	// RotaryEmbDim > 0 gives attention rotary position embeddings on that many features
	// of each head (flash-attn's rotary_emb_dim; 64 in the released H3-2.7B rotary
	// model); left out of the JSON when zero.
	RotaryEmbDim int `json:"rotary_emb_dim,omitempty"`
}

// Mixer names for Config.Mixer.
const (
	MixerH3    = "h3"
	MixerS4D   = "s4d"
	MixerShift = "shift"
)

// DefaultConfig returns the settings of the official H3 models for fields a config file
// leaves out: d_state 64, head_dim 1, LayerNorm ε 1e-5, no position embeddings, tied
// embeddings, embedding dropout 0.1; new models discretise with zoh.
func DefaultConfig() Config {
	return Config{
		ModelType:         "h3",
		DState:            64,
		HeadDim:           1,
		SSMDiscretization: "zoh",
		LayerNormEpsilon:  1e-5,
		TieWordEmbeddings: true,
		Tokenizer:         "byte",
		EmbedDropout:      0.1,
		AttnLayerIdx:      []int{},
	}
}

// ParseConfig reads a JSON config over DefaultConfig, rejecting unknown keys, and
// validates it.
func ParseConfig(data []byte) (Config, error) {
	cfg := DefaultConfig()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cfg); err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return Config{}, fmt.Errorf("config: trailing data after the JSON object")
	}
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// WithDefaults fills in what a zero field means: d_inner 0 is 4·d_model, the official
// models' MLP width. It is the one place that width is chosen.
func (c Config) WithDefaults() Config {
	if c.DInner == 0 {
		c.DInner = 4 * c.DModel
	}
	return c
}

// maxConfigBytes bounds what ReadConfig reads: configs are a few hundred bytes, and a
// config.json that is a link to /dev/zero or a huge file must not fill the memory.
const maxConfigBytes = 1 << 20

// ReadConfig reads dir/config.json, which must be a regular file (a symbolic link to one
// is fine) of at most 1 MiB.
func ReadConfig(dir string) (Config, error) {
	path := filepath.Join(dir, configFile)
	f, err := os.Open(path)
	if err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	// Stat the opened file, not the path, so that what is checked is what is read.
	st, err := f.Stat()
	if err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	if !st.Mode().IsRegular() {
		return Config{}, fmt.Errorf("config: %s is not a regular file; its length is unknown until read", path)
	}
	if st.Size() > maxConfigBytes {
		return Config{}, fmt.Errorf("config: %s is %d bytes; a config is at most %d", path, st.Size(), maxConfigBytes)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxConfigBytes+1))
	if err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	if len(data) > maxConfigBytes {
		return Config{}, fmt.Errorf("config: %s grew past %d bytes while being read", path, maxConfigBytes)
	}
	return ParseConfig(data)
}

// Upper bounds on a config's sizes. Config files come from anywhere, and these sizes are
// what model building allocates from; the bounds keep every product of them (NumParams,
// memory estimates) far inside an int64 and reject nonsense in one line before a byte is
// allocated. Each is at least 16× the largest official H3 model's (2.7B: d_model 2560,
// 32 layers, vocab 50264, d_state 64, d_inner 10240, 2048 positions). Whether a model
// within them fits the machine is the caller's check.
const (
	MaxDModel    = 1 << 16
	MaxNLayer    = 1 << 10
	MaxDInner    = 1 << 18
	MaxVocabSize = 1 << 22
	MaxDState    = 1 << 12
	MaxPositions = 1 << 24
)

// Validate reports the first problem with the config in one line.
func (c Config) Validate() error {
	switch {
	case c.ModelType != "h3":
		return fmt.Errorf("config: model_type must be \"h3\", got %q", c.ModelType)
	case c.DModel <= 0:
		return fmt.Errorf("config: d_model must be positive, got %d", c.DModel)
	case c.NLayer <= 0:
		return fmt.Errorf("config: n_layer must be positive, got %d", c.NLayer)
	case c.DInner <= 0:
		return fmt.Errorf("config: d_inner must be positive, got %d", c.DInner)
	case c.VocabSize <= 0:
		return fmt.Errorf("config: vocab_size must be positive, got %d", c.VocabSize)
	case c.DState <= 0 || c.DState%2 != 0:
		return fmt.Errorf("config: d_state must be positive and even, got %d", c.DState)
	case c.HeadDim <= 0:
		return fmt.Errorf("config: head_dim must be positive, got %d", c.HeadDim)
	case c.DModel%c.HeadDim != 0:
		return fmt.Errorf("config: d_model %d is not divisible by head_dim %d", c.DModel, c.HeadDim)
	case !(c.LayerNormEpsilon > 0):
		return fmt.Errorf("config: layer_norm_epsilon must be positive, got %g", c.LayerNormEpsilon)
	case c.MaxPositionEmbeddings < 0:
		return fmt.Errorf("config: max_position_embeddings must not be negative, got %d", c.MaxPositionEmbeddings)
	case c.DModel > MaxDModel:
		return fmt.Errorf("config: d_model %d exceeds the limit of %d", c.DModel, MaxDModel)
	case c.NLayer > MaxNLayer:
		return fmt.Errorf("config: n_layer %d exceeds the limit of %d", c.NLayer, MaxNLayer)
	case c.DInner > MaxDInner:
		return fmt.Errorf("config: d_inner %d exceeds the limit of %d", c.DInner, MaxDInner)
	case c.VocabSize > MaxVocabSize:
		return fmt.Errorf("config: vocab_size %d exceeds the limit of %d", c.VocabSize, MaxVocabSize)
	case c.DState > MaxDState:
		return fmt.Errorf("config: d_state %d exceeds the limit of %d", c.DState, MaxDState)
	case c.MaxPositionEmbeddings > MaxPositions:
		return fmt.Errorf("config: max_position_embeddings %d exceeds the limit of %d", c.MaxPositionEmbeddings, MaxPositions)
	case c.AttnNHeads < 0:
		return fmt.Errorf("config: attn_n_heads must not be negative, got %d", c.AttnNHeads)
	case !(c.EmbedDropout >= 0 && c.EmbedDropout < 1):
		return fmt.Errorf("config: embed_dropout must be in [0, 1), got %g", c.EmbedDropout)
	case !(c.ResidDropout >= 0 && c.ResidDropout < 1):
		return fmt.Errorf("config: resid_dropout must be in [0, 1), got %g", c.ResidDropout)
	case !(c.AttnDropout >= 0 && c.AttnDropout < 1):
		return fmt.Errorf("config: attn_dropout must be in [0, 1), got %g", c.AttnDropout)
	}
	switch c.Mixer {
	case "", MixerH3:
	case MixerS4D, MixerShift:
		if c.HeadDim != 1 {
			return fmt.Errorf("config: mixer %q has no heads; head_dim must be 1, got %d", c.Mixer, c.HeadDim)
		}
	default:
		return fmt.Errorf("config: mixer must be %q, %q or %q, got %q", MixerH3, MixerS4D, MixerShift, c.Mixer)
	}
	if _, err := tensor.ParseDiscretization(c.SSMDiscretization); err != nil {
		return fmt.Errorf("config: ssm_discretization: %v", err)
	}
	switch c.Tokenizer {
	case "byte", "bpe", "gpt2":
	default:
		return fmt.Errorf("config: tokenizer must be \"byte\", \"bpe\" or \"gpt2\", got %q", c.Tokenizer)
	}
	seen := map[int]bool{}
	for _, i := range c.AttnLayerIdx {
		if i < 0 || i >= c.NLayer {
			return fmt.Errorf("config: attn_layer_idx %d is outside [0, %d)", i, c.NLayer)
		}
		if seen[i] {
			return fmt.Errorf("config: attn_layer_idx lists layer %d twice", i)
		}
		seen[i] = true
	}
	if len(c.AttnLayerIdx) > 0 {
		if c.AttnNHeads <= 0 {
			return fmt.Errorf("config: attn_n_heads must be positive when attn_layer_idx is set, got %d", c.AttnNHeads)
		}
		if c.DModel%c.AttnNHeads != 0 {
			return fmt.Errorf("config: d_model %d is not divisible by attn_n_heads %d", c.DModel, c.AttnNHeads)
		}
	}
	return c.validateRotary()
}

// IsAttention reports whether layer i mixes with attention.
func (c Config) IsAttention(i int) bool {
	for _, j := range c.AttnLayerIdx {
		if j == i {
			return true
		}
	}
	return false
}

// Marshal returns the config as indented JSON.
func (c Config) Marshal() ([]byte, error) {
	if c.AttnLayerIdx == nil {
		c.AttnLayerIdx = []int{}
	}
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// Model families: which mixer each layer has and whether positions are learned. They are
// spelled here once; hungry's Spec, the hungry command and the synthetic-task table name
// them.
const (
	// FamilyH3 has an H3 mixer in every layer.
	FamilyH3 = "h3"
	// FamilyHybrid has attention in layer 1 (layer 0 of a one-layer model) and H3 in the
	// others, the paper's hybrid.
	FamilyHybrid = "hybrid"
	// FamilyTransformer has attention in every layer and learned position embeddings.
	FamilyTransformer = "transformer"
	// FamilyAttention is the synthetic-task table's name for the same layout as
	// FamilyTransformer (the paper's column is "Attention").
	FamilyAttention = "attention"
	// FamilyS4D and FamilyShift are the paper's ablations of H3 (Config.Mixer): the
	// diagonal SSM alone, and the shift SSM with gating.
	FamilyS4D   = MixerS4D
	FamilyShift = MixerShift
)

// LanguageFamilies are the families a language model is trained as (hungry train --model).
func LanguageFamilies() []string { return []string{FamilyH3, FamilyHybrid, FamilyTransformer} }

// SyntheticFamilies are the models of the paper's synthetic-task table, in its column
// order.
func SyntheticFamilies() []string {
	return []string{FamilyH3, FamilyS4D, FamilyShift, FamilyAttention}
}

// SetFamily lays out c's mixers as family has them. positions is the longest sequence the
// model will see: the number of learned position embeddings of the all-attention
// families. Sizes and attention heads are left as they are.
func (c *Config) SetFamily(family string, positions int) error {
	c.Mixer, c.AttnLayerIdx, c.MaxPositionEmbeddings = "", []int{}, 0
	switch family {
	case FamilyH3:
	case FamilyS4D, FamilyShift:
		c.Mixer = family
	case FamilyHybrid:
		c.AttnLayerIdx = []int{min(1, max(c.NLayer-1, 0))}
	case FamilyTransformer, FamilyAttention:
		c.AttnLayerIdx = make([]int, c.NLayer)
		for i := range c.AttnLayerIdx {
			c.AttnLayerIdx[i] = i
		}
		c.MaxPositionEmbeddings = positions
	default:
		return fmt.Errorf("unknown model family %q (%s)", family, strings.Join(
			[]string{FamilyH3, FamilyHybrid, FamilyTransformer, FamilyAttention, FamilyS4D, FamilyShift}, ", "))
	}
	return nil
}

// NumParams is the number of parameters a model of c has, counted from its shapes
// (d_inner 0 counts as 4·d_model); it builds nothing.
func (c Config) NumParams() int {
	c = c.WithDefaults()
	d, n := c.DModel, c.DState
	linear := d*d + d // a d → d map with bias
	shift := d * (2*n + 1)
	diag := func(heads int) int { return heads * (2 + 3*n) } // log_dt, D; inv_A_real, A_imag (n/2 each); B, C (n each)
	total := (c.VocabSize + c.MaxPositionEmbeddings) * d
	for i := 0; i < c.NLayer; i++ {
		total += 4*d + 2*d*c.DInner + c.DInner + d // two LayerNorms and the MLP
		switch {
		case c.IsAttention(i):
			total += 4 * linear // Wqkv and out_proj
		case c.Mixer == MixerS4D:
			total += 3*linear + diag(d)
		case c.Mixer == MixerShift:
			total += 4*linear + shift
		default:
			total += 4*linear + shift + diag(d/max(c.HeadDim, 1))
		}
	}
	total += 2 * d // ln_f
	if !c.TieWordEmbeddings {
		total += c.VocabSize * d
	}
	return total
}

// MatchH3Size sets d_inner so that c has as many parameters as the H3 model of the same
// shape with d_inner 4·d_model, to compare families at equal size: attention layers are
// smaller than H3 layers (no SSM parameters) but may add position embeddings, and the MLP
// width absorbs the difference. The count is linear in d_inner, with slope
// n_layer·(2·d_model + 1), so the match is within half a slope.
func (c *Config) MatchH3Size() error {
	h3 := *c
	h3.AttnLayerIdx, h3.MaxPositionEmbeddings, h3.DInner = nil, 0, 0
	have := *c
	have.DInner = 0
	slope := c.NLayer * (2*c.DModel + 1)
	dInner := have.WithDefaults().DInner + int(math.Round(float64(h3.NumParams()-have.NumParams())/float64(slope)))
	if dInner < 1 {
		return fmt.Errorf("cannot match the H3 model's size with d_inner (would be %d)", dInner)
	}
	c.DInner = dInner
	return nil
}

// The paper's synthetic-task models (safari's configs: n_layer 2, d_inner 4·32); the width
// is the caller's.
const (
	syntheticLayers = 2
	syntheticDInner = 128
	// syntheticEmbedDropout is the configs' (safari's lm_simple) dropout on the embeddings
	// of every model; it raised H3's associative recall from 95.6% to 97.4% (seed 2, 40
	// epochs, d_model 64). Residual branches get no dropout, as there.
	syntheticEmbedDropout = 0.1
)

// SyntheticConfig returns the paper's synthetic-task model of a family (one of
// SyntheticFamilies) for a vocabulary and sequence length: 2 layers, d_model dModel, MLP
// width 128, embedding dropout 0.1, bilinear discretisation; the SSM models have no
// position embeddings (their convolutions know positions), attention has one head,
// learned position embeddings and attnDropout on its probabilities.
func SyntheticConfig(family string, dModel, vocab, seqLen int, attnDropout float64) (Config, error) {
	if !slices.Contains(SyntheticFamilies(), family) {
		return Config{}, fmt.Errorf("unknown model %q (%s)", family, strings.Join(SyntheticFamilies(), ", "))
	}
	cfg := DefaultConfig()
	cfg.NLayer, cfg.DModel, cfg.DInner, cfg.VocabSize = syntheticLayers, dModel, syntheticDInner, vocab
	cfg.EmbedDropout, cfg.ResidDropout = syntheticEmbedDropout, 0
	// safari's SSKernelDiag discretises bilinearly unless told otherwise, and the
	// synthetic configs do not tell it.
	cfg.SSMDiscretization = "bilinear"
	if err := cfg.SetFamily(family, seqLen); err != nil {
		return Config{}, err
	}
	if family == FamilyAttention {
		cfg.AttnNHeads, cfg.AttnDropout = 1, attnDropout
	}
	return cfg, cfg.Validate()
}
