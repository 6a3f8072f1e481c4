// Package model is the H3 language model (Fu, Dao et al., "Hungry Hungry Hippos"): its
// configuration, its forward pass, and checkpoints that use the official parameter names.
package model

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/hungry-ssm/hungry/tensor"
)

// Config describes a model; it is stored as config.json beside the weights.
type Config struct {
	ModelType string `json:"model_type"`
	DModel    int    `json:"d_model"`
	NLayer    int    `json:"n_layer"`
	// DInner is the MLP width (0 in a file means 4·d_model).
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
	if cfg.DInner == 0 {
		cfg.DInner = 4 * cfg.DModel
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// ReadConfig reads dir/config.json.
func ReadConfig(dir string) (Config, error) {
	data, err := os.ReadFile(filepath.Join(dir, configFile))
	if err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	return ParseConfig(data)
}

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
