//go:build unix

package train_test

import (
	"syscall"
	"testing"
	"time"

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
	cpu0 := processCPU()
	b.ResetTimer()
	for b.Loop() {
		if _, err := st.Run(sampler.Next); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*batch*context)/b.Elapsed().Seconds(), "tokens/s")
	// CPU time per step: on a machine shared with other work, wall time measures the
	// neighbours as much as the code; the process's CPU time much less so.
	b.ReportMetric(float64(processCPU()-cpu0)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
}

// processCPU is the user plus system time the process has used (0 where unavailable).
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
