package model

import (
	"fmt"
	"strings"
	"testing"

	"github.com/hungry-ssm/hungry/tensor"
)

func TestParseConfigDefaultsAndRoundTrip(t *testing.T) {
	cfg, err := ParseConfig([]byte(`{"d_model": 16, "n_layer": 2, "vocab_size": 300}`))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DInner != 64 || cfg.DState != 64 || cfg.HeadDim != 1 || cfg.SSMDiscretization != "zoh" ||
		!cfg.TieWordEmbeddings || cfg.LayerNormEpsilon != 1e-5 || cfg.MaxPositionEmbeddings != 0 {
		t.Errorf("defaults not applied: %+v", cfg)
	}
	data, err := cfg.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	again, err := ParseConfig(data)
	if err != nil {
		t.Fatalf("%v\n%s", err, data)
	}
	if string(mustMarshal(t, again)) != string(data) {
		t.Errorf("config does not round-trip:\n%s\n%s", data, mustMarshal(t, again))
	}
}

func mustMarshal(t *testing.T, c Config) []byte {
	b, err := c.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseConfigRejects(t *testing.T) {
	base := `"d_model": 16, "n_layer": 2, "vocab_size": 300`
	for _, tc := range []struct{ json, want string }{
		{`{` + base + `, "dropout": 0.1}`, "unknown field"},
		{`{"d_model": 0, "n_layer": 2, "vocab_size": 3}`, "d_model must be positive"},
		{`{"d_model": 16, "n_layer": 0, "vocab_size": 3}`, "n_layer must be positive"},
		{`{"d_model": 16, "n_layer": 2, "vocab_size": -1}`, "vocab_size must be positive"},
		{`{` + base + `, "head_dim": 3}`, "not divisible by head_dim"},
		{`{` + base + `, "attn_layer_idx": [2], "attn_n_heads": 2}`, "attn_layer_idx 2 is outside [0, 2)"},
		{`{` + base + `, "attn_layer_idx": [1]}`, "attn_n_heads must be positive"},
		{`{` + base + `, "attn_layer_idx": [1], "attn_n_heads": 5}`, "not divisible by attn_n_heads"},
		{`{` + base + `, "attn_layer_idx": [1, 1], "attn_n_heads": 4}`, "twice"},
		{`{` + base + `, "ssm_discretization": "euler"}`, "ssm_discretization"},
		{`{` + base + `, "tokenizer": "sentencepiece"}`, "tokenizer"},
		{`{` + base + `, "model_type": "gpt2"}`, "model_type"},
		{`{` + base + `, "d_state": 63}`, "d_state"},
		{`{` + base + `, "layer_norm_epsilon": 0}`, "layer_norm_epsilon"},
		{`{` + base + `, "max_position_embeddings": -1}`, "max_position_embeddings"},
		{`{` + base + `, "embed_dropout": 1}`, "embed_dropout"},
		{`{` + base + `, "attn_dropout": -0.1}`, "attn_dropout"},
		{`{` + base + `} {}`, "trailing"},
	} {
		_, err := ParseConfig([]byte(tc.json))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error containing %q", tc.json, err, tc.want)
			continue
		}
		if strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: error spans several lines: %q", tc.json, err)
		}
	}
}

// TestNumParamsCountsTheBuiltModel compares the closed-form count with the parameters of
// built models of every family and the options that add parameters.
func TestNumParamsCountsTheBuiltModel(t *testing.T) {
	base := DefaultConfig()
	base.DModel, base.NLayer, base.VocabSize, base.DState, base.AttnNHeads = 12, 3, 37, 6, 3
	var cases []Config
	for _, fam := range []string{FamilyH3, FamilyHybrid, FamilyTransformer, FamilyAttention, FamilyS4D, FamilyShift} {
		c := base
		if err := c.SetFamily(fam, 19); err != nil {
			t.Fatal(err)
		}
		cases = append(cases, c)
	}
	multi := base
	multi.HeadDim = 4
	untied := base
	untied.TieWordEmbeddings, untied.DInner = false, 29
	one := base
	one.NLayer = 1
	if err := one.SetFamily(FamilyHybrid, 0); err != nil {
		t.Fatal(err)
	}
	cases = append(cases, multi, untied, one)
	for _, c := range cases {
		m, err := New(c, tensor.DefaultCPU(), 1)
		if err != nil {
			t.Fatal(err)
		}
		built := 0
		for _, p := range m.Params() {
			built += p.Value.Numel()
		}
		if got := c.NumParams(); got != built {
			t.Errorf("%+v: NumParams %d, the built model has %d", c, got, built)
		}
	}
}

func TestSetFamily(t *testing.T) {
	for _, tc := range []struct {
		family    string
		attn      []int
		mixer     string
		positions int
	}{
		{FamilyH3, []int{}, "", 0},
		{FamilyHybrid, []int{1}, "", 0},
		{FamilyTransformer, []int{0, 1, 2}, "", 50},
		{FamilyAttention, []int{0, 1, 2}, "", 50},
		{FamilyS4D, []int{}, MixerS4D, 0},
		{FamilyShift, []int{}, MixerShift, 0},
	} {
		c := DefaultConfig()
		c.NLayer, c.Mixer, c.AttnLayerIdx, c.MaxPositionEmbeddings = 3, MixerShift, []int{2}, 7
		if err := c.SetFamily(tc.family, 50); err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(c.AttnLayerIdx) != fmt.Sprint(tc.attn) || c.Mixer != tc.mixer || c.MaxPositionEmbeddings != tc.positions {
			t.Errorf("%s: attention %v, mixer %q, positions %d; want %v, %q, %d", tc.family,
				c.AttnLayerIdx, c.Mixer, c.MaxPositionEmbeddings, tc.attn, tc.mixer, tc.positions)
		}
	}
	c := DefaultConfig()
	if err := c.SetFamily("rnn", 8); err == nil || !strings.Contains(err.Error(), "unknown model family") {
		t.Errorf("unknown family: %v", err)
	}
}
