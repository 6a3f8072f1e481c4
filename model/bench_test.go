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
