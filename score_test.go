package hungry

import (
	"bytes"
	"math"
	"strings"
	"testing"

	"github.com/hungry-ssm/hungry/data"
	"github.com/hungry-ssm/hungry/sample"
	"github.com/hungry-ssm/hungry/tensor"
)

// tinyModel is an untrained byte-level model of family: its predictions are far from
// uniform enough (initialisation std 0.02 through 2 layers) to tell tokens apart, and it
// builds in milliseconds.
func tinyModel(t *testing.T, family string) *Model {
	t.Helper()
	corpus, err := data.CorpusFromText("t", []byte(strings.Repeat("the cat sat on the mat.\n", 20)))
	if err != nil {
		t.Fatal(err)
	}
	spec := DefaultSpec()
	spec.Family, spec.Layers, spec.DModel, spec.Heads = family, 2, 16, 2
	m, err := New(spec, corpus, 256, nil, 5)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// lastNLL is -log p(ids[len-1] | ids[:len-1]) from one forward pass over ids.
func lastNLL(t *testing.T, m *Model, ids []int32) float64 {
	t.Helper()
	nll, n, err := windowNLL(m.LM, ids, len(ids)-1)
	if err != nil || n != 1 {
		t.Fatalf("windowNLL: %v (%d tokens)", err, n)
	}
	return nll
}

// TestScoreWindowsScoresEveryTokenOnce checks the sliding window against its definition,
// token by token: token j is scored once, given ids[b:j] where b is the start of the
// window that scores it (0 in the first window; window k ≥ 1 ends at
// min(context + k·stride, n) and starts context tokens earlier). The reference runs one
// forward pass per token over exactly that prefix; it differs from the windows' pass only
// in the FFT length of the convolutions, so the sums agree to float32 rounding (rtol 1e-5
// on a sum of ~250 terms of ~5.5 nats).
func TestScoreWindowsScoresEveryTokenOnce(t *testing.T) {
	m := tinyModel(t, "h3")
	text := []byte("It is a truth universally acknowledged, that a single man in possession of a good fortune")
	ids := m.Tokenizer.Encode(text)
	n := len(ids)
	for _, w := range [][2]int{{16, 5}, {16, 15}, {7, 1}, {2, 1}, {n, 3}, {1000, 500}} {
		context, stride := w[0], w[1]
		got, err := m.ScoreWindows(text, context, stride)
		if err != nil {
			t.Fatal(err)
		}
		if got.Tokens != n || got.Predicted() != n-1 || got.Bytes != len(text) {
			t.Fatalf("context %d stride %d: %d tokens, %d predicted, %d bytes; want %d, %d, %d", context, stride, got.Tokens, got.Predicted(), got.Bytes, n, n-1, len(text))
		}
		want := 0.0
		for j := 1; j < n; j++ {
			b := 0
			if j >= context {
				k := (j-context)/stride + 1
				b = min(context+k*stride, n) - context
			}
			if j-b < min(j, context-stride) {
				t.Fatalf("reference: token %d has %d tokens of context", j, j-b)
			}
			want += lastNLL(t, m, ids[b:j+1])
		}
		if math.Abs(got.NLL-want) > 1e-5*want {
			t.Errorf("context %d stride %d: NLL %.6f, token by token %.6f", context, stride, got.NLL, want)
		}
	}
}

// TestScoreReadsTheWholeText: Score once truncated the text to its context without a
// word (eval scored the first 1024 tokens of any file).
func TestScoreReadsTheWholeText(t *testing.T) {
	m := tinyModel(t, "h3")
	text := bytes.Repeat([]byte("abcdefghij"), 130)
	s, err := m.Score(text, 1024)
	if err != nil {
		t.Fatal(err)
	}
	if s.Tokens != len(text) || s.Predicted() != len(text)-1 {
		t.Fatalf("scored %d tokens (%d predicted) of %d", s.Tokens, s.Predicted(), len(text))
	}
	for _, w := range [][2]int{{1, 1}, {8, 0}, {8, 8}, {8, 9}} {
		if _, err := m.ScoreWindows(text, w[0], w[1]); err == nil {
			t.Errorf("context %d stride %d accepted", w[0], w[1])
		}
	}
}

// TestScoreNaNIsAnError: a damaged weight used to give "perplexity NaN" and success.
func TestScoreNaNIsAnError(t *testing.T) {
	m := tinyModel(t, "h3")
	m.LM.Blocks[1].MLP.Params()[0].Value.Data()[3] = float32(math.NaN())
	if s, err := m.Score([]byte("the cat sat"), 64); err == nil || !strings.Contains(err.Error(), "not finite") {
		t.Fatalf("score %+v, error %v; want an error saying the prediction is not finite", s, err)
	}
}

// TestSessionTurnCostsOnlyItsTokens: a chat's second turn runs only its own tokens
// through the model (the history is in the recurrent state), and its reply equals
// generating from the whole conversation's text at once.
func TestSessionTurnCostsOnlyItsTokens(t *testing.T) {
	for _, family := range []string{"h3", "hybrid"} {
		m := tinyModel(t, family)
		greedy := sample.Options{}
		s, err := m.NewSession(greedy, 1)
		if err != nil {
			t.Fatal(err)
		}
		turn1, turn2 := []byte("Hello there, "), []byte("and how are you today?")
		if err := s.Feed(turn1); err != nil {
			t.Fatal(err)
		}
		reply1, err := s.Reply(9, nil)
		if err != nil {
			t.Fatal(err)
		}
		before := s.Cost()
		if err := s.Feed(turn2); err != nil {
			t.Fatal(err)
		}
		var streamed []byte
		reply2, err := s.Reply(12, func(b []byte) error { streamed = append(streamed, b...); return nil })
		if err != nil {
			t.Fatal(err)
		}
		// The reply's first token is drawn from turn 2's last logits and its last is
		// never fed: 1 (reply 1's last token) + len(turn2) + 12 − 1 positions.
		if got, want := s.Cost()-before, len(turn2)+12; got != want {
			t.Errorf("%s: the second turn ran %d positions through the model, want its %d new tokens", family, got, want)
		}
		whole := append(append(append([]byte{}, turn1...), reply1...), turn2...)
		want, err := m.Generate(whole, 12, greedy, 1)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(reply2, want) || !bytes.Equal(streamed, reply2) {
			t.Errorf("%s: second reply %q (streamed %q), generating from the whole text %q", family, reply2, streamed, want)
		}
	}
}

// TestGenerateReturnsOnlyTheContinuation pins what the README says.
func TestGenerateReturnsOnlyTheContinuation(t *testing.T) {
	m := tinyModel(t, "h3")
	prompt := []byte("It is a truth")
	out, err := m.Generate(prompt, 7, sample.Options{}, 1)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := m.GenerateIDs(m.Tokenizer.Encode(prompt), 7, sample.Options{}, tensor.NewRNG(1))
	if err != nil {
		t.Fatal(err)
	}
	dec, _ := m.Tokenizer.Decode(ids)
	if len(out) != 7 || !bytes.Equal(out, dec) {
		t.Fatalf("Generate returned %q, GenerateIDs %q; want the 7 new bytes only", out, dec)
	}
}
