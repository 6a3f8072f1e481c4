package model

import (
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/hungry-ssm/hungry/safetensors"
	"github.com/hungry-ssm/hungry/tensor"
)

// TestConfigSizesAreBounded: every size a config names is what building allocates from;
// an absurd one is refused in one line by Validate.
func TestConfigSizesAreBounded(t *testing.T) {
	for _, tc := range []struct {
		edit func(*Config)
		want string
	}{
		{func(c *Config) { c.DModel = 1 << 30 }, "d_model"},
		{func(c *Config) { c.VocabSize = 1 << 40 }, "vocab_size"},
		{func(c *Config) { c.NLayer = 1 << 20 }, "n_layer"},
		{func(c *Config) { c.DState = 1 << 20 }, "d_state"},
		{func(c *Config) { c.DInner = 1 << 40 }, "d_inner"},
		{func(c *Config) { c.MaxPositionEmbeddings = 1 << 40 }, "max_position_embeddings"},
		{func(c *Config) { c.AttnNHeads = -1 }, "attn_n_heads"},
	} {
		c := smallConfig()
		tc.edit(&c)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: got %v, want one line naming it", tc.want, err)
		}
	}
	if err := smallConfig().Validate(); err != nil {
		t.Fatal(err)
	}
}

// TestReadConfigRefusesSpecialFiles: a config.json that links to /dev/zero was read
// until memory ran out. A link to a regular file is fine.
func TestReadConfigRefusesSpecialFiles(t *testing.T) {
	if _, err := os.Stat("/dev/zero"); err != nil {
		t.Skip("no /dev/zero")
	}
	dir := t.TempDir()
	if err := os.Symlink("/dev/zero", filepath.Join(dir, configFile)); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadConfig(dir); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("config linked to /dev/zero: %v", err)
	}
	big := t.TempDir()
	if err := os.WriteFile(filepath.Join(big, configFile), make([]byte, maxConfigBytes+1), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadConfig(big); err == nil || !strings.Contains(err.Error(), "at most") {
		t.Errorf("a 1 MiB config: %v", err)
	}
	good, linked := t.TempDir(), t.TempDir()
	b, _ := smallConfig().Marshal()
	if err := os.WriteFile(filepath.Join(good, "c.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(good, "c.json"), filepath.Join(linked, configFile)); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadConfig(linked); err != nil {
		t.Errorf("a config linked to a regular file: %v", err)
	}
}

// TestLoadChecksTheConfigAgainstTheHeaderFirst: a config whose sizes the file does not
// hold is refused before the model is built. The oversized cases would each allocate
// gigabytes if built; the test measures that Load allocated under a megabyte.
func TestLoadChecksTheConfigAgainstTheHeaderFirst(t *testing.T) {
	dev := tensor.DefaultCPU()
	m, err := New(smallConfig(), dev, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		edit func(*Config)
		want string
	}{
		{func(c *Config) { c.VocabSize = MaxVocabSize }, "vocab_size 4194304"},
		{func(c *Config) { c.DModel = 8192 }, "d_model 8192"},
		{func(c *Config) { c.MaxPositionEmbeddings = MaxPositions }, "max_position_embeddings 16777216"},
		{func(c *Config) { c.NLayer = MaxNLayer }, "n_layer is 1024"},
		{func(c *Config) { c.DInner = MaxDInner }, "d_inner 262144"},
		{func(c *Config) { c.DState = MaxDState }, "d_state 4096"},
	} {
		dir := t.TempDir()
		if err := Save(dir, m); err != nil {
			t.Fatal(err)
		}
		cfg := m.Config
		tc.edit(&cfg)
		b, _ := cfg.Marshal()
		if err := os.WriteFile(filepath.Join(dir, configFile), b, 0o644); err != nil {
			t.Fatal(err)
		}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, err := Load(dir, dev)
		runtime.ReadMemStats(&after)
		if err == nil || !strings.Contains(err.Error(), "does not match") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v", tc.want, err)
		}
		if got := after.TotalAlloc - before.TotalAlloc; got > 1<<20 {
			t.Errorf("%s: Load allocated %d bytes before refusing", tc.want, got)
		}
	}
}

// TestLoadRefusesNonFiniteWeights: NaN or ±Inf in a weight is an error naming the tensor.
func TestLoadRefusesNonFiniteWeights(t *testing.T) {
	dev := tensor.DefaultCPU()
	m, _ := New(smallConfig(), dev, 1)
	const name = "backbone.layers.2.mlp.fc1.weight"
	for _, bad := range []float32{float32(math.NaN()), float32(math.Inf(-1))} {
		dir := rewrite(t, m, func(ts map[string]safetensors.Tensor) {
			w, _ := ts[name].F32()
			w[5] = bad
			x, _ := safetensors.FromF32(ts[name].Shape, w)
			ts[name] = x
		})
		if _, err := Load(dir, dev); err == nil || !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), "element 5") {
			t.Errorf("weight %g: got %v, want an error naming %s", bad, err, name)
		}
	}
}
