package model

import (
	"bufio"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"

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

// Save writes dir/config.json and dir/model.safetensors (F32, official parameter names).
// A tied head is not written: it is the word embedding. Save writes plainly, without
// temporary files or syncs: the caller that needs the folder to appear whole writes it
// through train.WriteDirAtomic, as a run's checkpoints and hungry's Model.Save do.
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
	if err := writeWeights(filepath.Join(dir, weightsFile), tensors); err != nil {
		return fmt.Errorf("model: %w", err)
	}
	cfg, err := m.Config.Marshal()
	if err != nil {
		return fmt.Errorf("model: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, configFile), cfg, 0o644); err != nil {
		return fmt.Errorf("model: %w", err)
	}
	return nil
}

func writeWeights(path string, tensors map[string]safetensors.Tensor) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	if err := safetensors.Write(w, tensors, map[string]string{"format": "pt"}); err != nil {
		return errors.Join(err, f.Close())
	}
	return errors.Join(w.Flush(), f.Close())
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
	f, err := safetensors.OpenFile(filepath.Join(dir, weightsFile))
	if err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	defer f.Close()
	// Building allocates what the config says; the header's shapes are backed by the
	// file's bytes. Comparing the two first bounds the allocation by the file's size.
	if err := CheckHeader(cfg, f); err != nil {
		return nil, err
	}
	m, err := build(cfg, dev, nil)
	if err != nil {
		return nil, err
	}
	if err := m.LoadTensors(f); err != nil {
		return nil, err
	}
	return m, nil
}

// LoadTensors replaces every parameter with the tensor of the same name in f, with the
// strictness Load describes. Files that use the names of the first H3 checkpoints
// (s4seq.encoder.*, embedding.*, backbone.norm.*, and LayerNorms numbered from ln_0 in the
// post-norm order) are read through the mapping the official load_state_dict applies.
func (m *LM) LoadTensors(f *safetensors.File) error {
	source := legacyNames(f.Names(), len(m.Blocks))
	if source.clash[0] != "" {
		return fmt.Errorf("model: checkpoint tensors %s and %s both hold %s", source.clash[0], source.clash[1], source.ours(source.clash[1]))
	}
	want := make(map[string]bool)
	for _, p := range m.Params() {
		want[p.Name] = true
	}
	var unexpected []string
	for _, file := range f.Names() {
		name := source.ours(file)
		if !want[name] && !(name == lmHeadKey && m.LMHead == nil) {
			unexpected = append(unexpected, file)
		}
	}
	if len(unexpected) > 0 {
		return fmt.Errorf("model: checkpoint has %d unexpected tensors: %s", len(unexpected), listNames(unexpected))
	}
	var missing []string
	for _, p := range m.Params() {
		if _, ok := f.Info(source.file(p.Name)); !ok {
			missing = append(missing, p.Name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("model: checkpoint lacks %d tensors: %s", len(missing), listNames(missing))
	}
	for _, p := range m.Params() {
		if p.Value.IsHost() {
			// Straight into the tensor build made: the peak stays at the weights plus
			// one tensor's bytes, where a float32 copy beside a new tensor made it 2×.
			if err := readParamInto(f, source.file(p.Name), p.Shape(), p.Value.Data()); err != nil {
				return err
			}
			if err := checkFinite(source.file(p.Name), p.Value.Data()); err != nil {
				return err
			}
			continue
		}
		data, err := readParam(f, source.file(p.Name), p.Shape())
		if err != nil {
			return err
		}
		if err := checkFinite(source.file(p.Name), data); err != nil {
			return err
		}
		p.Value = m.Device.FromHost(data, p.Shape()...)
	}
	if _, ok := f.Info(source.file(lmHeadKey)); ok && m.LMHead == nil {
		head, err := readParam(f, source.file(lmHeadKey), m.WordEmb.Weight.Shape())
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

// CheckHeader compares a config with a weights file's header before anything is built:
// the sizes a config names (vocab_size, d_model, max_position_embeddings, n_layer,
// d_inner, d_state) against the shapes of the tensors that carry them, then the number
// of parameters the config describes against the number of elements the file holds. A
// config that claims more than twice what its file holds is refused without allocating
// it; smaller differences (a missing or misshapen tensor) are left to LoadTensors, whose
// errors name the tensor, since building such a model costs at most twice the file.
func CheckHeader(cfg Config, f *safetensors.File) error {
	cfg = cfg.WithDefaults()
	source := legacyNames(f.Names(), cfg.NLayer)
	shape := func(name string) ([]int, bool) {
		info, ok := f.Info(source.file(name))
		return info.Shape, ok
	}
	mismatch := func(name string, got []int, what string) error {
		return fmt.Errorf("model: config.json does not match %s: tensor %s has shape %v, but the config's %s", weightsFile, source.file(name), got, what)
	}
	d := cfg.DModel
	if got, ok := shape("backbone.embeddings.word_embeddings.weight"); ok && !tensor.SameShape(got, []int{cfg.VocabSize, d}) {
		return mismatch("backbone.embeddings.word_embeddings.weight", got, fmt.Sprintf("vocab_size %d and d_model %d want [%d %d]", cfg.VocabSize, d, cfg.VocabSize, d))
	}
	if got, ok := shape("backbone.embeddings.position_embeddings.weight"); ok && !tensor.SameShape(got, []int{cfg.MaxPositionEmbeddings, d}) {
		return mismatch("backbone.embeddings.position_embeddings.weight", got, fmt.Sprintf("max_position_embeddings %d and d_model %d want [%d %d]", cfg.MaxPositionEmbeddings, d, cfg.MaxPositionEmbeddings, d))
	}
	layersInFile := 0
	for _, file := range f.Names() {
		var l int
		if _, err := fmt.Sscanf(source.ours(file), "backbone.layers.%d.", &l); err == nil {
			layersInFile = max(layersInFile, l+1)
		}
	}
	if layersInFile != cfg.NLayer {
		return fmt.Errorf("model: config.json does not match %s: n_layer is %d but the file holds %d layers", weightsFile, cfg.NLayer, layersInFile)
	}
	for i := 0; i < cfg.NLayer; i++ {
		p := fmt.Sprintf("backbone.layers.%d.", i)
		if got, ok := shape(p + "mlp.fc1.weight"); ok && !tensor.SameShape(got, []int{cfg.DInner, d}) {
			return mismatch(p+"mlp.fc1.weight", got, fmt.Sprintf("d_inner %d and d_model %d want [%d %d]", cfg.DInner, d, cfg.DInner, d))
		}
		if got, ok := shape(p + "mixer.ssm_k_kernel.kernel.B"); ok && (len(got) != 2 || got[1] != cfg.DState) {
			return mismatch(p+"mixer.ssm_k_kernel.kernel.B", got, fmt.Sprintf("d_state %d wants [%d %d]", cfg.DState, d, cfg.DState))
		}
		if got, ok := shape(p + "mixer.kernel.kernel.inv_A_real"); ok && (len(got) != 2 || got[1] != cfg.DState/2) {
			return mismatch(p+"mixer.kernel.kernel.inv_A_real", got, fmt.Sprintf("d_state %d wants %d modes", cfg.DState, cfg.DState/2))
		}
	}
	held := 0
	for _, file := range f.Names() {
		if source.ours(file) == lmHeadKey && cfg.TieWordEmbeddings {
			continue // a tied head is the word embedding; LoadTensors checks it equals it
		}
		info, _ := f.Info(file)
		held += tensor.Numel(info.Shape)
	}
	if want := cfg.NumParams(); want > 2*held {
		return fmt.Errorf("model: config.json does not match %s: the config describes %d parameters, the file holds %d", weightsFile, want, held)
	}
	return nil
}

// nameMap pairs checkpoint names with ours; names it does not list are the same in both.
type nameMap struct {
	toOurs, toFile map[string]string
	// clash names two checkpoint tensors that map to the same parameter.
	clash [2]string
}

func (n nameMap) ours(file string) string {
	if o, ok := n.toOurs[file]; ok {
		return o
	}
	return file
}

func (n nameMap) file(ours string) string {
	if f, ok := n.toFile[ours]; ok {
		return f
	}
	if _, renamed := n.toOurs[ours]; renamed {
		// The file holds this name for another tensor; ours is stored elsewhere or not at all.
		return ""
	}
	return ours
}

// legacyNames reproduces the renaming in the official SSMLMHeadModel.load_state_dict:
// prefixes s4seq.encoder. → backbone., embedding. → backbone.embeddings.word_embeddings.,
// backbone.norm → backbone.ln_f; and, when backbone.ln_0 is present (checkpoints whose
// blocks were Mixer/MLP → Add → LN), every LayerNorm moves one slot forward: ln_0 becomes
// layer 0's norm1, layer l's norm1 its norm2, layer l's norm2 layer l+1's norm1, and the
// last layer's norm2 becomes ln_f.
func legacyNames(names []string, nLayer int) nameMap {
	n := nameMap{toOurs: map[string]string{}, toFile: map[string]string{}}
	renamed := make(map[string]string, len(names))
	legacy := false
	for _, file := range names {
		name := file
		for _, r := range [][2]string{
			{"s4seq.encoder.", "backbone."},
			{"embedding.", "backbone.embeddings.word_embeddings."},
			{"backbone.norm", "backbone.ln_f"},
		} {
			if strings.HasPrefix(name, r[0]) {
				name = r[1] + name[len(r[0]):]
			}
		}
		renamed[file] = name
		legacy = legacy || name != file
	}
	shift := false
	for _, name := range renamed {
		if strings.HasPrefix(name, "backbone.ln_0.") {
			shift = true
		}
	}
	if !legacy && !shift {
		return n
	}
	for _, file := range names {
		name := renamed[file]
		if shift {
			name = shiftedNorm(name, nLayer)
		}
		if other, dup := n.toFile[name]; dup {
			n.clash = [2]string{other, file}
		}
		n.toOurs[file] = name
		n.toFile[name] = file
	}
	return n
}

// shiftedNorm maps a post-norm LayerNorm name to its pre-norm slot.
func shiftedNorm(name string, nLayer int) string {
	for _, suffix := range []string{".weight", ".bias"} {
		if name == "backbone.ln_0"+suffix {
			return "backbone.layers.0.norm1" + suffix
		}
		var l int
		var which string
		if _, err := fmt.Sscanf(name, "backbone.layers.%d.%s", &l, &which); err != nil {
			continue
		}
		switch which {
		case "norm1" + suffix:
			return fmt.Sprintf("backbone.layers.%d.norm2%s", l, suffix)
		case "norm2" + suffix:
			if l == nLayer-1 {
				return "backbone.ln_f" + suffix
			}
			return fmt.Sprintf("backbone.layers.%d.norm1%s", l+1, suffix)
		}
	}
	return name
}

func readParam(f *safetensors.File, name string, shape []int) ([]float32, error) {
	info, _ := f.Info(name)
	if _, err := readParamCheck(info, name, shape); err != nil {
		return nil, err
	}
	data, _, err := f.F32(name)
	if err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	return data, nil
}

// readParamCheck accepts floating-point tensors of the parameter's shape.
func readParamCheck(info safetensors.TensorInfo, name string, shape []int) (bool, error) {
	switch info.DType {
	case safetensors.F32, safetensors.F16, safetensors.BF16, safetensors.F64:
	default:
		return false, fmt.Errorf("model: tensor %s has dtype %s, want a floating-point type (F32)", name, info.DType)
	}
	if !tensor.SameShape(info.Shape, shape) {
		return false, fmt.Errorf("model: tensor %s has shape %v, want %v", name, info.Shape, shape)
	}
	return true, nil
}

// readParamInto is readParam converting into dst a slice at a time.
func readParamInto(f *safetensors.File, name string, shape []int, dst []float32) error {
	info, _ := f.Info(name)
	size := safetensors.DTypeSize(info.DType)
	if _, err := readParamCheck(info, name, shape); err != nil {
		return err
	}
	t, err := f.Tensor(name)
	if err != nil {
		return fmt.Errorf("model: %w", err)
	}
	const chunk = 1 << 16
	for i := 0; i < len(dst); i += chunk {
		n := min(chunk, len(dst)-i)
		part := safetensors.Tensor{DType: t.DType, Shape: []int{n}, Data: t.Data[i*size : (i+n)*size]}
		v, err := part.F32()
		if err != nil {
			return fmt.Errorf("model: tensor %s: %w", name, err)
		}
		copy(dst[i:], v)
	}
	if len(t.Data) >= 4<<20 {
		// The file's bytes are garbage now. Left to the collector, such buffers pile up
		// to the size of the model (the heap's live part) before it runs: peak 2× the
		// weights, measured on H3-125M. The heap holds pointer-free slices, so a
		// collection costs milliseconds.
		t.Data = nil
		runtime.GC()
	}
	return nil
}

// checkFinite refuses NaN and infinite weights: they would turn every prediction into
// NaN, which surfaces far from its cause (a perplexity of NaN, a sample of one token).
func checkFinite(name string, data []float32) error {
	for i, v := range data {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return fmt.Errorf("model: tensor %s holds %g at element %d; the checkpoint is damaged", name, v, i)
		}
	}
	return nil
}

func listNames(names []string) string {
	sort.Strings(names)
	const show = 5
	if len(names) > show {
		return strings.Join(names[:show], ", ") + fmt.Sprintf(" and %d more", len(names)-show)
	}
	return strings.Join(names, ", ")
}
