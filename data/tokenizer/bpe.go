package tokenizer

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// merge is one BPE rule: the adjacent pair (left, right) becomes result.
type merge struct {
	left, right, result int32
}

// special is a token matched literally in the text before pre-tokenisation,
// such as GPT-2's "<|endoftext|>".
type special struct {
	text []byte
	id   int32
}

// BPE is a byte-level byte-pair-encoding tokenizer in GPT-2's style: text is
// pre-tokenised into words, each word starts as a sequence of byte tokens,
// and merges are applied lowest rank first. It serves both the "gpt2" kind
// (OpenAI's files) and the "bpe" kind (trained by TrainBPE). A BPE is
// immutable after construction and safe for concurrent use.
type BPE struct {
	name     string
	tokens   [][]byte // id -> bytes
	byteID   [256]int32
	merges   []merge // in rank order
	rank     map[uint64]int32
	specials []special // longest first, so that a longer special wins a tie
}

func pairKey(left, right int32) uint64 { return uint64(uint32(left))<<32 | uint64(uint32(right)) }

// VocabSize is the number of tokens: bytes, merge results and specials.
func (t *BPE) VocabSize() int { return len(t.tokens) }

// Name is the kind this tokenizer was built as ("bpe" or "gpt2").
func (t *BPE) Name() string { return t.name }

// NumMerges is the number of merge rules.
func (t *BPE) NumMerges() int { return len(t.merges) }

// TokenBytes returns the bytes of token id (nil when id is out of range).
func (t *BPE) TokenBytes(id int32) []byte {
	if id < 0 || int(id) >= len(t.tokens) {
		return nil
	}
	return t.tokens[id]
}

// SpecialID returns the id of a special token such as "<|endoftext|>".
func (t *BPE) SpecialID(text string) (int32, bool) {
	for _, s := range t.specials {
		if string(s.text) == text {
			return s.id, true
		}
	}
	return 0, false
}

// Decode concatenates the bytes of ids.
func (t *BPE) Decode(ids []int32) ([]byte, error) {
	n := 0
	for i, id := range ids {
		if id < 0 || int(id) >= len(t.tokens) {
			return nil, fmt.Errorf("tokenizer: %s: id %d at position %d is outside [0, %d)", t.name, id, i, len(t.tokens))
		}
		n += len(t.tokens[id])
	}
	out := make([]byte, 0, n)
	for _, id := range ids {
		out = append(out, t.tokens[id]...)
	}
	return out, nil
}

// Encode splits text at special tokens (so "<|endoftext|>" in the text
// becomes GPT-2's id 50256, as with Hugging Face's GPT2Tokenizer),
// pre-tokenises the rest and applies the merges to each word. Words repeat a lot in natural text, so each
// distinct word is merged once per call and looked up afterwards.
func (t *BPE) Encode(text []byte) []int32 {
	e := encoder{tok: t, cache: make(map[string][]int32)}
	out := make([]int32, 0, len(text)/3+1)
	for len(text) > 0 {
		at, sp := t.nextSpecial(text)
		if sp == nil {
			return e.encodeOrdinary(text, out)
		}
		out = e.encodeOrdinary(text[:at], out)
		out = append(out, sp.id)
		text = text[at+len(sp.text):]
	}
	return out
}

// nextSpecial finds the earliest special token in text (the longest one when
// two start at the same place).
func (t *BPE) nextSpecial(text []byte) (int, *special) {
	best, bestAt := -1, len(text)
	for i := range t.specials {
		at := bytes.Index(text, t.specials[i].text)
		if at >= 0 && at < bestAt {
			best, bestAt = i, at
		}
	}
	if best < 0 {
		return -1, nil
	}
	return bestAt, &t.specials[best]
}

// encoder holds the scratch state of one Encode call.
type encoder struct {
	tok   *BPE
	cache map[string][]int32
	ids   []int32
	next  []int32
	prev  []int32
	heap  candHeap
}

// cacheLimit bounds the per-call word cache: distinct words in natural text
// number in the tens of thousands, while adversarial input (random bytes)
// could otherwise make the cache as large as the text.
const cacheLimit = 1 << 17

func (e *encoder) encodeOrdinary(text []byte, out []int32) []int32 {
	splitPieces(text, func(word []byte) {
		if ids, ok := e.cache[string(word)]; ok {
			out = append(out, ids...)
			return
		}
		start := len(out)
		out = e.encodeWord(word, out)
		if len(e.cache) < cacheLimit {
			e.cache[string(word)] = append([]int32(nil), out[start:]...)
		}
	})
	return out
}

// encodeWord applies the merges to one word. GPT-2's reference loop rescans
// the word for its lowest-rank pair after every merge, which is quadratic in
// the word length; long whitespace runs make that matter. Here the word is a
// linked list and candidate pairs sit in a heap ordered by (rank, position),
// giving the same result: each rank's occurrences are merged left to right,
// and a pair created by a merge always has a higher rank than that merge
// (LoadBPE checks that every merge only uses tokens made by earlier ones).
func (e *encoder) encodeWord(word []byte, out []int32) []int32 {
	t := e.tok
	if len(word) == 1 {
		return append(out, t.byteID[word[0]])
	}
	n := len(word)
	e.ids = resize(e.ids, n)
	e.next = resize(e.next, n)
	e.prev = resize(e.prev, n)
	for i, c := range word {
		e.ids[i] = t.byteID[c]
		e.next[i] = int32(i + 1)
		e.prev[i] = int32(i - 1)
	}
	e.next[n-1] = -1
	e.heap = e.heap[:0]
	for i := 0; i+1 < n; i++ {
		if r, ok := t.rank[pairKey(e.ids[i], e.ids[i+1])]; ok {
			e.heap.push(cand{rank: r, pos: int32(i)})
		}
	}
	for len(e.heap) > 0 {
		c := e.heap.pop()
		p := c.pos
		q := e.next[p]
		if e.ids[p] < 0 || q < 0 {
			continue
		}
		if r, ok := t.rank[pairKey(e.ids[p], e.ids[q])]; !ok || r != c.rank {
			continue // stale: one side was merged since this was pushed
		}
		e.ids[p] = t.merges[c.rank].result
		e.ids[q] = -1
		e.next[p] = e.next[q]
		if nq := e.next[q]; nq >= 0 {
			e.prev[nq] = p
		}
		if pp := e.prev[p]; pp >= 0 {
			if r, ok := t.rank[pairKey(e.ids[pp], e.ids[p])]; ok {
				e.heap.push(cand{rank: r, pos: pp})
			}
		}
		if nq := e.next[p]; nq >= 0 {
			if r, ok := t.rank[pairKey(e.ids[p], e.ids[nq])]; ok {
				e.heap.push(cand{rank: r, pos: p})
			}
		}
	}
	for i := int32(0); i >= 0; i = e.next[i] {
		out = append(out, e.ids[i])
	}
	return out
}

func resize(s []int32, n int) []int32 {
	if cap(s) < n {
		return make([]int32, n)
	}
	return s[:n]
}

type cand struct {
	rank, pos int32
}

// candHeap is a binary min-heap on (rank, pos).
type candHeap []cand

func (h candHeap) less(i, j int) bool {
	if h[i].rank != h[j].rank {
		return h[i].rank < h[j].rank
	}
	return h[i].pos < h[j].pos
}

func (h *candHeap) push(c cand) {
	*h = append(*h, c)
	s := *h
	for i := len(s) - 1; i > 0; {
		parent := (i - 1) / 2
		if !s.less(i, parent) {
			break
		}
		s[i], s[parent] = s[parent], s[i]
		i = parent
	}
}

func (h *candHeap) pop() cand {
	s := *h
	top := s[0]
	last := len(s) - 1
	s[0] = s[last]
	s = s[:last]
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < len(s) && s.less(l, m) {
			m = l
		}
		if r < len(s) && s.less(r, m) {
			m = r
		}
		if m == i {
			break
		}
		s[i], s[m] = s[m], s[i]
		i = m
	}
	*h = s
	return top
}

// newBPE builds the lookup tables from tokens (id -> bytes) and merges, and
// checks that they form a usable byte-level BPE: all 256 single bytes
// present, distinct tokens, every merge's result equal to the concatenation
// of its parts, parts made before the merge that uses them. Tokens that are
// neither bytes nor merge results become specials, matched literally.
func newBPE(name string, tokens [][]byte, merges []merge) (*BPE, error) {
	t := &BPE{name: name, tokens: tokens, merges: merges, rank: make(map[uint64]int32, len(merges))}
	byBytes := make(map[string]int32, len(tokens))
	for id, b := range tokens {
		if len(b) == 0 {
			return nil, fmt.Errorf("tokenizer: %s: token %d is empty", name, id)
		}
		if other, dup := byBytes[string(b)]; dup {
			return nil, fmt.Errorf("tokenizer: %s: tokens %d and %d have the same bytes %q", name, other, id, b)
		}
		byBytes[string(b)] = int32(id)
	}
	made := make([]bool, len(tokens))
	for c := 0; c < 256; c++ {
		id, ok := byBytes[string([]byte{byte(c)})]
		if !ok {
			return nil, fmt.Errorf("tokenizer: %s: vocabulary lacks the single byte 0x%02x", name, c)
		}
		t.byteID[c] = id
		made[id] = true
	}
	for r, m := range merges {
		if !made[m.left] || !made[m.right] {
			return nil, fmt.Errorf("tokenizer: %s: merge %d (%q %q) uses a token no earlier merge makes", name, r+1,
				bytesToSymbols(tokens[m.left]), bytesToSymbols(tokens[m.right]))
		}
		joined := append(append([]byte(nil), tokens[m.left]...), tokens[m.right]...)
		if !bytes.Equal(joined, tokens[m.result]) {
			return nil, fmt.Errorf("tokenizer: %s: merge %d result is not the concatenation of its parts", name, r+1)
		}
		key := pairKey(m.left, m.right)
		if _, dup := t.rank[key]; dup {
			return nil, fmt.Errorf("tokenizer: %s: merge %d (%q %q) repeats an earlier merge", name, r+1,
				bytesToSymbols(tokens[m.left]), bytesToSymbols(tokens[m.right]))
		}
		t.rank[key] = int32(r)
		made[m.result] = true
	}
	for id, ok := range made {
		if !ok {
			t.specials = append(t.specials, special{text: tokens[id], id: int32(id)})
		}
	}
	sort.SliceStable(t.specials, func(i, j int) bool { return len(t.specials[i].text) > len(t.specials[j].text) })
	return t, nil
}

// LoadBPE reads a vocabulary (JSON object token -> id, tokens written in
// GPT-2's byte alphabet) and a merges file ("#version" line, then one "a b"
// pair per line, highest priority first): GPT-2's encoder.json/vocab.bpe or
// the vocab.json/merges.txt that Save writes. name, KindBPE or KindGPT2, is
// what Name() reports and decides the file names Save uses.
func LoadBPE(vocabPath, mergesPath, name string) (*BPE, error) {
	if name != KindBPE && name != KindGPT2 {
		return nil, fmt.Errorf("tokenizer: LoadBPE: kind %q, want %q or %q", name, KindBPE, KindGPT2)
	}
	raw, err := os.ReadFile(vocabPath)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %s: %w", name, err)
	}
	var vocab map[string]int
	if err := json.Unmarshal(raw, &vocab); err != nil {
		return nil, fmt.Errorf("tokenizer: %s: %s is not a JSON object of token ids: %v", name, vocabPath, err)
	}
	tokens := make([][]byte, len(vocab))
	ids := make(map[string]int32, len(vocab))
	for sym, id := range vocab {
		if id < 0 || id >= len(vocab) {
			return nil, fmt.Errorf("tokenizer: %s: %s: id %d of %q is outside [0, %d)", name, vocabPath, id, sym, len(vocab))
		}
		if tokens[id] != nil {
			return nil, fmt.Errorf("tokenizer: %s: %s: id %d is used twice", name, vocabPath, id)
		}
		b, ok := symbolsToBytes(sym)
		if !ok {
			return nil, fmt.Errorf("tokenizer: %s: %s: token %q has a character outside GPT-2's byte alphabet", name, vocabPath, sym)
		}
		tokens[id] = b
		ids[sym] = int32(id)
	}
	f, err := os.Open(mergesPath)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %s: %w", name, err)
	}
	defer f.Close()
	var merges []merge
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimRight(sc.Text(), "\r")
		if (line == 1 && strings.HasPrefix(text, "#version")) || text == "" {
			continue
		}
		parts := strings.Split(text, " ")
		if len(parts) != 2 {
			return nil, fmt.Errorf("tokenizer: %s: %s line %d: want two tokens separated by one space, got %q", name, mergesPath, line, text)
		}
		left, okL := ids[parts[0]]
		right, okR := ids[parts[1]]
		result, okM := ids[parts[0]+parts[1]]
		if !okL || !okR || !okM {
			return nil, fmt.Errorf("tokenizer: %s: %s line %d: %q, %q or their concatenation is not in %s", name, mergesPath, line, parts[0], parts[1], filepath.Base(vocabPath))
		}
		merges = append(merges, merge{left: left, right: right, result: result})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("tokenizer: %s: %s: %w", name, mergesPath, err)
	}
	return newBPE(name, tokens, merges)
}

// Save writes the vocabulary and merges in GPT-2's formats, under GPT-2's
// names for the "gpt2" kind and the Hugging Face names otherwise. The
// vocabulary is written in id order, one token per line, so that files are
// byte-identical across runs.
func (t *BPE) Save(dir string) error {
	vocabName, mergesName := BPEVocabFile, BPEMergesFile
	if t.name == KindGPT2 {
		vocabName, mergesName = GPT2VocabFile, GPT2MergesFile
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("tokenizer: save: %w", err)
	}
	var vb bytes.Buffer
	enc := json.NewEncoder(&vb)
	enc.SetEscapeHTML(false)
	vb.WriteString("{")
	for id, b := range t.tokens {
		if id > 0 {
			vb.WriteString(",")
		}
		vb.WriteString("\n")
		if err := enc.Encode(bytesToSymbols(b)); err != nil {
			return fmt.Errorf("tokenizer: save: %w", err)
		}
		vb.Truncate(vb.Len() - 1) // Encode's newline
		fmt.Fprintf(&vb, ": %d", id)
	}
	vb.WriteString("\n}\n")
	var mb bytes.Buffer
	mb.WriteString("#version: 0.2\n")
	for _, m := range t.merges {
		mb.WriteString(bytesToSymbols(t.tokens[m.left]))
		mb.WriteByte(' ')
		mb.WriteString(bytesToSymbols(t.tokens[m.right]))
		mb.WriteByte('\n')
	}
	if err := os.WriteFile(filepath.Join(dir, vocabName), vb.Bytes(), 0o644); err != nil {
		return fmt.Errorf("tokenizer: save: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, mergesName), mb.Bytes(), 0o644); err != nil {
		return fmt.Errorf("tokenizer: save: %w", err)
	}
	return nil
}
