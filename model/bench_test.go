package model

import (
	"fmt"
	"testing"

	"github.com/hungry-ssm/hungry/autograd"
	"github.com/hungry-ssm/hungry/tensor"
)

// BenchmarkTrainStep times one forward and backward pass of a small hybrid model through
// the loss, for head_dim 1 (the released models) and 8.
func BenchmarkTrainStep(b *testing.B) {
	for _, dh := range []int{1, 8} {
		b.Run(fmt.Sprintf("d256_L512_B2_hd%d", dh), func(b *testing.B) {
			cfg := DefaultConfig()
			cfg.DModel, cfg.NLayer, cfg.DInner, cfg.VocabSize = 256, 2, 1024, 256
			cfg.AttnLayerIdx, cfg.AttnNHeads, cfg.HeadDim = []int{1}, 4, dh
			m, err := New(cfg, tensor.DefaultCPU(), 1)
			if err != nil {
				b.Fatal(err)
			}
			const batch, seq = 2, 512
			rng := tensor.NewRNG(2)
			ids := randomIDs(rng, batch*seq, cfg.VocabSize)
			targets := randomIDs(rng, batch*seq, cfg.VocabSize)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				g := autograd.NewGraph()
				logits := m.Forward(g, ids, batch, seq, true, rng)
				loss := autograd.CrossEntropy(g, autograd.Reshape(g, logits, batch*seq, cfg.VocabSize), targets, -100)
				if err := g.Backward(loss); err != nil {
					b.Fatal(err)
				}
				for _, p := range m.Params() {
					p.ZeroGrad()
				}
			}
			b.ReportMetric(float64(b.N*batch*seq)/b.Elapsed().Seconds(), "tokens/s")
		})
	}
}

// BenchmarkStep times one recurrent step of the same model for a batch of 4.
func BenchmarkStep(b *testing.B) {
	for _, dh := range []int{1, 8} {
		b.Run(fmt.Sprintf("d256_B4_hd%d", dh), func(b *testing.B) {
			cfg := DefaultConfig()
			cfg.DModel, cfg.NLayer, cfg.DInner, cfg.VocabSize = 256, 2, 1024, 256
			cfg.AttnLayerIdx, cfg.AttnNHeads, cfg.HeadDim = []int{1}, 4, dh
			m, err := New(cfg, tensor.DefaultCPU(), 1)
			if err != nil {
				b.Fatal(err)
			}
			st, err := m.NewState(4)
			if err != nil {
				b.Fatal(err)
			}
			tok := []int32{1, 2, 3, 4}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := st.Step(tok); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkStepByPosition times a recurrent step of a pure H3 model after prompts of very
// different lengths: the cost must not grow with the position.
func BenchmarkStepByPosition(b *testing.B) {
	cfg := DefaultConfig()
	cfg.DModel, cfg.NLayer, cfg.DInner, cfg.VocabSize = 128, 4, 512, 256
	m, err := New(cfg, tensor.DefaultCPU(), 1)
	if err != nil {
		b.Fatal(err)
	}
	for _, pos := range []int{16, 4096} {
		b.Run(fmt.Sprintf("pos%d", pos), func(b *testing.B) {
			st, err := m.NewState(1)
			if err != nil {
				b.Fatal(err)
			}
			prompt := make([]int32, pos)
			for i := range prompt {
				prompt[i] = int32(i % 256)
			}
			if _, err := st.Prefill(prompt, pos); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := st.Step([]int32{int32(i % 256)}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
