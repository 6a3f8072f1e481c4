package train_test

import (
	"testing"

	"github.com/hungry-ssm/hungry"
	"github.com/hungry-ssm/hungry/data"
	"github.com/hungry-ssm/hungry/model"
	"github.com/hungry-ssm/hungry/tensor"
	"github.com/hungry-ssm/hungry/train"
)

// BenchmarkTrainStep times one optimizer step of the default model (hungry.DefaultSpec
// with the byte tokenizer) at the CLI's default batch of 16 windows of 256 tokens, the
// configuration `hungry train` runs. The tokens are a fixed pseudo-random byte stream:
// the cost of a step does not depend on what the bytes say.
func BenchmarkTrainStep(b *testing.B) {
	const batch, context = 16, 256
	cfg, err := hungry.DefaultSpec().ModelConfig(256, context)
	if err != nil {
		b.Fatal(err)
	}
	m, err := model.New(cfg, tensor.DefaultCPU(), 1)
	if err != nil {
		b.Fatal(err)
	}
	rng := tensor.NewRNG(7)
	tokens := make([]int32, 1<<16)
	for i := range tokens {
		tokens[i] = int32(rng.Uint64() % 256)
	}
	sampler, err := data.NewSampler(tokens, batch, context, 1)
	if err != nil {
		b.Fatal(err)
	}
	st := train.NewStepper(m, train.Options{Batch: batch, Context: context, Steps: 1000, LR: 3e-3, WeightDecay: 0.1}, 1000)
	// One step outside the timer: the first allocates optimizer state and warms the pools.
	if _, err := st.Run(sampler.Next); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := st.Run(sampler.Next); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*batch*context)/b.Elapsed().Seconds(), "tokens/s")
}
