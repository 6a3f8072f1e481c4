package tokenizer

import (
	"unicode"
	"unicode/utf8"
)

// GPT-2 splits text into "words" with the pattern
//
//	's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//
// before merging, so that merges never cross word boundaries. Go's regexp has
// no lookahead, so nextPiece implements the same leftmost-alternative match by
// hand. The pattern runs on Python str (code points); here the input is raw
// bytes, so a byte that is not part of valid UTF-8 is treated like
// punctuation (the [^\s\p{L}\p{N}] class): that keeps arbitrary bytes
// encodable while leaving the behaviour on valid UTF-8 identical to GPT-2's.

type charClass uint8

const (
	classSpace charClass = iota
	classLetter
	classNumber
	classOther
)

// classAt returns the class of the code point starting at text[i] and its
// width in bytes.
func classAt(text []byte, i int) (charClass, int) {
	c := text[i]
	if c < utf8.RuneSelf {
		switch {
		case c == ' ' || (c >= '\t' && c <= '\r'):
			return classSpace, 1
		case (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'):
			return classLetter, 1
		case c >= '0' && c <= '9':
			return classNumber, 1
		default:
			return classOther, 1
		}
	}
	r, size := utf8.DecodeRune(text[i:])
	if r == utf8.RuneError && size <= 1 {
		return classOther, 1
	}
	switch {
	case unicode.IsSpace(r):
		return classSpace, size
	case unicode.IsLetter(r):
		return classLetter, size
	case unicode.IsNumber(r):
		return classNumber, size
	default:
		return classOther, size
	}
}

// runEnd returns the end of the run of code points of class cls starting at i.
func runEnd(text []byte, i int, cls charClass) int {
	for i < len(text) {
		c, size := classAt(text, i)
		if c != cls {
			break
		}
		i += size
	}
	return i
}

// contractionEnd returns the end of a contraction ('s 't 're 've 'm 'll 'd,
// case-sensitive as in GPT-2) starting at i, or -1.
func contractionEnd(text []byte, i int) int {
	if text[i] != '\'' || i+1 >= len(text) {
		return -1
	}
	switch text[i+1] {
	case 's', 't', 'm', 'd':
		return i + 2
	case 'r', 'v':
		if i+2 < len(text) && text[i+2] == 'e' {
			return i + 3
		}
	case 'l':
		if i+2 < len(text) && text[i+2] == 'l' {
			return i + 3
		}
	}
	return -1
}

// nextPiece returns the end of the pre-token starting at i (i < len(text)).
// Successive calls partition text exactly, which is what makes the
// tokenizers round-trip arbitrary bytes.
func nextPiece(text []byte, i int) int {
	if end := contractionEnd(text, i); end >= 0 {
		return end
	}
	// " ?\p{L}+", " ?\p{N}+", " ?[^\s\p{L}\p{N}]+": an optional single
	// U+0020 followed by a run of one class.
	j := i
	if text[i] == ' ' && i+1 < len(text) {
		j = i + 1
	}
	if cls, _ := classAt(text, j); cls != classSpace {
		return runEnd(text, j, cls)
	}
	// Here text[i] starts whitespace (a lone ' ' before whitespace or the end
	// lands here too). "\s+(?!\S)" takes the run but, when a non-space
	// follows, gives back its last code point so that it can prefix the next
	// word; "\s+" takes a single whitespace code point followed by a non-space.
	end := runEnd(text, i, classSpace)
	if end == len(text) {
		return end
	}
	_, firstSize := classAt(text, i)
	if end == i+firstSize {
		return end
	}
	last := end - 1
	for !utf8.RuneStart(text[last]) {
		last--
	}
	return last
}

// splitPieces calls fn with each pre-token of text, in order.
func splitPieces(text []byte, fn func(piece []byte)) {
	for i := 0; i < len(text); {
		end := nextPiece(text, i)
		fn(text[i:end])
		i = end
	}
}

// byteRunes is GPT-2's reversible byte-to-unicode map: printable Latin-1
// bytes stand for themselves, the other 68 bytes are shifted to U+0100 and
// up, so that every token is a printable string without spaces (which the
// merges file uses as its separator).
var byteRunes, runeBytes = buildByteRunes()

func buildByteRunes() ([256]rune, map[rune]byte) {
	var table [256]rune
	printable := func(b int) bool {
		return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF)
	}
	n := 0
	for b := 0; b < 256; b++ {
		if printable(b) {
			table[b] = rune(b)
		} else {
			table[b] = rune(256 + n)
			n++
		}
	}
	inverse := make(map[rune]byte, 256)
	for b, r := range table {
		inverse[r] = byte(b)
	}
	return table, inverse
}

// bytesToSymbols renders raw bytes in GPT-2's byte alphabet.
func bytesToSymbols(b []byte) string {
	out := make([]rune, len(b))
	for i, c := range b {
		out[i] = byteRunes[c]
	}
	return string(out)
}

// symbolsToBytes inverts bytesToSymbols; ok is false when s has a character
// outside the byte alphabet.
func symbolsToBytes(s string) ([]byte, bool) {
	out := make([]byte, 0, len(s))
	for _, r := range s {
		b, ok := runeBytes[r]
		if !ok {
			return nil, false
		}
		out = append(out, b)
	}
	return out, true
}
