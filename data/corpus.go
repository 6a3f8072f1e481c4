// Package data supplies training data: text corpora with a fixed
// train/validation split, random training windows and sequential validation
// windows over token streams, and the synthetic in-context-learning tasks of
// the H3 paper. Tokenizers live in data/tokenizer.
package data

import (
	"bytes"
	"compress/gzip"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/hungry-ssm/hungry/data/tokenizer"
)

// The default corpus ships inside the binary, gzipped (4.0 MB of text in
// 1.5 MB); see austen/NOTICE.md.
//
//go:embed austen/*.txt.gz
var austenFS embed.FS

// ValidPercent is the share of each document's bytes held out for
// validation.
const ValidPercent = 5

// Document is one file of a corpus, split into its training and validation
// parts. Train+Valid is the whole file.
type Document struct {
	Name  string // file name, without a .gz suffix
	Train []byte
	Valid []byte
}

// Corpus is an ordered list of documents.
type Corpus struct {
	Source string // where it was loaded from
	Docs   []Document
}

// LoadDefaultCorpus returns Jane Austen's six novels, embedded in the
// binary, in file-name order.
func LoadDefaultCorpus() (*Corpus, error) {
	return loadDir(austenFS, "austen", "embedded Austen corpus")
}

// LoadCorpus reads a UTF-8 text file, or every *.txt and *.txt.gz file
// directly inside a folder (sorted by name). Files ending in .gz are
// decompressed. Each file is split with SplitText. It fails with a one-line
// error on a missing path, an empty file, binary data (a NUL byte), invalid
// UTF-8 (naming the file and byte offset), a folder without text files, or a
// corpus too small to leave both splits non-empty.
func LoadCorpus(p string) (*Corpus, error) {
	info, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("data: corpus path %s does not exist", p)
	}
	if err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	if info.IsDir() {
		return loadDir(os.DirFS(p), ".", p)
	}
	raw, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	doc, err := makeDocument(filepath.Base(p), p, raw)
	if err != nil {
		return nil, err
	}
	return finish(&Corpus{Source: p, Docs: []Document{doc}})
}

// CorpusFromText wraps text held in memory as a one-document corpus, with
// the same checks and split as LoadCorpus.
func CorpusFromText(name string, text []byte) (*Corpus, error) {
	doc, err := makeDocument(name, name, text)
	if err != nil {
		return nil, err
	}
	return finish(&Corpus{Source: name, Docs: []Document{doc}})
}

func isTextName(name string) bool {
	lower := strings.ToLower(name)
	return !strings.HasPrefix(name, ".") && (strings.HasSuffix(lower, ".txt") || strings.HasSuffix(lower, ".txt.gz"))
}

func loadDir(fsys fs.FS, dir, source string) (*Corpus, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	var names []string
	for _, e := range entries {
		if e.Type().IsRegular() && isTextName(e.Name()) {
			names = append(names, e.Name())
		}
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("data: folder %s has no .txt or .txt.gz files", source)
	}
	sort.Strings(names)
	c := &Corpus{Source: source}
	for _, name := range names {
		raw, err := fs.ReadFile(fsys, path.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("data: %w", err)
		}
		doc, err := makeDocument(name, filepath.Join(source, name), raw)
		if err != nil {
			return nil, err
		}
		c.Docs = append(c.Docs, doc)
	}
	return finish(c)
}

// makeDocument decompresses (for .gz names), checks and splits one file;
// where names it in errors.
func makeDocument(name, where string, raw []byte) (Document, error) {
	if strings.HasSuffix(strings.ToLower(name), ".gz") {
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			return Document{}, fmt.Errorf("data: %s: not valid gzip: %v", where, err)
		}
		text, err := io.ReadAll(zr)
		if err != nil {
			return Document{}, fmt.Errorf("data: %s: not valid gzip: %v", where, err)
		}
		raw = text
		name = name[:len(name)-len(".gz")]
	}
	if err := checkText(where, raw); err != nil {
		return Document{}, err
	}
	train, valid := SplitText(raw)
	return Document{Name: name, Train: train, Valid: valid}, nil
}

// CheckText refuses what LoadCorpus refuses in a file's content: emptiness, binary data
// (a NUL byte) and invalid UTF-8; where names the text in the error.
func CheckText(where string, text []byte) error { return checkText(where, text) }

func checkText(where string, text []byte) error {
	if len(text) == 0 {
		return fmt.Errorf("data: %s: empty file", where)
	}
	if i := bytes.IndexByte(text, 0); i >= 0 {
		return fmt.Errorf("data: %s: binary data (NUL byte at offset %d), want UTF-8 text", where, i)
	}
	for i := 0; i < len(text); {
		if text[i] < utf8.RuneSelf {
			i++
			continue
		}
		r, size := utf8.DecodeRune(text[i:])
		if r == utf8.RuneError && size <= 1 {
			return fmt.Errorf("data: %s: invalid UTF-8 at byte offset %d", where, i)
		}
		i += size
	}
	return nil
}

func finish(c *Corpus) (*Corpus, error) {
	if c.TrainBytes() == 0 || c.ValidBytes() == 0 {
		return nil, fmt.Errorf("data: %s: too little text (%d bytes) to hold out %d%% for validation",
			c.Source, c.TrainBytes()+c.ValidBytes(), ValidPercent)
	}
	return c, nil
}

// SplitText cuts text into a training part and the validation part: the
// last ValidPercent% of the bytes, starting at a line boundary. Validation
// starts at the first line that begins at or after the 95% mark; when no
// line begins there it starts at the last line beginning before the mark,
// and when the text has no usable line break it starts at the mark itself
// (moved back to a UTF-8 character boundary). Texts under 20 bytes have no
// validation part.
func SplitText(text []byte) (train, valid []byte) {
	n := len(text)
	mark := n - n*ValidPercent/100
	cut := -1
	switch {
	case mark <= 0 || mark >= n:
		cut = mark
	case text[mark-1] == '\n':
		cut = mark
	default:
		if i := bytes.IndexByte(text[mark:], '\n'); i >= 0 && mark+i+1 < n {
			cut = mark + i + 1
		} else if i := bytes.LastIndexByte(text[:mark], '\n'); i >= 0 {
			cut = i + 1
		}
	}
	if cut < 0 {
		cut = mark
		for cut > 0 && cut < n && !utf8.RuneStart(text[cut]) {
			cut--
		}
	}
	return text[:cut:cut], text[cut:]
}

// TrainBytes is the total size of the training parts.
func (c *Corpus) TrainBytes() int {
	n := 0
	for _, d := range c.Docs {
		n += len(d.Train)
	}
	return n
}

// ValidBytes is the total size of the validation parts: the denominator of
// bits per byte.
func (c *Corpus) ValidBytes() int {
	n := 0
	for _, d := range c.Docs {
		n += len(d.Valid)
	}
	return n
}

// TrainText is the training parts concatenated in document order.
func (c *Corpus) TrainText() []byte {
	out := make([]byte, 0, c.TrainBytes())
	for _, d := range c.Docs {
		out = append(out, d.Train...)
	}
	return out
}

// ValidText is the validation parts concatenated in document order.
func (c *Corpus) ValidText() []byte {
	out := make([]byte, 0, c.ValidBytes())
	for _, d := range c.Docs {
		out = append(out, d.Valid...)
	}
	return out
}

// Encode tokenizes each document's parts separately (so no token spans two
// documents or the split) and concatenates them in document order, without
// separators. Decoding valid gives back ValidText exactly.
func (c *Corpus) Encode(tok tokenizer.Tokenizer) (train, valid []int32) {
	for _, d := range c.Docs {
		train = append(train, tok.Encode(d.Train)...)
		valid = append(valid, tok.Encode(d.Valid)...)
	}
	return train, valid
}
