//go:build unix

package train_test

import (
	"runtime"
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
	benchStep(b, cfg, batch, context)
}

// BenchmarkTrainStepBenchShape times the step `hungry bench` and scripts/torch-compare.py
// time: d_model 256, 4 layers, d_inner 1024, byte vocabulary, 16 windows of 256 tokens.
// Its cpu-ms/op compares with the script's CPU time for torch's step where the machine
// is too busy for wall times to mean much.
func BenchmarkTrainStepBenchShape(b *testing.B) {
	cfg := model.DefaultConfig()
	cfg.DModel, cfg.NLayer, cfg.DInner, cfg.VocabSize, cfg.EmbedDropout = 256, 4, 1024, 256, 0
	benchStep(b, cfg, 16, 256)
}

func benchStep(b *testing.B, cfg model.Config, batch, context int) {
	m, err := model.New(cfg, tensor.DefaultCPU(), 1)
	if err != nil {
		b.Fatal(err)
	}
	rng := tensor.NewRNG(7)
	tokens := make([]int32, 1<<16)
	for i := range tokens {
		tokens[i] = int32(rng.Uint64() % uint64(cfg.VocabSize))
	}
	sampler, err := data.NewSampler(tokens, batch, context, 1)
	if err != nil {
		b.Fatal(err)
	}
	st := train.NewStepper(m, train.Options{Batch: batch, Context: context, Steps: 1000, LR: 3e-3, WeightDecay: 0.1}, 1000)
	// Steps outside the timer: the first allocates the optimizer state and sizes the
	// step's arena, the second the parameters' gradient buffers.
	for range 2 {
		if _, err := st.Run(sampler.Next); err != nil {
			b.Fatal(err)
		}
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

// TestTrainStepAllocations checks that a training step after warm-up takes almost no
// memory from the Go heap: the Stepper's arena serves the activations, their gradients
// and the ops' scratch, and the parameters keep their gradient buffers between steps.
// The model is the default one made small (d 64, 2 layers, 2 windows of 64 tokens) so the
// test runs in a moment; the step runs the same ops as at full size.
//
// What remains are small objects, not buffers: the backward functions the autograd ops
// put on the tape (about 85 a step here), the closures of kernels' parallel loops (about
// 35: one per call of a kernel not written to run inline without one), views' headers
// and the sampler's batch.
// Neither the parameter list, nor the optimizer's per-tensor loops, nor the worker pool,
// nor the kernels' work rows allocate any more. At the last count a step took 134
// allocations and about 9 KB; the bounds below leave a margin of about a fifth for
// changes in the model's ops, and fail on any return of per-step buffers.
func TestTrainStepAllocations(t *testing.T) {
	const batch, context = 2, 64
	spec := hungry.DefaultSpec()
	spec.DModel, spec.Layers = 64, 2
	cfg, err := spec.ModelConfig(256, context)
	if err != nil {
		t.Fatal(err)
	}
	dev := tensor.NewCPU(1)
	m, err := model.New(cfg, dev, 1)
	if err != nil {
		t.Fatal(err)
	}
	tokens := make([]int32, 4096)
	rng := tensor.NewRNG(3)
	for i := range tokens {
		tokens[i] = int32(rng.Uint64() % 256)
	}
	sampler, err := data.NewSampler(tokens, batch, context, 1)
	if err != nil {
		t.Fatal(err)
	}
	st := train.NewStepper(m, train.Options{Batch: batch, Context: context, Steps: 100, LR: 1e-3, WeightDecay: 0.1}, 100)
	step := func() {
		if _, err := st.Run(sampler.Next); err != nil {
			t.Fatal(err)
		}
	}
	// Three steps of warm-up: the first sizes the arena and the optimizer's state, the
	// second the gradient buffers the parameters keep, the third the matrix product's
	// packing buffers, which grow to the largest operand seen.
	for range 3 {
		step()
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	allocs := testing.AllocsPerRun(5, step)
	runtime.ReadMemStats(&after)
	perStep := float64(after.TotalAlloc-before.TotalAlloc) / 6 // AllocsPerRun adds a warm-up run
	t.Logf("after warm-up: %.0f allocations and %.0f bytes per step", allocs, perStep)
	// Before the arena a step allocated its activations and gradients, several times the
	// parameters' 630 KB; before the work rows and loop descriptors were recycled, 522
	// allocations and 130-320 KB.
	const maxAllocs, maxBytes = 160, 16 << 10
	if allocs > maxAllocs {
		t.Errorf("a step makes %.0f allocations, more than %d", allocs, maxAllocs)
	}
	if perStep > maxBytes {
		t.Errorf("a step allocates %.0f bytes, more than %d", perStep, maxBytes)
	}
}
