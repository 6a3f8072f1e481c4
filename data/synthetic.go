package data

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
)

// Synthetic in-context-learning tasks of the H3 paper (Table 1), following
// the generators of HazyResearch/safari (src/dataloaders/synthetics.py):
// same vocabulary, sequence layout and target masking. The random draws use
// Go's PCG, so the examples themselves differ from safari's NumPy ones.

// Task names, as safari's copy_method.
const (
	TaskInductionHead = "induction_head"
	TaskAssocRecall   = "assoc_recall"
)

// Special token strings: the copy prefix and the no-op (unused by the two
// tasks' sequences but part of the vocabulary, as in safari).
const (
	CopyPrefix = "=>"
	Noop       = "."
)

const (
	maxSyntheticVocab  = 1 << 16
	maxSyntheticSeqLen = 1 << 16
	// syntheticStream is the second PCG seed word (see samplerStream).
	syntheticStream = 0x1f6b_33d0_c7a2_5e94
)

// SyntheticSet is a generated train/test set. Each example is a sequence x
// of SeqLen+1 ids; inputs are x[:-1] and targets x[1:]. Training targets
// score every position; test targets score only the last one (the answer),
// the others are IgnoreIndex.
type SyntheticSet struct {
	Task         string
	Vocab        []string // token strings; id = index, in lexicographic order
	CopyPrefixID int32
	NoopID       int32
	InputSeqLen  int // the generator's input length (safari's input_seq_len)
	SeqLen       int // model sequence length: len of each input row

	TrainInputs, TrainTargets [][]int32
	TestInputs, TestTargets   [][]int32
}

// syntheticVocab builds safari's vocabulary: the ordinary tokens are the
// decimal strings "0" … strconv.Itoa(vocabSize-3), and ids follow the
// lexicographic order of all token strings, specials included (so "." is
// id 0, "=>" is last, and "10" sorts before "2").
func syntheticVocab(vocabSize int) (vocab, ordinary []string) {
	for i := 0; i < vocabSize-2; i++ {
		ordinary = append(ordinary, strconv.Itoa(i))
	}
	sort.Strings(ordinary)
	vocab = append([]string{CopyPrefix, Noop}, ordinary...)
	sort.Strings(vocab)
	return vocab, ordinary
}

// GenerateSynthetic generates nTrain training and nTest test examples of
// task (TaskInductionHead or TaskAssocRecall) over a vocabulary of
// vocabSize tokens (two of them special), deterministically from seed.
// Examples are distinct within each split and no test example equals a
// training one.
//
// Induction head (paper: vocab 20, input length 30): inputSeqLen uniform
// ordinary tokens followed by "=>"; one position pos in [0, inputSeqLen-2)
// is overwritten with "=>", and the token after it is appended as the
// answer, giving inputSeqLen+2 tokens.
//
// Associative recall (paper: vocab 10, input length 20): the sorted ordinary
// tokens' first half are keys, the rest values; each example draws a fresh
// key→value map (each key an independent uniform value), then
// inputSeqLen/2 (key, value) pairs with uniform keys, then "=>", a queried
// key that occurs among the pairs, and its value: 2*(inputSeqLen/2)+3
// tokens.
func GenerateSynthetic(task string, vocabSize, inputSeqLen, nTrain, nTest int, seed uint64) (*SyntheticSet, error) {
	if vocabSize > maxSyntheticVocab || inputSeqLen > maxSyntheticSeqLen {
		return nil, fmt.Errorf("data: synthetic: vocabulary %d or input length %d above the limits %d, %d",
			vocabSize, inputSeqLen, maxSyntheticVocab, maxSyntheticSeqLen)
	}
	if nTrain < 0 || nTest < 0 {
		return nil, fmt.Errorf("data: synthetic: negative example count (%d train, %d test)", nTrain, nTest)
	}
	var gen func(rng *rand.Rand, ids map[string]int32, ordinary []string) []int32
	switch task {
	case TaskInductionHead:
		if vocabSize < 3 || inputSeqLen < 3 {
			return nil, fmt.Errorf("data: synthetic: %s needs vocabulary ≥ 3 and input length ≥ 3, got %d and %d", task, vocabSize, inputSeqLen)
		}
		gen = func(rng *rand.Rand, ids map[string]int32, ordinary []string) []int32 {
			return genInductionHead(rng, ids, ordinary, inputSeqLen)
		}
	case TaskAssocRecall:
		if vocabSize < 4 || inputSeqLen < 2 {
			return nil, fmt.Errorf("data: synthetic: %s needs vocabulary ≥ 4 and input length ≥ 2, got %d and %d", task, vocabSize, inputSeqLen)
		}
		gen = func(rng *rand.Rand, ids map[string]int32, ordinary []string) []int32 {
			return genAssocRecall(rng, ids, ordinary, inputSeqLen)
		}
	default:
		return nil, fmt.Errorf("data: synthetic: unknown task %q (want %q or %q)", task, TaskInductionHead, TaskAssocRecall)
	}

	vocab, ordinary := syntheticVocab(vocabSize)
	ids := make(map[string]int32, len(vocab))
	for i, v := range vocab {
		ids[v] = int32(i)
	}
	rng := rand.New(rand.NewPCG(seed, syntheticStream))
	seen := make(map[string]bool, nTrain+nTest)
	draw := func(n int, split string) ([][]int32, error) {
		// Duplicates are rare for the paper's settings; the attempt cap
		// turns an impossible request (more examples than distinct
		// sequences) into an error instead of a hang.
		limit := 20*n + 1000
		out := make([][]int32, 0, n)
		for attempt := 0; len(out) < n; attempt++ {
			if attempt >= limit {
				return nil, fmt.Errorf("data: synthetic: found only %d distinct %s examples of %d in %d draws; the vocabulary or length is too small",
					len(out), split, n, limit)
			}
			x := gen(rng, ids, ordinary)
			key := seqKey(x)
			if seen[key] {
				continue
			}
			seen[key] = true
			out = append(out, x)
		}
		return out, nil
	}
	train, err := draw(nTrain, "train")
	if err != nil {
		return nil, err
	}
	test, err := draw(nTest, "test")
	if err != nil {
		return nil, err
	}
	s := &SyntheticSet{
		Task: task, Vocab: vocab, CopyPrefixID: ids[CopyPrefix], NoopID: ids[Noop], InputSeqLen: inputSeqLen,
	}
	if len(train) > 0 {
		s.SeqLen = len(train[0]) - 1
	} else if len(test) > 0 {
		s.SeqLen = len(test[0]) - 1
	}
	for _, x := range train {
		s.TrainInputs = append(s.TrainInputs, x[:len(x)-1:len(x)-1])
		s.TrainTargets = append(s.TrainTargets, append([]int32(nil), x[1:]...))
	}
	for _, x := range test {
		s.TestInputs = append(s.TestInputs, x[:len(x)-1:len(x)-1])
		tg := make([]int32, len(x)-1)
		for i := range tg {
			tg[i] = IgnoreIndex
		}
		tg[len(tg)-1] = x[len(x)-1]
		s.TestTargets = append(s.TestTargets, tg)
	}
	return s, nil
}

func seqKey(x []int32) string {
	b := make([]byte, 0, 4*len(x))
	for _, v := range x {
		b = binary.LittleEndian.AppendUint32(b, uint32(v))
	}
	return string(b)
}

func genInductionHead(rng *rand.Rand, ids map[string]int32, ordinary []string, n int) []int32 {
	x := make([]int32, n+2)
	for i := 0; i < n; i++ {
		x[i] = ids[ordinary[rng.IntN(len(ordinary))]]
	}
	x[n] = ids[CopyPrefix]
	pos := rng.IntN(n - 2)
	x[pos] = ids[CopyPrefix]
	x[n+1] = x[pos+1]
	return x
}

func genAssocRecall(rng *rand.Rand, ids map[string]int32, ordinary []string, n int) []int32 {
	keys := ordinary[:len(ordinary)/2]
	values := ordinary[len(ordinary)/2:]
	kv := make([]int32, len(keys)) // key index -> value id
	for k := range kv {
		kv[k] = ids[values[rng.IntN(len(values))]]
	}
	pairs := n / 2
	x := make([]int32, 0, 2*pairs+3)
	present := make([]bool, len(keys))
	var presentList []int
	for i := 0; i < pairs; i++ {
		k := rng.IntN(len(keys))
		x = append(x, ids[keys[k]], kv[k])
		if !present[k] {
			present[k] = true
			presentList = append(presentList, k)
		}
	}
	// As safari with allow_dot=False: a query drawn over all keys is
	// redrawn among the keys present when it is absent.
	q := rng.IntN(len(keys))
	if !present[q] {
		q = presentList[rng.IntN(len(presentList))]
	}
	return append(x, ids[CopyPrefix], ids[keys[q]], kv[q])
}

// Decode renders ids as space-separated token strings, IgnoreIndex as "_".
func (s *SyntheticSet) Decode(ids []int32) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		switch {
		case id == IgnoreIndex:
			parts[i] = "_"
		case id >= 0 && int(id) < len(s.Vocab):
			parts[i] = s.Vocab[id]
		default:
			parts[i] = "<" + strconv.Itoa(int(id)) + "?>"
		}
	}
	return strings.Join(parts, " ")
}

// Batch gathers the examples at idx of the training (train true) or test
// split into one batch of len(idx) rows.
func (s *SyntheticSet) Batch(train bool, idx []int) (Batch, error) {
	inputs, targets := s.TestInputs, s.TestTargets
	if train {
		inputs, targets = s.TrainInputs, s.TrainTargets
	}
	T := s.SeqLen
	b := Batch{Inputs: make([]int32, len(idx)*T), Targets: make([]int32, len(idx)*T), Rows: len(idx), Context: T}
	for r, i := range idx {
		if i < 0 || i >= len(inputs) {
			return Batch{}, fmt.Errorf("data: synthetic batch: example %d outside [0, %d)", i, len(inputs))
		}
		copy(b.Inputs[r*T:], inputs[i])
		copy(b.Targets[r*T:], targets[i])
	}
	return b, nil
}

// Shuffle returns a permutation of [0, n) determined by seed and epoch, for
// visiting training examples in a fresh order each epoch.
func Shuffle(n int, seed, epoch uint64) []int {
	return rand.New(rand.NewPCG(seed, epoch)).Perm(n)
}
