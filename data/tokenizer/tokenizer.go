// Package tokenizer turns text into token ids and back.
//
// Three kinds share one interface: "byte" (ids are raw bytes), "bpe" (a
// byte-level BPE trained here with TrainBPE) and "gpt2" (OpenAI's GPT-2
// vocabulary loaded from encoder.json and vocab.bpe). Every tokenizer
// round-trips any byte string exactly: Decode(Encode(b)) == b, including
// invalid UTF-8 and NUL bytes.
package tokenizer

import (
	"fmt"
	"path/filepath"
)

// Tokenizer maps bytes to token ids and back.
type Tokenizer interface {
	// Encode returns the token ids of text. It never fails: every byte
	// string has an encoding.
	Encode(text []byte) []int32
	// Decode returns the bytes of ids; it fails on an id outside
	// [0, VocabSize()).
	Decode(ids []int32) ([]byte, error)
	// VocabSize is the number of distinct ids, so ids lie in [0, VocabSize()).
	VocabSize() int
	// Name is the kind to pass to LoadTokenizer to get this tokenizer back.
	Name() string
	// Save writes the files LoadTokenizer(dir, Name()) needs into dir,
	// creating dir if needed.
	Save(dir string) error
}

// Kinds accepted by LoadTokenizer.
const (
	KindByte = "byte"
	KindBPE  = "bpe"
	KindGPT2 = "gpt2"
)

// File names: GPT-2's own for "gpt2", the Hugging Face names (same formats)
// for tokenizers trained here.
const (
	BPEVocabFile   = "vocab.json"
	BPEMergesFile  = "merges.txt"
	GPT2VocabFile  = "encoder.json"
	GPT2MergesFile = "vocab.bpe"
)

// LoadTokenizer returns the tokenizer of the given kind stored in dir. The
// "byte" kind has no files, so dir is not read for it.
func LoadTokenizer(dir, kind string) (Tokenizer, error) {
	switch kind {
	case KindByte:
		return Byte{}, nil
	case KindBPE:
		return LoadBPE(filepath.Join(dir, BPEVocabFile), filepath.Join(dir, BPEMergesFile), KindBPE)
	case KindGPT2:
		return LoadBPE(filepath.Join(dir, GPT2VocabFile), filepath.Join(dir, GPT2MergesFile), KindGPT2)
	default:
		return nil, fmt.Errorf("tokenizer: unknown kind %q (want %q, %q or %q)", kind, KindByte, KindBPE, KindGPT2)
	}
}

// Byte is the identity tokenizer: one token per byte, vocabulary 256.
type Byte struct{}

// Encode returns one id per byte, equal to the byte's value.
func (Byte) Encode(text []byte) []int32 {
	ids := make([]int32, len(text))
	for i, c := range text {
		ids[i] = int32(c)
	}
	return ids
}

// Decode returns the bytes whose values are ids.
func (Byte) Decode(ids []int32) ([]byte, error) {
	out := make([]byte, len(ids))
	for i, id := range ids {
		if id < 0 || id > 255 {
			return nil, fmt.Errorf("tokenizer: byte: id %d at position %d is outside [0, 256)", id, i)
		}
		out[i] = byte(id)
	}
	return out, nil
}

// VocabSize is 256.
func (Byte) VocabSize() int { return 256 }

// Name is "byte".
func (Byte) Name() string { return KindByte }

// Save writes nothing: the byte tokenizer has no parameters, and
// LoadTokenizer does not read dir for it.
func (Byte) Save(dir string) error { return nil }
