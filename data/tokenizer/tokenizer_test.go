package tokenizer

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// gpt2Dir decompresses the shipped GPT-2 files into a temporary folder, so
// that tests load them exactly as a user loads the plain files.
func gpt2Dir(tb testing.TB) string {
	tb.Helper()
	dir := tb.TempDir()
	for _, name := range []string{GPT2VocabFile, GPT2MergesFile} {
		f, err := os.Open(filepath.Join("testdata", "gpt2", name+".gz"))
		if err != nil {
			tb.Fatal(err)
		}
		zr, err := gzip.NewReader(f)
		if err != nil {
			tb.Fatal(err)
		}
		raw, err := io.ReadAll(zr)
		f.Close()
		if err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), raw, 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	return dir
}

func loadGPT2(tb testing.TB) *BPE {
	tb.Helper()
	tok, err := LoadTokenizer(gpt2Dir(tb), KindGPT2)
	if err != nil {
		tb.Fatal(err)
	}
	return tok.(*BPE)
}

func trainSample(tb testing.TB) []byte {
	tb.Helper()
	text, err := os.ReadFile(filepath.Join("testdata", "train_sample.txt"))
	if err != nil {
		tb.Fatal(err)
	}
	return text
}

func TestGPT2KnownEncodings(t *testing.T) {
	tok := loadGPT2(t)
	if tok.VocabSize() != 50257 || tok.NumMerges() != 50000 || tok.Name() != KindGPT2 {
		t.Fatalf("vocab %d merges %d name %q, want 50257, 50000, gpt2", tok.VocabSize(), tok.NumMerges(), tok.Name())
	}
	for _, c := range []struct {
		text string
		ids  []int32
	}{
		{"Hello world", []int32{15496, 995}},
		{" Hello", []int32{18435}},
		{"<|endoftext|>", []int32{50256}},
	} {
		if got := tok.Encode([]byte(c.text)); !slices.Equal(got, c.ids) {
			t.Errorf("Encode(%q) = %v, want %v", c.text, got, c.ids)
		}
	}
	if id, ok := tok.SpecialID("<|endoftext|>"); !ok || id != 50256 {
		t.Errorf("SpecialID(<|endoftext|>) = %d, %v", id, ok)
	}
}

// TestGPT2Golden compares with encodings from the Python reference in
// testdata/gen/gen_golden.py (GPT-2's published algorithm and pattern).
func TestGPT2Golden(t *testing.T) {
	tok := loadGPT2(t)
	raw, err := os.ReadFile(filepath.Join("testdata", "gpt2_golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cases []struct {
		Text string
		IDs  []int32
	}
	if err := json.Unmarshal(raw, &cases); err != nil {
		t.Fatal(err)
	}
	if len(cases) < 20 {
		t.Fatalf("only %d golden cases", len(cases))
	}
	for _, c := range cases {
		got := tok.Encode([]byte(c.Text))
		if !slices.Equal(got, c.IDs) {
			t.Errorf("Encode(%q)\n got %v\nwant %v", c.Text, got, c.IDs)
		}
		back, err := tok.Decode(got)
		if err != nil || string(back) != c.Text {
			t.Errorf("Decode(Encode(%q)) = %q, %v", c.Text, back, err)
		}
	}
}

func TestGPT2SaveLoad(t *testing.T) {
	tok := loadGPT2(t)
	dir := t.TempDir()
	if err := tok.Save(dir); err != nil {
		t.Fatal(err)
	}
	back, err := LoadTokenizer(dir, KindGPT2)
	if err != nil {
		t.Fatal(err)
	}
	b := back.(*BPE)
	if !reflect.DeepEqual(b.tokens, tok.tokens) || !reflect.DeepEqual(b.merges, tok.merges) {
		t.Fatal("saved and reloaded GPT-2 tables differ")
	}
	orig, err := os.ReadFile(filepath.Join(gpt2Dir(t), GPT2MergesFile))
	if err != nil {
		t.Fatal(err)
	}
	saved, err := os.ReadFile(filepath.Join(dir, GPT2MergesFile))
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(string(orig)) != strings.TrimSpace(string(saved)) {
		t.Error("saved vocab.bpe differs from the original")
	}
}

func TestSplitPieces(t *testing.T) {
	for _, c := range []struct {
		text string
		want []string
	}{
		{"Hello world", []string{"Hello", " world"}},
		{"a  b", []string{"a", " ", " b"}},
		{"\n\nHello", []string{"\n", "\n", "Hello"}},
		{"   ", []string{"   "}},
		{"x's 'll", []string{"x", "'s", " '", "ll"}},
		{"it'sn't", []string{"it", "'s", "n", "'t"}},
		{"a1b 22 ?!", []string{"a", "1", "b", " 22", " ?!"}},
		{"end \t", []string{"end", " \t"}},
		{"\tx", []string{"\t", "x"}},
		{"\xff\xfeab", []string{"\xff\xfe", "ab"}},
		{"é é", []string{"é", " é"}},
	} {
		var got []string
		splitPieces([]byte(c.text), func(p []byte) { got = append(got, string(p)) })
		if !slices.Equal(got, c.want) {
			t.Errorf("split(%q) = %q, want %q", c.text, got, c.want)
		}
	}
}

// TestTrainBPETiny checks merges worked out by hand.
func TestTrainBPETiny(t *testing.T) {
	// Words "ab", " ab"×2, " abc": (a,b) occurs 4 times, then (" ", ab) 3
	// times; what is left occurs once, so training stops at 258 tokens.
	tok, err := TrainBPE([]byte("ab ab ab abc"), 1000)
	if err != nil {
		t.Fatal(err)
	}
	want := []merge{{'a', 'b', 256}, {' ', 256, 257}}
	if !reflect.DeepEqual(tok.merges, want) || tok.VocabSize() != 258 {
		t.Fatalf("merges %v (vocab %d), want %v", tok.merges, tok.VocabSize(), want)
	}
	if got := tok.Encode([]byte(" abc")); !slices.Equal(got, []int32{257, 'c'}) {
		t.Errorf("Encode(\" abc\") = %v", got)
	}
	if got := tok.Encode([]byte("abab")); !slices.Equal(got, []int32{256, 256}) {
		t.Errorf("Encode(\"abab\") = %v", got)
	}

	// Words "xy", " xy", " yx"×2: (x,y), (" ",y) and (y,x) tie at 2 and the
	// smallest left id (" ") wins; then (x,y) and (" y",x) tie at 2 and x < " y".
	tok, err = TrainBPE([]byte("xy xy yx yx"), 1000)
	if err != nil {
		t.Fatal(err)
	}
	want = []merge{{' ', 'y', 256}, {'x', 'y', 257}, {256, 'x', 258}}
	if !reflect.DeepEqual(tok.merges, want) {
		t.Fatalf("merges %v, want %v", tok.merges, want)
	}

	// The vocabulary size caps the number of merges.
	tok, err = TrainBPE([]byte("xy xy yx yx"), 257)
	if err != nil {
		t.Fatal(err)
	}
	if tok.VocabSize() != 257 {
		t.Errorf("vocab %d, want 257", tok.VocabSize())
	}
}

// TestTrainBPEGolden compares with a naive Python trainer that recounts every
// pair after each merge (testdata/gen/gen_golden.py).
func TestTrainBPEGolden(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "bpe_golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	var gold struct {
		VocabSize int `json:"vocab_size"`
		Merges    [][2]int32
		Encodings []struct {
			Text string
			IDs  []int32
		}
	}
	if err := json.Unmarshal(raw, &gold); err != nil {
		t.Fatal(err)
	}
	tok, err := TrainBPE(trainSample(t), gold.VocabSize)
	if err != nil {
		t.Fatal(err)
	}
	if len(tok.merges) != len(gold.Merges) {
		t.Fatalf("%d merges, want %d", len(tok.merges), len(gold.Merges))
	}
	for i, m := range tok.merges {
		if m.left != gold.Merges[i][0] || m.right != gold.Merges[i][1] || m.result != int32(256+i) {
			t.Fatalf("merge %d = %v, want %v -> %d", i, m, gold.Merges[i], 256+i)
		}
	}
	for _, c := range gold.Encodings {
		if got := tok.Encode([]byte(c.Text)); !slices.Equal(got, c.IDs) {
			t.Errorf("Encode(%q)\n got %v\nwant %v", c.Text, got, c.IDs)
		}
	}
}

func TestTrainBPEDeterministicSaveLoad(t *testing.T) {
	text := trainSample(t)
	a, err := TrainBPE(text, 700)
	if err != nil {
		t.Fatal(err)
	}
	b, err := TrainBPE(text, 700)
	if err != nil {
		t.Fatal(err)
	}
	dirA, dirB := t.TempDir(), t.TempDir()
	if err := a.Save(dirA); err != nil {
		t.Fatal(err)
	}
	if err := b.Save(dirB); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{BPEVocabFile, BPEMergesFile} {
		fa, _ := os.ReadFile(filepath.Join(dirA, name))
		fb, _ := os.ReadFile(filepath.Join(dirB, name))
		if len(fa) == 0 || !bytes.Equal(fa, fb) {
			t.Fatalf("%s differs between two trainings (or is empty)", name)
		}
	}
	loaded, err := LoadTokenizer(dirA, KindBPE)
	if err != nil {
		t.Fatal(err)
	}
	if loaded.Name() != KindBPE || loaded.VocabSize() != a.VocabSize() {
		t.Fatalf("loaded %s/%d, want bpe/%d", loaded.Name(), loaded.VocabSize(), a.VocabSize())
	}
	if got, want := loaded.Encode(text), a.Encode(text); !slices.Equal(got, want) {
		t.Fatal("reloaded tokenizer encodes differently")
	}
	if n, m := len(a.Encode(text)), len(text); n*2 > m {
		t.Errorf("%d tokens for %d bytes: a 700-token BPE should compress English more than 2x", n, m)
	}
}

func awkwardInputs() [][]byte {
	return [][]byte{
		nil,
		{},
		{0},
		{0, 0, 0, 'a', 0},
		[]byte("\xff\xfe\xfd"),
		[]byte("valid \xc3\x28 invalid \xe2\x82 cut \xf0\x9f\x98"),
		[]byte(strings.Repeat(" ", 100000)),
		[]byte(strings.Repeat(" ", 5000) + "x" + strings.Repeat("\n", 5000) + "y" + strings.Repeat("\t ", 3000)),
		[]byte(strings.Repeat("a", 20000)),
		[]byte("<|endoftext|><|endoftext|>x<|endof"),
		[]byte("'s'''t 're've'm'll'd"),
		[]byte("日本語 😀👍🏽 \u00a0\u2028\u3000 Ⅻ ٣"),
		[]byte("\r\n\r\n  \r\n"),
	}
}

func allTokenizers(tb testing.TB) []Tokenizer {
	bpe, err := TrainBPE(trainSample(tb), 512)
	if err != nil {
		tb.Fatal(err)
	}
	return []Tokenizer{Byte{}, bpe, loadGPT2(tb)}
}

func TestRoundTripAwkward(t *testing.T) {
	for _, tok := range allTokenizers(t) {
		for _, in := range awkwardInputs() {
			ids := tok.Encode(in)
			for _, id := range ids {
				if id < 0 || int(id) >= tok.VocabSize() {
					t.Fatalf("%s: id %d out of range", tok.Name(), id)
				}
			}
			out, err := tok.Decode(ids)
			if err != nil {
				t.Fatalf("%s: %v", tok.Name(), err)
			}
			if !bytes.Equal(out, in) {
				t.Errorf("%s: round trip of %d bytes %.40q gave %.40q", tok.Name(), len(in), in, out)
			}
		}
	}
}

func FuzzRoundTrip(f *testing.F) {
	for _, in := range awkwardInputs() {
		if len(in) < 200 {
			f.Add(in)
		}
	}
	f.Add([]byte("It is a truth universally acknowledged"))
	toks := allTokenizers(f)
	f.Fuzz(func(t *testing.T, in []byte) {
		for _, tok := range toks {
			out, err := tok.Decode(tok.Encode(in))
			if err != nil {
				t.Fatalf("%s: %v", tok.Name(), err)
			}
			if !bytes.Equal(out, in) {
				t.Fatalf("%s: round trip of %q gave %q", tok.Name(), in, out)
			}
		}
	})
}

func TestByteTokenizer(t *testing.T) {
	var tok Tokenizer = Byte{}
	if got := tok.Encode([]byte{0, 'A', 255}); !slices.Equal(got, []int32{0, 65, 255}) {
		t.Errorf("Encode = %v", got)
	}
	if _, err := tok.Decode([]int32{1, 256}); err == nil {
		t.Error("Decode(256) succeeded")
	}
	if _, err := tok.Decode([]int32{-1}); err == nil {
		t.Error("Decode(-1) succeeded")
	}
	loaded, err := LoadTokenizer("", KindByte)
	if err != nil || loaded.VocabSize() != 256 || loaded.Name() != KindByte {
		t.Errorf("LoadTokenizer byte: %v %v", loaded, err)
	}
}

func TestErrors(t *testing.T) {
	if _, err := LoadTokenizer(t.TempDir(), "wordpiece"); err == nil || !strings.Contains(err.Error(), "wordpiece") {
		t.Errorf("unknown kind: %v", err)
	}
	if _, err := LoadTokenizer(t.TempDir(), KindBPE); err == nil {
		t.Error("missing files: no error")
	}
	if _, err := TrainBPE([]byte("abc"), 100); err == nil {
		t.Error("vocab 100: no error")
	}
	if _, err := TrainBPE(nil, 300); err == nil {
		t.Error("empty text: no error")
	}
	tok, err := TrainBPE([]byte("ab ab ab abc"), 300)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tok.Decode([]int32{258}); err == nil {
		t.Error("Decode out of range: no error")
	}

	write := func(vocab, merges string) string {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, BPEVocabFile), []byte(vocab), 0o644)
		os.WriteFile(filepath.Join(dir, BPEMergesFile), []byte(merges), 0o644)
		return dir
	}
	good := t.TempDir()
	if err := tok.Save(good); err != nil {
		t.Fatal(err)
	}
	vocab, _ := os.ReadFile(filepath.Join(good, BPEVocabFile))
	for name, dir := range map[string]string{
		"not json":           write("[1,2]", "#version: 0.2\n"),
		"missing bytes":      write(`{"a": 0}`, "#version: 0.2\n"),
		"bad merge line":     write(string(vocab), "#version: 0.2\na b c\n"),
		"unknown token":      write(string(vocab), "#version: 0.2\nq zz\n"),
		"merge out of order": write(string(vocab), "#version: 0.2\nĠ ab\na b\n"),
	} {
		if _, err := LoadTokenizer(dir, KindBPE); err == nil {
			t.Errorf("%s: no error", name)
		} else if t.Log(name, ": ", err); strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: multi-line error %q", name, err)
		}
	}
}

func BenchmarkGPT2Encode(b *testing.B) {
	tok := loadGPT2(b)
	text := trainSample(b)
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		tok.Encode(text)
	}
}

func BenchmarkTrainBPESample(b *testing.B) {
	text := trainSample(b)
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		if _, err := TrainBPE(text, 1024); err != nil {
			b.Fatal(err)
		}
	}
}

func TestLoadBPEKind(t *testing.T) {
	dir := t.TempDir()
	tok, err := TrainBPE([]byte("ab ab ab abc"), 300)
	if err != nil {
		t.Fatal(err)
	}
	if err := tok.Save(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadBPE(filepath.Join(dir, BPEVocabFile), filepath.Join(dir, BPEMergesFile), "sentencepiece"); err == nil {
		t.Error("unknown kind accepted")
	}
}
