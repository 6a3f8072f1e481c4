package model

import (
	"math"
	"testing"

	"github.com/hungry-ssm/hungry/tensor"
)

// TestStepAblations generates with the synthetic tasks' ablation mixers (the S4D and
// shift mixers, beside an attention layer with learned positions): their recurrent forms
// are H3's step with one SSM passed through, and must reproduce the convolutional logits
// to stepTol as H3's do.
func TestStepAblations(t *testing.T) {
	const batch, prefill, seqLen = 2, 3, 16
	for _, mixer := range []string{MixerS4D, MixerShift} {
		cfg := smallConfig()
		cfg.Mixer = mixer
		m, err := New(cfg, tensor.DefaultCPU(), 5)
		if err != nil {
			t.Fatal(err)
		}
		ids := randomIDs(tensor.NewRNG(6), batch*seqLen, cfg.VocabSize)
		conv, err := m.Logits(ids, batch, seqLen)
		if err != nil {
			t.Fatal(err)
		}
		want, v := conv.Data(), cfg.VocabSize
		scale := 0.0
		for _, x := range want {
			scale = math.Max(scale, math.Abs(float64(x)))
		}
		st, err := m.NewState(batch)
		if err != nil {
			t.Fatalf("%s: %v", mixer, err)
		}
		first := make([]int32, batch*prefill)
		for b := 0; b < batch; b++ {
			copy(first[b*prefill:], ids[b*seqLen:b*seqLen+prefill])
		}
		pre, err := st.Prefill(first, prefill)
		if err != nil {
			t.Fatal(err)
		}
		worst := 0.0
		compare := func(b, pos int, got []float32) {
			for j := 0; j < v; j++ {
				if e := math.Abs(float64(got[j])-float64(want[(b*seqLen+pos)*v+j])) / scale; !(e <= worst) {
					worst = e
				}
			}
		}
		for b := 0; b < batch; b++ {
			for p := 0; p < prefill; p++ {
				compare(b, p, pre.Data()[(b*prefill+p)*v:])
			}
		}
		tok := make([]int32, batch)
		for pos := prefill; pos < seqLen; pos++ {
			for b := range tok {
				tok[b] = ids[b*seqLen+pos]
			}
			out, err := st.Step(tok)
			if err != nil {
				t.Fatal(err)
			}
			for b := 0; b < batch; b++ {
				compare(b, pos, out.Data()[b*v:])
			}
		}
		t.Logf("%s: worst step-vs-convolution error %.2e of the largest logit", mixer, worst)
		if !(worst <= stepTol) {
			t.Errorf("%s: recurrent logits differ by %.3g > %g", mixer, worst, stepTol)
		}
	}
}
