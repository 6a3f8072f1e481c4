package model

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hungry-ssm/hungry/autograd"
	"github.com/hungry-ssm/hungry/safetensors"
	"github.com/hungry-ssm/hungry/tensor"
)

const (
	configFile  = "config.json"
	weightsFile = "model.safetensors"
	// lmHeadKey is the head's name in official state dicts, which store it even when it
	// is tied to the word embeddings.
	lmHeadKey = "lm_head.weight"
)

// Save writes dir/config.json and dir/model.safetensors (F32, official parameter names),
// each atomically: a temporary file in dir is synced and renamed over the target. A tied
// head is not written: it is the word embedding.
func Save(dir string, m *LM) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("model: %w", err)
	}
	tensors := make(map[string]safetensors.Tensor)
	for _, p := range m.Params() {
		t, err := safetensors.FromF32(p.Shape(), p.Value.Host())
		if err != nil {
			return fmt.Errorf("model: parameter %s: %w", p.Name, err)
		}
		tensors[p.Name] = t
	}
	// The weights go first: a folder whose config is new but whose weights are old would
	// fail to load loudly (shapes), while the reverse order could pair an old config with
	// new weights of the same shapes.
	if err := safetensors.WriteFileAtomic(filepath.Join(dir, weightsFile), tensors, map[string]string{"format": "pt"}); err != nil {
		return fmt.Errorf("model: %w", err)
	}
	cfg, err := m.Config.Marshal()
	if err != nil {
		return fmt.Errorf("model: %w", err)
	}
	if err := writeFileAtomic(filepath.Join(dir, configFile), cfg); err != nil {
		return fmt.Errorf("model: %w", err)
	}
	return nil
}

// Load reads a model saved by Save or converted from an official checkpoint. It is
// strict: every parameter must be present with its exact shape and a floating-point
// dtype (F32, or F16/BF16/F64, which convert), and no other tensor may be present, except
// lm_head.weight of a tied model, which must then equal the word embeddings exactly and is
// otherwise an error. Errors name the tensor.
func Load(dir string, dev tensor.Device) (*LM, error) {
	cfg, err := ReadConfig(dir)
	if err != nil {
		return nil, err
	}
	m, err := build(cfg, dev, nil)
	if err != nil {
		return nil, err
	}
	f, err := safetensors.OpenFile(filepath.Join(dir, weightsFile))
	if err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	defer f.Close()
	if err := m.LoadTensors(f); err != nil {
		return nil, err
	}
	return m, nil
}

// LoadTensors replaces every parameter with the tensor of the same name in f, with the
// strictness Load describes.
func (m *LM) LoadTensors(f *safetensors.File) error {
	want := make(map[string]*autograd.Var)
	for _, p := range m.Params() {
		want[p.Name] = p
	}
	var unexpected []string
	for _, name := range f.Names() {
		if _, ok := want[name]; !ok && !(name == lmHeadKey && m.LMHead == nil) {
			unexpected = append(unexpected, name)
		}
	}
	if len(unexpected) > 0 {
		return fmt.Errorf("model: checkpoint has %d unexpected tensors: %s", len(unexpected), listNames(unexpected))
	}
	var missing []string
	for _, p := range m.Params() {
		if _, ok := f.Info(p.Name); !ok {
			missing = append(missing, p.Name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("model: checkpoint lacks %d tensors: %s", len(missing), listNames(missing))
	}
	for _, p := range m.Params() {
		data, err := readParam(f, p.Name, p.Shape())
		if err != nil {
			return err
		}
		p.Value = m.Device.FromHost(data, p.Shape()...)
	}
	if _, ok := f.Info(lmHeadKey); ok && m.LMHead == nil {
		head, err := readParam(f, lmHeadKey, m.WordEmb.Weight.Shape())
		if err != nil {
			return err
		}
		emb := m.WordEmb.Weight.Value.Host()
		for i := range head {
			if head[i] != emb[i] {
				return fmt.Errorf("model: tensor %s differs from the word embeddings (element %d: %g vs %g) but tie_word_embeddings is true", lmHeadKey, i, head[i], emb[i])
			}
		}
	}
	return nil
}

func readParam(f *safetensors.File, name string, shape []int) ([]float32, error) {
	info, _ := f.Info(name)
	switch info.DType {
	case safetensors.F32, safetensors.F16, safetensors.BF16, safetensors.F64:
	default:
		return nil, fmt.Errorf("model: tensor %s has dtype %s, want a floating-point type (F32)", name, info.DType)
	}
	if !tensor.SameShape(info.Shape, shape) {
		return nil, fmt.Errorf("model: tensor %s has shape %v, want %v", name, info.Shape, shape)
	}
	data, _, err := f.F32(name)
	if err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	return data, nil
}

func listNames(names []string) string {
	sort.Strings(names)
	const show = 5
	if len(names) > show {
		return strings.Join(names[:show], ", ") + fmt.Sprintf(" and %d more", len(names)-show)
	}
	return strings.Join(names, ", ")
}

// writeFileAtomic replaces path with data so that it holds either the old or the new
// content after a crash: temporary file, fsync, rename, fsync of the directory.
func writeFileAtomic(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err = tmp.Write(data); err != nil {
		return err
	}
	if err = tmp.Chmod(0o644); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	return errors.Join(d.Sync(), d.Close())
}
