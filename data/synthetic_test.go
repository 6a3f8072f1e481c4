package data

import (
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
)

func TestSyntheticVocab(t *testing.T) {
	// safari's Vocab: str(0..vocab_size-3) plus the specials, sorted as strings.
	for _, c := range []struct {
		size int
		want string
	}{
		{10, ". 0 1 2 3 4 5 6 7 =>"},
		{20, ". 0 1 10 11 12 13 14 15 16 17 2 3 4 5 6 7 8 9 =>"},
	} {
		s, err := GenerateSynthetic(TaskAssocRecall, c.size, 20, 1, 1, 0)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(s.Vocab, " "); got != c.want {
			t.Errorf("vocab %d: %s, want %s", c.size, got, c.want)
		}
		if s.Vocab[s.CopyPrefixID] != "=>" || s.Vocab[s.NoopID] != "." {
			t.Errorf("special ids %d %d", s.CopyPrefixID, s.NoopID)
		}
	}
}

// checkSplits verifies what both tasks share: lengths, train targets as the
// inputs shifted by one, test targets masked except the last, no duplicates
// within or across the splits. It returns the full sequences.
func checkSplits(t *testing.T, s *SyntheticSet, seqLen, nTrain, nTest int) (train, test [][]int32) {
	t.Helper()
	if s.SeqLen != seqLen || len(s.TrainInputs) != nTrain || len(s.TestInputs) != nTest ||
		len(s.TrainTargets) != nTrain || len(s.TestTargets) != nTest {
		t.Fatalf("SeqLen %d, %d/%d train, %d/%d test", s.SeqLen, len(s.TrainInputs), len(s.TrainTargets), len(s.TestInputs), len(s.TestTargets))
	}
	seen := map[string]string{}
	full := func(in, tg []int32, split string) []int32 {
		if len(in) != seqLen || len(tg) != seqLen {
			t.Fatalf("%s row lengths %d, %d", split, len(in), len(tg))
		}
		x := append(slices.Clone(in), tg[len(tg)-1])
		key := seqKey(x)
		if prev, dup := seen[key]; dup {
			t.Fatalf("%s example repeats a %s example: %s", split, prev, s.Decode(x))
		}
		seen[key] = split
		return x
	}
	for i := range s.TrainInputs {
		x := full(s.TrainInputs[i], s.TrainTargets[i], "train")
		if !slices.Equal(s.TrainTargets[i], x[1:]) {
			t.Fatalf("train targets are not the shifted sequence")
		}
		train = append(train, x)
	}
	for i := range s.TestInputs {
		x := full(s.TestInputs[i], s.TestTargets[i], "test")
		for j, tg := range s.TestTargets[i][:seqLen-1] {
			if tg != IgnoreIndex {
				t.Fatalf("test target %d = %d, want IgnoreIndex", j, tg)
			}
		}
		test = append(test, x)
	}
	return train, test
}

func TestInductionHead(t *testing.T) {
	const vocab, L, nTrain, nTest = 20, 30, 5000, 500
	s, err := GenerateSynthetic(TaskInductionHead, vocab, L, nTrain, nTest, 0)
	if err != nil {
		t.Fatal(err)
	}
	train, test := checkSplits(t, s, L+1, nTrain, nTest)
	positions := make([]int, L-2)
	for _, x := range append(train, test...) {
		if len(x) != L+2 {
			t.Fatalf("sequence of %d tokens, want %d", len(x), L+2)
		}
		var prefixes []int
		for i, id := range x[:L+1] {
			if id == s.CopyPrefixID {
				prefixes = append(prefixes, i)
			} else if id == s.NoopID {
				t.Fatalf("noop in %s", s.Decode(x))
			}
		}
		// One trigger in [0, L-2) and the final copy prefix at L.
		if len(prefixes) != 2 || prefixes[0] >= L-2 || prefixes[1] != L {
			t.Fatalf("copy prefixes at %v in %s", prefixes, s.Decode(x))
		}
		pos := prefixes[0]
		positions[pos]++
		if x[L+1] != x[pos+1] {
			t.Fatalf("answer %s, token after the trigger %s", s.Vocab[x[L+1]], s.Vocab[x[pos+1]])
		}
	}
	for pos, n := range positions {
		// 5500 draws over 28 positions: about 196 each; 100 is > 6 sigma away.
		if n < 100 {
			t.Errorf("trigger position %d used %d times", pos, n)
		}
	}
}

func TestAssocRecall(t *testing.T) {
	for _, vocab := range []int{10, 20, 40} {
		const L, nTrain, nTest = 20, 5000, 500
		s, err := GenerateSynthetic(TaskAssocRecall, vocab, L, nTrain, nTest, 1)
		if err != nil {
			t.Fatal(err)
		}
		var ordinary []string
		for _, v := range s.Vocab {
			if v != "=>" && v != "." {
				ordinary = append(ordinary, v)
			}
		}
		if !sort.StringsAreSorted(ordinary) || len(ordinary) != vocab-2 {
			t.Fatalf("ordinary tokens %v", ordinary)
		}
		isKey, isValue := map[string]bool{}, map[string]bool{}
		for i, v := range ordinary {
			if i < len(ordinary)/2 {
				isKey[v] = true
			} else {
				isValue[v] = true
			}
		}
		train, test := checkSplits(t, s, L+2, nTrain, nTest)
		for _, x := range append(train, test...) {
			kv := map[int32]int32{}
			for i := 0; i < L; i += 2 {
				k, v := x[i], x[i+1]
				if !isKey[s.Vocab[k]] || !isValue[s.Vocab[v]] {
					t.Fatalf("pair %s %s is not key, value in %s", s.Vocab[k], s.Vocab[v], s.Decode(x))
				}
				if old, ok := kv[k]; ok && old != v {
					t.Fatalf("key %s has two values in %s", s.Vocab[k], s.Decode(x))
				}
				kv[k] = v
			}
			if x[L] != s.CopyPrefixID {
				t.Fatalf("no copy prefix at %d in %s", L, s.Decode(x))
			}
			want, ok := kv[x[L+1]]
			if !ok {
				t.Fatalf("queried key absent in %s", s.Decode(x))
			}
			if x[L+2] != want {
				t.Fatalf("answer %s, want %s in %s", s.Vocab[x[L+2]], s.Vocab[want], s.Decode(x))
			}
		}
	}
}

func TestSyntheticDeterminism(t *testing.T) {
	a, _ := GenerateSynthetic(TaskInductionHead, 20, 30, 50, 10, 3)
	b, _ := GenerateSynthetic(TaskInductionHead, 20, 30, 50, 10, 3)
	c, _ := GenerateSynthetic(TaskInductionHead, 20, 30, 50, 10, 4)
	if !reflect.DeepEqual(a, b) {
		t.Error("same seed, different sets")
	}
	if reflect.DeepEqual(a.TrainInputs, c.TrainInputs) {
		t.Error("different seeds, same sets")
	}
}

func TestSyntheticErrors(t *testing.T) {
	for name, f := range map[string]func() error{
		"unknown task":   func() error { _, err := GenerateSynthetic("copying", 20, 30, 1, 1, 0); return err },
		"tiny vocab IH":  func() error { _, err := GenerateSynthetic(TaskInductionHead, 2, 30, 1, 1, 0); return err },
		"short IH":       func() error { _, err := GenerateSynthetic(TaskInductionHead, 20, 2, 1, 1, 0); return err },
		"tiny vocab AR":  func() error { _, err := GenerateSynthetic(TaskAssocRecall, 3, 20, 1, 1, 0); return err },
		"negative count": func() error { _, err := GenerateSynthetic(TaskAssocRecall, 10, 20, -1, 1, 0); return err },
		// One ordinary token and input length 3: only 1 distinct sequence.
		"too few distinct": func() error { _, err := GenerateSynthetic(TaskInductionHead, 3, 3, 2, 0, 0); return err },
		"test exhausted":   func() error { _, err := GenerateSynthetic(TaskInductionHead, 3, 3, 1, 1, 0); return err },
	} {
		if err := f(); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestSyntheticBatchAndShuffle(t *testing.T) {
	s, err := GenerateSynthetic(TaskAssocRecall, 10, 20, 8, 4, 0)
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.Batch(false, []int{3, 1})
	if err != nil {
		t.Fatal(err)
	}
	T := s.SeqLen
	if b.Rows != 2 || b.Context != T || !slices.Equal(b.Inputs[:T], s.TestInputs[3]) || !slices.Equal(b.Targets[T:], s.TestTargets[1]) {
		t.Error("batch rows are not the chosen examples")
	}
	if _, err := s.Batch(true, []int{8}); err == nil {
		t.Error("index past the end accepted")
	}
	p0, p1 := Shuffle(100, 5, 0), Shuffle(100, 5, 1)
	if slices.Equal(p0, p1) || !slices.Equal(p0, Shuffle(100, 5, 0)) {
		t.Error("shuffle not fresh per epoch or not deterministic")
	}
	sorted := slices.Clone(p0)
	slices.Sort(sorted)
	for i, v := range sorted {
		if v != i {
			t.Fatal("shuffle is not a permutation")
		}
	}
}
