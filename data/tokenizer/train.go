package tokenizer

import (
	"errors"
	"fmt"
	"sort"
)

// MaxVocabSize bounds TrainBPE's vocabulary; ids must fit in int32 and the
// tables stay far below it in practice.
const MaxVocabSize = 1 << 20

// minPairCount is the fewest occurrences a pair needs to be merged: a merge
// of a pair seen once only memorises that occurrence.
const minPairCount = 2

type trainWord struct {
	syms []int32
	freq int64
}

// TrainBPE learns a byte-level BPE on text with at most vocabSize tokens (256
// bytes plus vocabSize-256 merges). Text is pre-tokenised as GPT-2 does and
// merges never cross word boundaries. At each step the most frequent adjacent
// pair is merged; ties go to the pair with the smaller left id, then the
// smaller right id, so training is deterministic. Pair counts are updated
// only for the words that contain the merged pair. Training stops early,
// giving a smaller VocabSize, when no pair occurs at least twice. Byte b has
// id b; merge i makes id 256+i. The result has no special tokens.
func TrainBPE(text []byte, vocabSize int) (*BPE, error) {
	if vocabSize < 256 || vocabSize > MaxVocabSize {
		return nil, fmt.Errorf("tokenizer: bpe: vocabulary size %d is outside [256, %d]", vocabSize, MaxVocabSize)
	}
	if len(text) == 0 {
		return nil, errors.New("tokenizer: bpe: empty training text")
	}
	freq := make(map[string]int64)
	splitPieces(text, func(word []byte) { freq[string(word)]++ })
	distinct := make([]string, 0, len(freq))
	for w := range freq {
		distinct = append(distinct, w)
	}
	sort.Strings(distinct) // fixes word indices, hence the order of updates
	words := make([]trainWord, len(distinct))
	for i, w := range distinct {
		syms := make([]int32, len(w))
		for j := 0; j < len(w); j++ {
			syms[j] = int32(w[j])
		}
		words[i] = trainWord{syms: syms, freq: freq[w]}
	}

	counts := make(map[uint64]int64)
	where := make(map[uint64][]int32) // words that contain the pair (may hold stale or repeated entries)
	for wi, w := range words {
		for j := 0; j+1 < len(w.syms); j++ {
			key := pairKey(w.syms[j], w.syms[j+1])
			counts[key] += w.freq
			if list := where[key]; len(list) == 0 || list[len(list)-1] != int32(wi) {
				where[key] = append(list, int32(wi))
			}
		}
	}
	h := make(pairHeap, 0, len(counts))
	for key, c := range counts {
		h = append(h, pairEntry{count: c, key: key})
	}
	h.init()

	tokens := make([][]byte, 256, vocabSize)
	for b := range tokens {
		tokens[b] = []byte{byte(b)}
	}
	var merges []merge
	seen := make([]int32, len(words)) // merge number+1 that last visited each word
	delta := make(map[uint64]int64)
	for len(tokens) < vocabSize {
		best, ok := h.popValid(counts)
		if !ok || best.count < minPairCount {
			break
		}
		left, right := int32(best.key>>32), int32(uint32(best.key))
		result := int32(len(tokens))
		tokens = append(tokens, append(append([]byte(nil), tokens[left]...), tokens[right]...))
		merges = append(merges, merge{left: left, right: right, result: result})
		stamp := int32(len(merges))
		clear(delta)
		for _, wi := range where[best.key] {
			if seen[wi] == stamp {
				continue
			}
			seen[wi] = stamp
			applyMerge(&words[wi], left, right, result, delta, where, wi)
		}
		delete(where, best.key)
		delete(counts, best.key)
		keys := make([]uint64, 0, len(delta))
		for key, d := range delta {
			if d != 0 && key != best.key {
				keys = append(keys, key)
			}
		}
		sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
		for _, key := range keys {
			c := counts[key] + delta[key]
			if c <= 0 {
				delete(counts, key)
				continue
			}
			counts[key] = c
			h.push(pairEntry{count: c, key: key})
		}
	}
	return newBPE(KindBPE, tokens, merges)
}

// applyMerge rewrites w with every left-to-right occurrence of (left, right)
// replaced by result, recording the change in pair counts in delta and the
// word's new pairs in where. It reports whether w contained the pair.
func applyMerge(w *trainWord, left, right, result int32, delta map[uint64]int64, where map[uint64][]int32, wi int32) bool {
	s := w.syms
	found := false
	for j := 0; j+1 < len(s); j++ {
		if s[j] == left && s[j+1] == right {
			found = true
			break
		}
	}
	if !found {
		return false
	}
	for j := 0; j+1 < len(s); j++ {
		delta[pairKey(s[j], s[j+1])] -= w.freq
	}
	out := s[:0]
	for j := 0; j < len(s); j++ {
		if j+1 < len(s) && s[j] == left && s[j+1] == right {
			out = append(out, result)
			j++
			continue
		}
		out = append(out, s[j])
	}
	w.syms = out
	for j := 0; j+1 < len(out); j++ {
		key := pairKey(out[j], out[j+1])
		delta[key] += w.freq
		if out[j] == result || out[j+1] == result {
			if list := where[key]; len(list) == 0 || list[len(list)-1] != wi {
				where[key] = append(list, wi)
			}
		}
	}
	return true
}

type pairEntry struct {
	count int64
	key   uint64
}

// pairHeap is a max-heap on count, ties to the smaller key. Entries go stale
// when a count changes; popValid skips those, since every change pushes a
// fresh entry.
type pairHeap []pairEntry

func (h pairHeap) less(i, j int) bool {
	if h[i].count != h[j].count {
		return h[i].count > h[j].count
	}
	return h[i].key < h[j].key
}

func (h pairHeap) down(i int) {
	for {
		l, r, m := 2*i+1, 2*i+2, i
		if l < len(h) && h.less(l, m) {
			m = l
		}
		if r < len(h) && h.less(r, m) {
			m = r
		}
		if m == i {
			return
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
}

func (h pairHeap) init() {
	for i := len(h)/2 - 1; i >= 0; i-- {
		h.down(i)
	}
}

func (h *pairHeap) push(e pairEntry) {
	*h = append(*h, e)
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

func (h *pairHeap) popValid(counts map[uint64]int64) (pairEntry, bool) {
	for len(*h) > 0 {
		s := *h
		top := s[0]
		last := len(s) - 1
		s[0] = s[last]
		s = s[:last]
		s.down(0)
		*h = s
		if c, ok := counts[top.key]; ok && c == top.count {
			return top, true
		}
	}
	return pairEntry{}, false
}
