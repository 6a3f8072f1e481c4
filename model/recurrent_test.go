package model

import (
	"math"
	"path/filepath"
	"testing"

	"github.com/hungry-ssm/hungry/safetensors"
	"github.com/hungry-ssm/hungry/tensor"
)

// stepTol bounds recurrent logits against the convolutional ones relative to the largest
// convolutional logit: the two forms round differently (FFT convolution in float32 versus
// a float64 recurrence), about 1e-6 apart after a few layers.
const stepTol = 1e-4

func TestStepMatchesConvolution(t *testing.T) {
	const batch, prefill = 2, 300
	for _, tc := range []struct {
		name      string
		headDim   int
		attn      []int
		disc      string
		positions int
		seqLen    int
	}{
		{"hybrid head_dim 1", 1, []int{1}, "zoh", 0, 2048},
		{"h3 head_dim 8", 8, nil, "bilinear", 0, 2048},
		// All attention with learned positions: the KV cache and the position offset.
		{"transformer", 1, []int{0, 1}, "zoh", 512, 512},
	} {
		seqLen := tc.seqLen
		cfg := DefaultConfig()
		cfg.DModel, cfg.NLayer, cfg.DInner, cfg.VocabSize = 16, 2, 32, 37
		cfg.HeadDim, cfg.SSMDiscretization = tc.headDim, tc.disc
		if tc.attn != nil {
			cfg.AttnLayerIdx, cfg.AttnNHeads = tc.attn, 2
		}
		cfg.MaxPositionEmbeddings = tc.positions
		dev := tensor.DefaultCPU()
		m, err := New(cfg, dev, 11)
		if err != nil {
			t.Fatal(err)
		}
		ids := randomIDs(tensor.NewRNG(12), batch*seqLen, cfg.VocabSize)
		conv, err := m.Logits(ids, batch, seqLen)
		if err != nil {
			t.Fatal(err)
		}
		want := conv.Data()
		v := cfg.VocabSize
		scale := 0.0
		for _, x := range want {
			scale = math.Max(scale, math.Abs(float64(x)))
		}

		st, err := m.NewState(batch)
		if err != nil {
			t.Fatal(err)
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
				worst = math.Max(worst, math.Abs(float64(got[j])-float64(want[(b*seqLen+pos)*v+j]))/scale)
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
		t.Logf("%s: worst step-vs-convolution error %.2e of the largest logit", tc.name, worst)
		if worst > stepTol {
			t.Errorf("%s: recurrent logits differ by %.3g > %g", tc.name, worst, stepTol)
		}
		if st.Pos() != seqLen {
			t.Errorf("state at position %d after %d tokens", st.Pos(), seqLen)
		}
	}
}

func TestStateRejectsMisuse(t *testing.T) {
	cfg := smallConfig()
	m, _ := New(cfg, tensor.DefaultCPU(), 1)
	if _, err := m.NewState(0); err == nil {
		t.Error("an empty batch was accepted")
	}
	st, _ := m.NewState(1)
	if _, err := st.Step([]int32{1, 2}); err == nil {
		t.Error("two tokens for a batch of one were accepted")
	}
	for i := 0; i < cfg.MaxPositionEmbeddings; i++ {
		if _, err := st.Step([]int32{1}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.Step([]int32{1}); err == nil {
		t.Error("stepping past max_position_embeddings was accepted")
	}
	if _, err := st.Prefill([]int32{1}, 1); err == nil {
		t.Error("prefill of a used state was accepted")
	}
}

func TestStepMatchesGolden(t *testing.T) {
	// The PyTorch logits of the golden LMs, reproduced token by token after a short prefill.
	dev := tensor.DefaultCPU()
	for _, name := range []string{"lm_h3_hd8", "lm_hybrid"} {
		dir := filepath.Join("..", "testdata", "golden", name)
		m, err := Load(dir, dev)
		if err != nil {
			t.Fatal(err)
		}
		f, err := safetensors.ReadFile(filepath.Join(dir, "io.safetensors"))
		if err != nil {
			t.Fatal(err)
		}
		x, err := f.Tensor("input_ids")
		if err != nil {
			t.Fatal(err)
		}
		ids64, err := x.Int64()
		if err != nil {
			t.Fatal(err)
		}
		want, _, err := f.F32("logits")
		if err != nil {
			t.Fatal(err)
		}
		batch, seqLen, v := x.Shape[0], x.Shape[1], m.Config.VocabSize
		st, err := m.NewState(batch)
		if err != nil {
			t.Fatal(err)
		}
		const prefill = 5
		first := make([]int32, batch*prefill)
		for b := 0; b < batch; b++ {
			for p := 0; p < prefill; p++ {
				first[b*prefill+p] = int32(ids64[b*seqLen+p])
			}
		}
		got := make([]float32, len(want))
		pre, err := st.Prefill(first, prefill)
		if err != nil {
			t.Fatal(err)
		}
		for b := 0; b < batch; b++ {
			copy(got[b*seqLen*v:], pre.Data()[b*prefill*v:(b+1)*prefill*v])
		}
		tok := make([]int32, batch)
		for pos := prefill; pos < seqLen; pos++ {
			for b := range tok {
				tok[b] = int32(ids64[b*seqLen+pos])
			}
			out, err := st.Step(tok)
			if err != nil {
				t.Fatal(err)
			}
			for b := 0; b < batch; b++ {
				copy(got[(b*seqLen+pos)*v:], out.Data()[b*v:(b+1)*v])
			}
		}
		e := relErr(got, want)
		t.Logf("%s: recurrent logits vs PyTorch: relative error %.2e", name, e)
		if e > goldenLogitTol {
			t.Errorf("%s: recurrent logits differ from PyTorch by %.3g > %g", name, e, goldenLogitTol)
		}
	}
}
