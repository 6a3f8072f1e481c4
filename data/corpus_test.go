package data

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hungry-ssm/hungry/data/tokenizer"
)

func TestLoadDefaultCorpus(t *testing.T) {
	c, err := LoadDefaultCorpus()
	if err != nil {
		t.Fatal(err)
	}
	// Sizes and digests of the original files, from austen/NOTICE.md.
	want := []struct {
		name   string
		size   int
		sha256 string
	}{
		{"emma.txt", 883028, "7c67b5985c6d0de1efaeb5d342d52cb82c38083c40e2295129e30e87ee690ebe"},
		{"mansfieldpark.txt", 883280, "98bc90519cdf4ef663ad7de2734bb529435ef24f7abbde6bb1a50898871dafe9"},
		{"northangerabbey.txt", 433411, "51f91bbe0517db8e65cff009b097ce0a1836124c4e0532ac19e6c0cad982abed"},
		{"persuasion.txt", 466854, "8061549557aebd2fd6e353d18d9197cb707029112bd52d4d8b174583a925848a"},
		{"prideprejudice.txt", 684768, "dfc684d4f857fa938268f9ab9c5567b64bd0691251eca959644adeabe6287a4d"},
		{"sensesensibility.txt", 673688, "105e1651fe93bed7130078578efd31e0c557d68667ba672ddc876f735b30fe09"},
	}
	if len(c.Docs) != len(want) {
		t.Fatalf("%d documents, want %d", len(c.Docs), len(want))
	}
	total := 0
	for i, d := range c.Docs {
		w := want[i]
		whole := append(append([]byte(nil), d.Train...), d.Valid...)
		sum := sha256.Sum256(whole)
		if d.Name != w.name || len(whole) != w.size || hex.EncodeToString(sum[:]) != w.sha256 {
			t.Errorf("document %d: %s, %d bytes, sha256 %x; want %s, %d, %s", i, d.Name, len(whole), sum, w.name, w.size, w.sha256)
		}
		// Validation is at most 5% and starts at a line boundary, so it is
		// short of 5% by less than one line.
		frac := float64(len(d.Valid)) / float64(len(whole))
		if frac > 0.05 || frac < 0.049 {
			t.Errorf("%s: validation is %.4f of the bytes", d.Name, frac)
		}
		if d.Train[len(d.Train)-1] != '\n' {
			t.Errorf("%s: split is not at a line boundary", d.Name)
		}
		total += len(whole)
	}
	if c.TrainBytes()+c.ValidBytes() != total || len(c.TrainText()) != c.TrainBytes() || len(c.ValidText()) != c.ValidBytes() {
		t.Error("byte counts disagree")
	}
	if !bytes.HasPrefix(c.ValidText(), c.Docs[0].Valid) || !bytes.HasSuffix(c.ValidText(), c.Docs[5].Valid) {
		t.Error("ValidText is not the validation parts in order")
	}
}

func TestSplitText(t *testing.T) {
	line := "0123456789012345678\n" // 20 bytes
	for _, c := range []struct {
		name  string
		text  string
		valid string
	}{
		{"mark on a boundary", strings.Repeat(line, 20), line},                // 400 bytes, mark 380
		{"next line start", strings.Repeat("abcdefghi\n", 30), "abcdefghi\n"}, // 300 bytes, mark 285 -> 290
		{"no break after the mark", strings.Repeat("x", 30) + "\n" + strings.Repeat("y", 30), strings.Repeat("y", 30)},
		{"no break at all", strings.Repeat("z", 40), "zz"},
		{"utf-8 boundary", strings.Repeat("é", 20), "é"},          // 40 bytes, mark 38 is a rune start
		{"utf-8 moved back", "a" + strings.Repeat("é", 30), "éé"}, // 61 bytes, mark 58 inside "é"
		{"tiny", "hello\n", ""},
		{"empty", "", ""},
	} {
		train, valid := SplitText([]byte(c.text))
		if string(valid) != c.valid || string(train)+string(valid) != c.text {
			t.Errorf("%s: valid %q, want %q", c.name, valid, c.valid)
		}
	}
	// The training part must not alias the validation part on append.
	train, valid := SplitText([]byte(strings.Repeat(line, 20)))
	_ = append(train, 'X')
	if valid[0] != '0' {
		t.Error("appending to train overwrote valid")
	}
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestLoadCorpusFilesAndFolders(t *testing.T) {
	dir := t.TempDir()
	text := func(word string) []byte { return []byte(strings.Repeat(word+" and more text\n", 40)) }
	writeFile(t, filepath.Join(dir, "b.txt"), text("bravo"))
	writeFile(t, filepath.Join(dir, "a.txt"), text("alpha"))
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(text("charlie"))
	zw.Close()
	writeFile(t, filepath.Join(dir, "c.txt.gz"), gz.Bytes())
	writeFile(t, filepath.Join(dir, "README.md"), []byte("not part of the corpus"))
	writeFile(t, filepath.Join(dir, ".hidden.txt"), []byte("\x00 not read"))
	os.Mkdir(filepath.Join(dir, "sub.txt"), 0o755)

	c, err := LoadCorpus(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range c.Docs {
		names = append(names, d.Name)
	}
	if strings.Join(names, ",") != "a.txt,b.txt,c.txt" {
		t.Fatalf("documents %v, want a.txt, b.txt, c.txt", names)
	}
	if !bytes.Equal(append(c.Docs[2].Train, c.Docs[2].Valid...), text("charlie")) {
		t.Error("gzip file not decompressed")
	}

	single, err := LoadCorpus(filepath.Join(dir, "b.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if len(single.Docs) != 1 || single.Docs[0].Name != "b.txt" || single.ValidBytes() == 0 {
		t.Errorf("single file: %+v", single.Docs)
	}
	mem, err := CorpusFromText("mem", text("delta"))
	if err != nil || mem.TrainBytes()+mem.ValidBytes() != len(text("delta")) {
		t.Errorf("CorpusFromText: %v", err)
	}
}

func TestLoadCorpusErrors(t *testing.T) {
	dir := t.TempDir()
	good := []byte(strings.Repeat("fine text\n", 10))
	empty := filepath.Join(dir, "empty.txt")
	writeFile(t, empty, nil)
	nul := filepath.Join(dir, "nul.txt")
	writeFile(t, nul, append(append([]byte(nil), good...), 0, 'x'))
	bad := filepath.Join(dir, "bad.txt")
	writeFile(t, bad, append([]byte("abc é "), 0xff, 'd'))
	tiny := filepath.Join(dir, "tiny.txt")
	writeFile(t, tiny, []byte("hi\n"))
	notGzip := filepath.Join(dir, "fake.txt.gz")
	writeFile(t, notGzip, good)
	noText := filepath.Join(dir, "notext")
	os.Mkdir(noText, 0o755)
	writeFile(t, filepath.Join(noText, "data.bin"), good)
	mixed := filepath.Join(dir, "mixed")
	os.Mkdir(mixed, 0o755)
	writeFile(t, filepath.Join(mixed, "a.txt"), good)
	writeFile(t, filepath.Join(mixed, "b.txt"), []byte("x\xc3"))

	for _, c := range []struct {
		path string
		want []string // substrings of the error
	}{
		{filepath.Join(dir, "missing"), []string{"missing", "does not exist"}},
		{empty, []string{"empty.txt", "empty"}},
		{nul, []string{"nul.txt", "NUL", "offset 100"}},
		{bad, []string{"bad.txt", "invalid UTF-8", "offset 7"}},
		{tiny, []string{"tiny.txt", "too little"}},
		{notGzip, []string{"fake.txt.gz", "gzip"}},
		{noText, []string{"notext", "no .txt"}},
		{mixed, []string{"b.txt", "invalid UTF-8", "offset 1"}},
	} {
		_, err := LoadCorpus(c.path)
		if err == nil {
			t.Errorf("%s: no error", c.path)
			continue
		}
		msg := err.Error()
		if strings.Contains(msg, "\n") {
			t.Errorf("%s: multi-line error %q", c.path, msg)
		}
		for _, w := range c.want {
			if !strings.Contains(msg, w) {
				t.Errorf("%s: error %q lacks %q", c.path, msg, w)
			}
		}
	}
}

func TestCorpusEncode(t *testing.T) {
	c, err := LoadDefaultCorpus()
	if err != nil {
		t.Fatal(err)
	}
	// A small slice keeps training quick; the split and the per-document
	// encoding are what is under test.
	bpe, err := tokenizer.TrainBPE(c.Docs[4].Train[:200000], 600)
	if err != nil {
		t.Fatal(err)
	}
	for _, tok := range []tokenizer.Tokenizer{tokenizer.Byte{}, bpe} {
		train, valid := c.Encode(tok)
		back, err := tok.Decode(valid)
		if err != nil || !bytes.Equal(back, c.ValidText()) {
			t.Errorf("%s: validation tokens do not decode to ValidText", tok.Name())
		}
		back, err = tok.Decode(train)
		if err != nil || !bytes.Equal(back, c.TrainText()) {
			t.Errorf("%s: training tokens do not decode to TrainText", tok.Name())
		}
	}
}

// BenchmarkTrainBPEAusten measures the headline case: 4096-token BPE on the
// whole default training text (3.8 MB).
func BenchmarkTrainBPEAusten(b *testing.B) {
	c, err := LoadDefaultCorpus()
	if err != nil {
		b.Fatal(err)
	}
	text := c.TrainText()
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		if _, err := tokenizer.TrainBPE(text, 4096); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLoadDefaultCorpus(b *testing.B) {
	for b.Loop() {
		if _, err := LoadDefaultCorpus(); err != nil {
			b.Fatal(err)
		}
	}
}
