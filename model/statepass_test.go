package model

import (
	"fmt"
	"math"
	"os"
	"testing"

	"github.com/hungry-ssm/hungry/autograd"
	"github.com/hungry-ssm/hungry/tensor"
)

// singleShotNLL scores ids from one forward pass of the whole sequence, as the
// convolutional path always did.
func singleShotNLL(t *testing.T, m *LM, ids []int32, from int) float64 {
	t.Helper()
	n := len(ids) - 1
	m.SetChunk(n)
	defer m.SetChunk(0)
	logits, err := m.Logits(ids[:n], 1, n)
	if err != nil {
		t.Fatal(err)
	}
	v := m.Config.VocabSize
	sum := 0.0
	for p := from; p < n; p++ {
		sum += nll(logits.Data()[p*v:(p+1)*v], ids[p+1])
	}
	return sum
}

func smallLM(t *testing.T, headDim int, disc string, attn []int) *LM {
	t.Helper()
	cfg := DefaultConfig()
	cfg.DModel, cfg.NLayer, cfg.DInner, cfg.VocabSize, cfg.DState = 16, 2, 32, 37, 16
	cfg.HeadDim, cfg.SSMDiscretization = headDim, disc
	if attn != nil {
		cfg.AttnLayerIdx, cfg.AttnNHeads = attn, 2
	}
	m, err := New(cfg, tensor.DefaultCPU(), 5)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestScoreNLLMatchesSingleShot scores a sequence a chunk at a time (chunks that do and
// do not divide it) and compares with one forward pass; the hybrid falls back to it.
func TestScoreNLLMatchesSingleShot(t *testing.T) {
	const l = 700
	ids := randomIDs(tensor.NewRNG(6), l, 37)
	for _, tc := range []struct {
		headDim int
		disc    string
		attn    []int
	}{{1, "zoh", nil}, {4, "bilinear", nil}, {1, "zoh", []int{1}}} {
		m := smallLM(t, tc.headDim, tc.disc, tc.attn)
		for _, chunk := range []int{64, 100, 1000} {
			for _, from := range []int{0, 250} {
				t.Run(fmt.Sprintf("head_dim %d %s attn %v chunk %d from %d", tc.headDim, tc.disc, tc.attn, chunk, from), func(t *testing.T) {
					want := singleShotNLL(t, m, ids, from)
					m.SetChunk(chunk)
					defer m.SetChunk(0)
					got, count, err := m.ScoreNLL(ids, from)
					if err != nil {
						t.Fatal(err)
					}
					if count != l-1-from {
						t.Errorf("%d predictions, want %d", count, l-1-from)
					}
					if e := math.Abs(got-want) / math.Abs(want); !(e <= 1e-6) {
						t.Errorf("NLL %.9g, single-shot %.9g: %.3g relative", got, want, e)
					}
				})
			}
		}
	}
}

func TestScoreNLLRejectsBadInput(t *testing.T) {
	m := smallLM(t, 1, "zoh", nil)
	for name, run := range map[string]func() error{
		"one token":  func() error { _, _, err := m.ScoreNLL([]int32{1}, 0); return err },
		"from past":  func() error { _, _, err := m.ScoreNLL([]int32{1, 2, 3}, 2); return err },
		"negative":   func() error { _, _, err := m.ScoreNLL([]int32{1, 2, 3}, -1); return err },
		"bad token":  func() error { _, _, err := m.ScoreNLL([]int32{1, 99, 3}, 0); return err },
		"batch of 2": func() error { st, _ := m.NewState(2); _, err := st.PrefillLast([]int32{1, 2}); return err },
		"empty":      func() error { st, _ := m.NewState(1); _, err := st.PrefillLast(nil); return err },
		"not fresh": func() error {
			st, _ := m.NewState(1)
			st.Step([]int32{1})
			_, err := st.PrefillLast([]int32{1})
			return err
		},
		"bad prompt": func() error { st, _ := m.NewState(1); _, err := st.PrefillLast([]int32{-1}); return err },
	} {
		if run() == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// checkPrefillLast prefills the first prefill tokens of ids a chunk at a time, steps the
// rest, and returns the largest difference from the convolutional logits relative to the
// largest logit.
func checkPrefillLast(t *testing.T, m *LM, ids []int32, prefill int) float64 {
	t.Helper()
	l := len(ids)
	chunk := m.ChunkLen()
	m.SetChunk(l)
	conv, err := m.Logits(ids, 1, l)
	m.SetChunk(chunk)
	if err != nil {
		t.Fatal(err)
	}
	v := m.Config.VocabSize
	want := conv.Data()
	scale := 0.0
	for _, x := range want {
		scale = math.Max(scale, math.Abs(float64(x)))
	}
	st, err := m.NewState(1)
	if err != nil {
		t.Fatal(err)
	}
	last, err := st.PrefillLast(ids[:prefill])
	if err != nil {
		t.Fatal(err)
	}
	worst := 0.0
	compare := func(pos int, got []float32) {
		for j := 0; j < v; j++ {
			worst = math.Max(worst, math.Abs(float64(got[j])-float64(want[pos*v+j]))/scale)
		}
	}
	compare(prefill-1, last.Host())
	for pos := prefill; pos < l; pos++ {
		out, err := st.Step(ids[pos : pos+1])
		if err != nil {
			t.Fatal(err)
		}
		compare(pos, out.Host())
	}
	return worst
}

// TestPrefillLastThenStep prefills chunk by chunk and steps on: every logit must be the
// convolutional form's.
func TestPrefillLastThenStep(t *testing.T) {
	ids := randomIDs(tensor.NewRNG(7), 400, 37)
	for _, tc := range []struct {
		headDim int
		disc    string
		attn    []int
	}{{1, "zoh", nil}, {2, "bilinear", nil}, {1, "zoh", []int{1}}} {
		m := smallLM(t, tc.headDim, tc.disc, tc.attn)
		m.SetChunk(64)
		worst := checkPrefillLast(t, m, ids, 350)
		t.Logf("head_dim %d %s attn %v: worst %.2e", tc.headDim, tc.disc, tc.attn, worst)
		if !(worst <= stepTol) {
			t.Errorf("head_dim %d %s attn %v: logits differ by %.3g > %g", tc.headDim, tc.disc, tc.attn, worst, stepTol)
		}
	}
}

// TestPrefillLastLong is the acceptance check: the default model (4 layers,
// d_model 128, byte vocabulary) prefilled with 100,000 tokens a chunk at a time and
// stepped on; its logits at position 100,000 (and a few after) must be within 1e-4 of
// the convolutional ones. It runs only with HUNGRY_LONG_TESTS=1.
func TestPrefillLastLong(t *testing.T) {
	if testing.Short() || os.Getenv("HUNGRY_LONG_TESTS") == "" {
		t.Skip("set HUNGRY_LONG_TESTS=1 to run the 100,000-token prefill")
	}
	cfg := DefaultConfig()
	cfg.DModel, cfg.NLayer, cfg.VocabSize = 128, 4, 256
	m, err := New(cfg, tensor.DefaultCPU(), 8)
	if err != nil {
		t.Fatal(err)
	}
	ids := randomIDs(tensor.NewRNG(9), 100_004, 256)
	worst := checkPrefillLast(t, m, ids, 100_000)
	t.Logf("positions 99,999 to 100,003: worst difference %.3g of the largest logit", worst)
	if !(worst <= 1e-4) {
		t.Errorf("logits differ by %.3g > 1e-4", worst)
	}
}

// TestLongTrainingGradients trains past one chunk, where the mixers and MLPs are
// recomputed in the backward pass and the H3 convolutions pass state, and compares every
// parameter's gradient with one single-shot pass that keeps its activations.
func TestLongTrainingGradients(t *testing.T) {
	const l = 300
	for _, hd := range []int{1, 2} {
		m := smallLM(t, hd, "bilinear", nil)
		ids := randomIDs(tensor.NewRNG(10), 2*l, 37)
		grads := func(chunk int) [][]float32 {
			m.SetChunk(chunk)
			defer m.SetChunk(0)
			for _, p := range m.Params() {
				p.ZeroGrad()
			}
			g := autograd.NewGraph()
			logits := m.Forward(g, ids, 2, l, true, tensor.NewRNG(11))
			if err := g.Backward(autograd.CrossEntropy(g, logits, ids, -100)); err != nil {
				t.Fatal(err)
			}
			var out [][]float32
			for _, p := range m.Params() {
				out = append(out, p.GradTensor().Data())
			}
			return out
		}
		want, got := grads(l), grads(64)
		worst := 0.0
		for i, p := range m.Params() {
			num, den := 0.0, 0.0
			for j := range want[i] {
				num = math.Max(num, math.Abs(float64(got[i][j])-float64(want[i][j])))
				den = math.Max(den, math.Abs(float64(want[i][j])))
			}
			if den > 0 && !(num/den <= 1e-5) {
				t.Errorf("head_dim %d: gradient of %s differs by %.3g relative", hd, p.Name, num/den)
			}
			if den > 0 {
				worst = math.Max(worst, num/den)
			}
		}
		t.Logf("head_dim %d: largest relative gradient difference %.3g", hd, worst)
	}
}
