package torchfile

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const importDir = "../testdata/import"

func openStateDict(t testing.TB, name string) []Entry {
	t.Helper()
	f, err := Open(filepath.Join(importDir, name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	sd, err := StateDict(f.Root)
	if err != nil {
		t.Fatal(err)
	}
	return sd
}

func values(t testing.TB, sd []Entry) map[string][]float32 {
	t.Helper()
	out := map[string][]float32{}
	for _, e := range sd {
		v, err := e.Tensor.F32()
		if err != nil {
			t.Fatalf("%s: %v", e.Name, err)
		}
		out[e.Name] = v
	}
	return out
}

// The generated checkpoints hold the same parameters in different containers: views into
// shared storages (zip), the same views in the legacy format, and fresh float16 tensors.
// The float16 file shares no code path with the views, so agreement within half-precision
// rounding checks strides and offsets independently.
func TestGeneratedCheckpointsAgree(t *testing.T) {
	zipSD := openStateDict(t, "new_f32.pt")
	zipV := values(t, zipSD)
	legacyV := values(t, openStateDict(t, "legacy_f32.pt"))
	halfSD := openStateDict(t, "new_f16.pt")
	halfV := values(t, halfSD)
	if len(zipV) != 66 || len(legacyV) != 66 || len(halfV) != 65 {
		t.Fatalf("tensor counts %d %d %d, want 66 66 65 (the f16 file has no lm_head.weight)", len(zipV), len(legacyV), len(halfV))
	}
	for name, v := range zipV {
		if lv := legacyV[name]; len(lv) != len(v) {
			t.Fatalf("%s: legacy has %d elements, zip %d", name, len(lv), len(v))
		}
		for i := range v {
			if math.Float32bits(v[i]) != math.Float32bits(legacyV[name][i]) {
				t.Fatalf("%s[%d]: zip %g legacy %g", name, i, v[i], legacyV[name][i])
			}
		}
		h, ok := halfV[name]
		if name == "lm_head.weight" {
			h, ok = halfV["backbone.embeddings.word_embeddings.weight"], true
		}
		if !ok || len(h) != len(v) {
			t.Fatalf("%s: f16 has %d elements, f32 %d", name, len(h), len(v))
		}
		for i := range v {
			// Round to nearest half: relative error ≤ 2⁻¹¹ for normal values; the
			// absolute term covers half's subnormals (below 6.1e-5).
			if d := math.Abs(float64(v[i] - h[i])); d > math.Abs(float64(v[i]))/2048+3e-8 {
				t.Fatalf("%s[%d]: f32 %g f16 %g", name, i, v[i], h[i])
			}
		}
	}
	byName := map[string]*Tensor{}
	for _, e := range zipSD {
		byName[e.Name] = e.Tensor
	}
	fc1 := byName["backbone.layers.0.mlp.fc1.weight"]
	if fc1.contiguous() || !reflectShape(fc1.Shape, 64, 32) {
		t.Fatalf("fc1.weight: shape %v stride %v, want a transposed (64, 32) view", fc1.Shape, fc1.stride)
	}
	if !byName["lm_head.weight"].SharesStorage(byName["backbone.embeddings.word_embeddings.weight"]) ||
		!byName["backbone.layers.0.norm1.weight"].SharesStorage(byName["backbone.ln_f.bias"]) {
		t.Fatal("the generated file's views do not share storages")
	}
	for _, e := range halfSD {
		if e.Tensor.DType != "F16" {
			t.Fatalf("%s has dtype %s, want F16", e.Name, e.Tensor.DType)
		}
	}
}

func reflectShape(s []int, want ...int) bool {
	if len(s) != len(want) {
		return false
	}
	for i := range s {
		if s[i] != want[i] {
			return false
		}
	}
	return true
}

func TestWrappersAndOldNames(t *testing.T) {
	old := openStateDict(t, "old_f32.pt")
	if old[0].Name != "model.embedding.weight" || old[1].Name != "model.s4seq.encoder.ln_0.weight" {
		t.Fatalf("first names %s, %s", old[0].Name, old[1].Name)
	}
	half := openStateDict(t, "new_f16.pt")
	if half[0].Name != "backbone.embeddings.word_embeddings.weight" {
		t.Fatalf("the \"model\" wrapper was not removed: %s", half[0].Name)
	}
}

// pk writes pickles opcode by opcode.
type pk struct{ bytes.Buffer }

func (p *pk) op(b ...byte) *pk { p.Write(b); return p }
func (p *pk) str(s string) *pk {
	p.op('X')
	binary.Write(&p.Buffer, binary.LittleEndian, uint32(len(s)))
	p.WriteString(s)
	return p
}
func (p *pk) int(n int64) *pk {
	if n >= 0 && n < 1<<31 {
		p.op('J')
		binary.Write(&p.Buffer, binary.LittleEndian, int32(n))
		return p
	}
	p.op(0x8a, 8)
	binary.Write(&p.Buffer, binary.LittleEndian, n)
	return p
}
func (p *pk) global(mod, name string) *pk {
	p.op('c')
	p.WriteString(mod + "\n" + name + "\n")
	return p
}
func (p *pk) ints(ns ...int64) *pk {
	p.op('(')
	for _, n := range ns {
		p.int(n)
	}
	return p.op('t')
}
func (p *pk) orderedDict() *pk { return p.global("collections", "OrderedDict").op(')', 'R') }

// tensor appends _rebuild_tensor_v2 of a float storage reference.
func (p *pk) tensor(key string, numel, offset int64, size, stride []int64) *pk {
	p.global("torch._utils", "_rebuild_tensor_v2").op('(')
	p.op('(').str("storage").global("torch", "FloatStorage").str(key).str("cpu").int(numel).op('t', 'Q')
	p.int(offset).ints(size...).ints(stride...).op(0x89)
	p.orderedDict()
	return p.op('t', 'R')
}

// stateDict pickles {"w": tensor}.
func stateDict(numel, offset int64, size, stride []int64) []byte {
	p := &pk{}
	p.op(0x80, 2).orderedDict().op('(').str("w").tensor("0", numel, offset, size, stride).op('u', '.')
	return p.Bytes()
}

// zipFile packs data.pkl and storage 0 (of n float32 values 0, 1, 2, …) as torch does.
func zipFile(t testing.TB, pkl []byte, n int) []byte {
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	add := func(name string, data []byte) {
		f, err := w.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Store})
		if err != nil {
			t.Fatal(err)
		}
		f.Write(data)
	}
	add("archive/data.pkl", pkl)
	add("archive/byteorder", []byte("little"))
	st := make([]byte, 4*n)
	for i := 0; i < n; i++ {
		binary.LittleEndian.PutUint32(st[4*i:], math.Float32bits(float32(i)))
	}
	add("archive/data/0", st)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func readBytes(data []byte) ([]Entry, error) {
	f, err := Read(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, err
	}
	sd, err := StateDict(f.Root)
	if err != nil {
		return nil, err
	}
	for _, e := range sd {
		if _, err := e.Tensor.F32(); err != nil {
			return nil, err
		}
	}
	return sd, nil
}

func TestHandBuiltStridedView(t *testing.T) {
	// A (3, 2) view at offset 1 with strides (1, 4) of storage 0..11: element [i][j] is
	// 1 + i + 4j.
	sd, err := readBytes(zipFile(t, stateDict(12, 1, []int64{3, 2}, []int64{1, 4}), 12))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := sd[0].Tensor.F32()
	want := []float32{1, 5, 2, 6, 3, 7}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
}

func TestRejects(t *testing.T) {
	deepList := (&pk{}).op(0x80, 2)
	for i := 0; i < MaxDepth+5; i++ {
		deepList.op(']')
	}
	for i := 0; i < MaxDepth+4; i++ {
		deepList.op('a')
	}
	deepList.op('.')
	deepTuple := (&pk{}).op(0x80, 2)
	for i := 0; i < MaxDepth+5; i++ {
		deepTuple.op('(')
	}
	for i := 0; i < MaxDepth+5; i++ {
		deepTuple.op('t')
	}
	deepTuple.op('.')
	memo := (&pk{}).op(0x80, 4, 'N')
	for i := 0; i <= MaxMemo; i++ {
		memo.op(0x94)
	}
	memo.op('.')
	cases := []struct {
		name, want string
		pkl        []byte
		storage    int // elements in storage 0 of the zip
	}{
		{"os.system", "global os.system is not allowed", (&pk{}).op(0x80, 2).global("os", "system").str("ls").op(0x85, 'R', '.').Bytes(), 0},
		{"builtins.eval", "global builtins.eval is not allowed", (&pk{}).op(0x80, 2).global("builtins", "eval").op('.').Bytes(), 0},
		{"unknown module", "global evil.thing is not allowed", (&pk{}).op(0x80, 2).global("evil", "thing").op('.').Bytes(), 0},
		{"stack global", "global posix.system is not allowed", (&pk{}).op(0x80, 4).str("posix").str("system").op(0x93, '.').Bytes(), 0},
		{"reduce of a storage class", "REDUCE of torch.FloatStorage is not allowed", (&pk{}).op(0x80, 2).global("torch", "FloatStorage").op(')', 'R', '.').Bytes(), 0},
		{"reduce of a string", "REDUCE of a str", (&pk{}).op(0x80, 2).str("os.system").op(')', 'R', '.').Bytes(), 0},
		{"newobj", "opcode NEWOBJ", (&pk{}).op(0x80, 2).global("collections", "OrderedDict").op(')', 0x81, '.').Bytes(), 0},
		{"inst", "opcode INST", (&pk{}).op(0x80, 2, 'i').Bytes(), 0},
		{"build on a tensor", "BUILD on a tensor", (&pk{}).op(0x80, 2).tensor("0", 4, 0, []int64{4}, []int64{1}).op('}', 'b', '.').Bytes(), 4},
		{"deep list", "nested deeper than", deepList.Bytes(), 0},
		{"deep tuple", "nested deeper than", deepTuple.Bytes(), 0},
		{"memo size", "memo entries", memo.Bytes(), 0},
		{"memo read", "memo entry 7", (&pk{}).op(0x80, 2, 'h', 7, '.').Bytes(), 0},
		{"huge storage", "declares", stateDict(1<<62, 0, []int64{4}, []int64{1}), 4},
		{"huge size", "overflows", stateDict(4, 0, []int64{1 << 40, 1 << 40}, []int64{1, 1}), 4},
		{"storage shorter than declared", "holds 16 bytes but declares 5 elements", stateDict(5, 0, []int64{5}, []int64{1}), 4},
		{"tensor larger than storage", "needs element 4 of a storage of 4", stateDict(4, 0, []int64{5}, []int64{1}), 4},
		{"offset past the end", "needs element 9", stateDict(4, 9, []int64{1}, []int64{1}), 4},
		{"empty tensor past the end", "past the end of a storage", stateDict(4, 9, []int64{0}, []int64{1}), 4},
		{"stride past the end", "needs element 6", stateDict(4, 0, []int64{2, 2}, []int64{3, 3}), 4},
		{"broadcast view", "more elements than its storage", stateDict(4, 0, []int64{100}, []int64{0}), 4},
		{"string past the end", "runs past the end", []byte{0x80, 2, 'X', 0xff, 0xff, 0xff, 0x7f, 'a'}, 0},
		{"truncated", "no STOP", []byte{0x80, 2, 'N'}, 0},
		{"underflow", "stack underflow", []byte{0x80, 2, 'R'}, 0},
		{"protocol 0 text", "opcode INT", []byte("I1\n."), 0},
		{"not a dict", "not a dict of tensors", (&pk{}).op(0x80, 2, 'N', '.').Bytes(), 0},
		{"non-tensor value", "is a int, not a tensor", (&pk{}).op(0x80, 2, '}').str("w").int(3).op('s', '.').Bytes(), 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := readBytes(zipFile(t, c.pkl, c.storage))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an error containing %q", err, c.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error spans lines: %q", err)
			}
		})
	}
}

func TestRejectsContainers(t *testing.T) {
	good := zipFile(t, stateDict(4, 0, []int64{4}, []int64{1}), 4)
	if _, err := readBytes(good); err != nil {
		t.Fatal(err)
	}
	compressed := func() []byte {
		var buf bytes.Buffer
		w := zip.NewWriter(&buf)
		f, _ := w.CreateHeader(&zip.FileHeader{Name: "archive/data.pkl", Method: zip.Store})
		f.Write(stateDict(4, 0, []int64{4}, []int64{1}))
		f, _ = w.CreateHeader(&zip.FileHeader{Name: "archive/data/0", Method: zip.Deflate})
		f.Write(make([]byte, 16))
		w.Close()
		return buf.Bytes()
	}()
	for _, c := range []struct {
		name, want string
		data       []byte
	}{
		{"empty", "too short", nil},
		{"text", "neither the zip format nor the legacy format", []byte("hello, world\n")},
		{"truncated zip", "zip", good[:len(good)-30]},
		{"missing storage", "has no entry", zipFile(t, (&pk{}).op(0x80, 2).orderedDict().op('(').str("w").tensor("7", 4, 0, []int64{4}, []int64{1}).op('u', '.').Bytes(), 4)},
		{"compressed storage", "compressed", compressed},
		{"bare pickle", "magic number", stateDict(4, 0, []int64{4}, []int64{1})},
		{"legacy truncated", "legacy format", append([]byte{0x80, 0x02, 0x8a, 0x0a}, legacyMagic...)},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := readBytes(c.data)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an error containing %q", err, c.want)
			}
		})
	}
	// Every truncation of a real legacy file fails cleanly.
	legacy, err := os.ReadFile(filepath.Join(importDir, "legacy_f32.pt"))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{10, 100, 1000, len(legacy) / 2, len(legacy) - 1} {
		if _, err := readBytes(legacy[:n]); err == nil {
			t.Fatalf("legacy file cut to %d bytes was accepted", n)
		}
	}
}

// The tiny files cover bfloat16 and float16 (exact here: multiples of 1/8), wrappers and
// transposed and offset views in both containers.
func TestSeedFiles(t *testing.T) {
	want := map[string][]float32{
		"a": {3. / 8, 4. / 8, 5. / 8, 6. / 8, 7. / 8, 1},
		"b": {3. / 8, 6. / 8, 4. / 8, 7. / 8, 5. / 8, 1},
		"c": {21. / 8, 22. / 8, 23. / 8, 24. / 8},
	}
	for _, name := range []string{"seed_zip.pt", "seed_legacy.pt", "seed_f16.pt", "seed_bf16.pt"} {
		got := values(t, openStateDict(t, name))
		if len(got) != 4 || len(got["d"]) != 24 {
			t.Fatalf("%s: %d tensors, d has %d elements", name, len(got), len(got["d"]))
		}
		for k, w := range want {
			for i := range w {
				if got[k][i] != w[i] {
					t.Fatalf("%s: %s = %v, want %v", name, k, got[k], w)
				}
			}
		}
	}
}

// A few bytes of pickle per entry must not make a reader allocate a storage's size per
// entry.
func TestRejectsAmplification(t *testing.T) {
	const n = 1 << 16 // elements in the one storage
	p := (&pk{}).op(0x80, 2, '}', '(')
	for i := 0; i < 200; i++ {
		p.str(string(rune('a'+i%26))+string(rune('a'+i/26))).tensor("0", n, 0, []int64{n}, []int64{1})
	}
	p.op('u', '.')
	_, err := readBytes(zipFile(t, p.Bytes(), n))
	if err == nil || !strings.Contains(err.Error(), "more than four times") {
		t.Fatalf("got %v", err)
	}
}
