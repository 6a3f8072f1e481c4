package data

import (
	"encoding/json"
	"reflect"
	"slices"
	"testing"
)

// iota32 returns 0, 1, …, n-1: with these tokens, a window's content
// reveals its position.
func iota32(n int) []int32 {
	out := make([]int32, n)
	for i := range out {
		out[i] = int32(i)
	}
	return out
}

func TestSamplerWindows(t *testing.T) {
	const n, rows, T = 13, 5, 4
	s, err := NewSampler(iota32(n), rows, T, 7)
	if err != nil {
		t.Fatal(err)
	}
	starts := map[int32]int{}
	for k := 0; k < 400; k++ {
		b := s.Next()
		if b.Rows != rows || b.Context != T || len(b.Inputs) != rows*T || len(b.Targets) != rows*T {
			t.Fatalf("batch shape %d×%d, lens %d %d", b.Rows, b.Context, len(b.Inputs), len(b.Targets))
		}
		for r := 0; r < rows; r++ {
			start := b.Inputs[r*T]
			starts[start]++
			for j := 0; j < T; j++ {
				if b.Inputs[r*T+j] != start+int32(j) || b.Targets[r*T+j] != start+int32(j)+1 {
					t.Fatalf("row %d is not a window: %v / %v", r, b.Inputs[r*T:(r+1)*T], b.Targets[r*T:(r+1)*T])
				}
			}
		}
	}
	// Every start in [0, n-T-1] must occur, none beyond: 2000 draws over 9
	// starts leave each a chance of missing below 1e-100.
	for start := int32(0); start <= n-T-1; start++ {
		if starts[start] == 0 {
			t.Errorf("start %d never drawn", start)
		}
	}
	if len(starts) != n-T {
		t.Errorf("%d distinct starts, want %d", len(starts), n-T)
	}
	if s.Batches() != 400 {
		t.Errorf("Batches() = %d", s.Batches())
	}
}

func TestSamplerDeterminism(t *testing.T) {
	tokens := iota32(1000)
	a, _ := NewSampler(tokens, 3, 8, 42)
	b, _ := NewSampler(tokens, 3, 8, 42)
	c, _ := NewSampler(tokens, 3, 8, 43)
	same, differ := true, false
	for k := 0; k < 20; k++ {
		ba, bb, bc := a.Next(), b.Next(), c.Next()
		same = same && reflect.DeepEqual(ba, bb)
		differ = differ || !slices.Equal(ba.Inputs, bc.Inputs)
	}
	if !same {
		t.Error("equal seeds gave different batches")
	}
	if !differ {
		t.Error("different seeds gave identical batches")
	}
}

func TestSamplerResume(t *testing.T) {
	tokens := iota32(5000)
	s, _ := NewSampler(tokens, 4, 16, 99)
	for k := 0; k < 5; k++ {
		s.Next()
	}
	blob, err := s.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	st := s.State()
	js, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	var want []Batch
	for k := 0; k < 3; k++ {
		want = append(want, s.Next())
	}

	fromBinary, _ := NewSampler(tokens, 4, 16, 0) // the seed comes from the state
	if err := fromBinary.UnmarshalBinary(blob); err != nil {
		t.Fatal(err)
	}
	var st2 SamplerState
	if err := json.Unmarshal(js, &st2); err != nil {
		t.Fatal(err)
	}
	fromState, _ := NewSampler(tokens, 4, 16, 0)
	if err := fromState.SetState(st2); err != nil {
		t.Fatal(err)
	}
	for _, r := range []*Sampler{fromBinary, fromState} {
		if r.Batches() != 5 {
			t.Errorf("resumed counter %d, want 5", r.Batches())
		}
		for k := 0; k < 3; k++ {
			var b Batch
			r.NextInto(&b)
			if !reflect.DeepEqual(b, want[k]) {
				t.Fatalf("resumed batch %d differs", k)
			}
		}
	}
}

func TestSamplerErrors(t *testing.T) {
	if _, err := NewSampler(iota32(8), 1, 8, 0); err == nil {
		t.Error("8 tokens, context 8: no error")
	}
	if _, err := NewSampler(iota32(8), 0, 2, 0); err == nil {
		t.Error("0 rows: no error")
	}
	s, _ := NewSampler(iota32(100), 2, 8, 0)
	other, _ := NewSampler(iota32(101), 2, 8, 0)
	blob, _ := other.MarshalBinary()
	if err := s.UnmarshalBinary(blob); err == nil {
		t.Error("state of a different stream accepted")
	}
	good, _ := s.MarshalBinary()
	for name, b := range map[string][]byte{
		"empty":     nil,
		"garbage":   []byte("hello world, definitely not a sampler state at all"),
		"truncated": good[:len(good)-3],
		"long":      append(append([]byte(nil), good...), 0),
	} {
		if err := s.UnmarshalBinary(b); err == nil {
			t.Errorf("%s state accepted", name)
		}
	}
}

// TestValidationCoverage checks that every target after the first token is
// scored exactly once, with the right value, for awkward sizes.
func TestValidationCoverage(t *testing.T) {
	for _, c := range []struct{ n, rows, T int }{
		{9, 2, 8},   // exactly one window
		{17, 2, 8},  // exact fit, two windows
		{18, 2, 8},  // one target left over
		{100, 3, 7}, // ragged last window and last batch
		{1000, 4, 31},
		{2, 1, 1},
	} {
		tokens := iota32(c.n)
		v, err := NewValidation(tokens, c.rows, c.T)
		if err != nil {
			t.Fatal(err)
		}
		if v.Targets() != c.n-1 {
			t.Errorf("%+v: Targets() = %d", c, v.Targets())
		}
		scored := make([]int, c.n)
		windows := 0
		for i := 0; i < v.NumBatches(); i++ {
			b, err := v.Batch(i)
			if err != nil {
				t.Fatal(err)
			}
			if b.Context != c.T || b.Rows < 1 || b.Rows > c.rows || len(b.Inputs) != b.Rows*c.T {
				t.Fatalf("%+v: batch %d shape %d×%d", c, i, b.Rows, b.Context)
			}
			windows += b.Rows
			for j, tg := range b.Targets {
				if tg == IgnoreIndex {
					continue
				}
				if tg != b.Inputs[j]+1 {
					t.Fatalf("%+v: target %d after input %d", c, tg, b.Inputs[j])
				}
				scored[tg]++
			}
		}
		if windows != v.Windows() {
			t.Errorf("%+v: %d windows in batches, Windows() = %d", c, windows, v.Windows())
		}
		for idx := 1; idx < c.n; idx++ {
			if scored[idx] != 1 {
				t.Errorf("%+v: token %d scored %d times", c, idx, scored[idx])
			}
		}
		if scored[0] != 0 {
			t.Errorf("%+v: first token scored", c)
		}
		if _, err := v.Batch(v.NumBatches()); err == nil {
			t.Errorf("%+v: batch past the end accepted", c)
		}
	}
	if _, err := NewValidation(iota32(5), 1, 5); err == nil {
		t.Error("5 tokens, context 5: no error")
	}
}

func BenchmarkSamplerNext(b *testing.B) {
	s, _ := NewSampler(iota32(1<<20), 32, 256, 1)
	var batch Batch
	for b.Loop() {
		s.NextInto(&batch)
	}
}
