package gpu

import (
	"fmt"
	"testing"
	"time"

	"github.com/hungry-ssm/hungry/data"
	"github.com/hungry-ssm/hungry/model"
	"github.com/hungry-ssm/hungry/tensor"
	"github.com/hungry-ssm/hungry/train"
)

// The tests and benchmarks named *GPU* need a real GPU and skip with a message without
// one; scripts/gpu-check.sh runs them on a GPU machine.

func openGPU(tb testing.TB) *Device {
	tb.Helper()
	dev, err := Open(0)
	if err != nil {
		if IsUnavailable(err) {
			tb.Skipf("no GPU here (%v): run scripts/gpu-check.sh on a GPU machine", err)
		}
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := dev.Close(); err != nil {
			tb.Error(err)
		}
	})
	return dev
}

// TestGPUKernelsSmall runs every case of the interpreter tests on the GPU: the same PTX,
// JIT-compiled by the driver and run by the hardware.
func TestGPUKernelsSmall(t *testing.T) {
	dev := openGPU(t)
	t.Run("MatMul", func(t *testing.T) { testMatMul(t, dev, 37, 70, 33) })
	t.Run("SquaredNorm", func(t *testing.T) { testSquaredNorm(t, dev, 1, 31, 4097, 9000) })
	for _, g := range []struct {
		name  string
		cases []kernelCase
	}{{"elementwise", elementwiseCases()}, {"reduce", reduceCases()}, {"nn", nnCases()}, {"conv", convCases()},
		{"ssm", ssmCases()}, {"optim", optimCases()}} {
		t.Run(g.name, func(t *testing.T) { runCases(t, dev, g.cases) })
	}
}

// TestGPUKernelsFullSize checks every kernel at the sizes of a 125M-parameter model
// (d_model 768, 8 sequences of 1024 tokens, GPT-2's vocabulary) against the CPU.
func TestGPUKernelsFullSize(t *testing.T) {
	dev := openGPU(t)
	const b, l, d, v = 8, 1024, 768, 50257
	t.Run("MatMul", func(t *testing.T) { testMatMul(t, dev, 1024+7, 3*768, 768) })
	t.Run("SquaredNorm", func(t *testing.T) { testSquaredNorm(t, dev, 1<<24+3) })
	ids := make([]int32, b*l)
	for i := range ids {
		ids[i] = int32((i * 7919) % v)
	}
	ids[5] = -100
	cases := []kernelCase{
		{name: "Binary", rtol: rtolF32, run: func(in *inputs) []*tensor.Tensor {
			x, bias := in.t(b, l, d), in.t(d)
			out := in.dev.Zeros(b, l, d)
			in.dev.Binary(tensor.OpAdd, out, x, bias)
			in.dev.Binary(tensor.OpMul, x, x, out)
			return []*tensor.Tensor{out, x}
		}},
		{name: "BinaryBackward", rtol: rtolF32, run: func(in *inputs) []*tensor.Tensor {
			a, bias, g := in.t(b, l, d), in.t(d), in.t(b, l, d)
			da, db := in.dev.Zeros(b, l, d), in.dev.Zeros(d)
			in.dev.BinaryBackward(tensor.OpMul, da, db, g, a, bias)
			return []*tensor.Tensor{da, db}
		}},
		{name: "GELU", rtol: rtolF32, run: func(in *inputs) []*tensor.Tensor {
			x, g := in.t(b, l, 4*d), in.t(b, l, 4*d)
			y, dx := in.dev.Zeros(b, l, 4*d), in.dev.Zeros(b, l, 4*d)
			in.dev.Unary(tensor.OpGELU, y, x)
			in.dev.UnaryBackward(tensor.OpGELU, dx, g, x, y)
			return []*tensor.Tensor{y, dx}
		}},
		{name: "Permute", rtol: rtolF32, run: func(in *inputs) []*tensor.Tensor {
			x := in.t(b, l, 3, 12, 64)
			out := in.dev.Zeros(3, b, 12, l, 64)
			in.dev.Permute(out, x, []int{2, 0, 3, 1, 4}, false)
			return []*tensor.Tensor{out}
		}},
		{name: "SumAxis", rtol: rtolF32, run: func(in *inputs) []*tensor.Tensor {
			x := in.t(b*l, d)
			out := in.dev.Zeros(d)
			in.dev.SumAxis(out, x, 0, 1, false)
			dx := in.dev.Zeros(b*l, d)
			in.dev.BroadcastAxis(dx, out, 0, 0.5)
			return []*tensor.Tensor{out, dx}
		}},
		{name: "CausalSoftmax", rtol: rtolF32, run: func(in *inputs) []*tensor.Tensor {
			x, g := in.t(b, 12, l, l), in.t(b, 12, l, l)
			y, dx := in.dev.Zeros(b, 12, l, l), in.dev.Zeros(b, 12, l, l)
			in.dev.Softmax(y, x, tensor.SoftmaxCausal)
			in.dev.SoftmaxBackward(dx, g, y, tensor.SoftmaxCausal)
			return []*tensor.Tensor{y, dx}
		}},
		{name: "LayerNorm", rtol: rtolF32, run: func(in *inputs) []*tensor.Tensor {
			x, w, bb, g := in.t(b*l, d), in.t(d), in.t(d), in.t(b*l, d)
			out, mean, rstd := in.dev.Zeros(b*l, d), in.dev.Zeros(b*l), in.dev.Zeros(b*l)
			in.dev.LayerNorm(out, mean, rstd, x, w, bb, 1e-5)
			dx, dw, db := in.dev.Zeros(b*l, d), in.dev.Zeros(d), in.dev.Zeros(d)
			in.dev.LayerNormBackward(dx, dw, db, g, x, w, mean, rstd)
			return []*tensor.Tensor{out, dx, dw, db}
		}},
		{name: "Embedding", rtol: rtolF32, run: func(in *inputs) []*tensor.Tensor {
			table := in.t(v, d)
			good := append([]int32(nil), ids...)
			good[5] = 0
			out := in.dev.Zeros(b*l, d)
			in.dev.Gather(out, table, good)
			dt := in.dev.Zeros(v, d)
			in.dev.ScatterAdd(dt, out, good)
			return []*tensor.Tensor{out, dt}
		}},
		{name: "CrossEntropy", rtol: rtolF32, run: func(in *inputs) []*tensor.Tensor {
			logits := in.t(b*l/2, v)
			loss, lse := in.dev.Zeros(b*l/2), in.dev.Zeros(b*l/2)
			in.dev.CrossEntropy(loss, lse, logits, ids[:b*l/2], -100)
			dl := in.dev.Zeros(b*l/2, v)
			in.dev.CrossEntropyBackward(dl, in.t(b*l/2), logits, lse, ids[:b*l/2], -100)
			return []*tensor.Tensor{loss, lse, dl}
		}},
		{name: "ShortConv", rtol: rtolF32, run: func(in *inputs) []*tensor.Tensor {
			u, k, skip, dy := in.t(b, l, d), in.t(d, 64), in.t(d), in.t(b, l, d)
			y := in.dev.Zeros(b, l, d)
			in.dev.ShortConv(y, u, k, skip)
			du, dk, dd := in.dev.Zeros(b, l, d), in.dev.Zeros(d, 64), in.dev.Zeros(d)
			in.dev.ShortConvBackward(du, dk, dd, dy, u, k, skip)
			return []*tensor.Tensor{y, du, dk, dd}
		}},
		{name: "CausalConv", rtol: rtolF32, run: func(in *inputs) []*tensor.Tensor {
			u, k, skip, dy := in.t(b, l, d), in.t(d, l), in.t(d), in.t(b, l, d)
			y := in.dev.Zeros(b, l, d)
			in.dev.CausalConv(y, u, k, skip)
			du, dk, dd := in.dev.Zeros(b, l, d), in.dev.Zeros(d, l), in.dev.Zeros(d)
			in.dev.CausalConvBackward(du, dk, dd, dy, u, k, skip)
			return []*tensor.Tensor{y, du, dk, dd}
		}},
		{name: "ShiftSSMKernel", rtol: rtolF32, run: func(in *inputs) []*tensor.Tensor {
			bb, c, g := in.t(d, 64), in.t(1, d, 64), in.t(d, 64)
			k := in.dev.Zeros(d, 64)
			in.dev.ShiftSSMKernel(k, bb, c)
			db, dc := in.dev.Zeros(d, 64), in.dev.Zeros(1, d, 64)
			in.dev.ShiftSSMKernelBackward(g, bb, c, db, dc)
			return []*tensor.Tensor{k, db, dc}
		}},
		{name: "AdamW", rtol: rtolF32, run: func(in *inputs) []*tensor.Tensor {
			const n = 1<<24 + 3
			p, g, m, vv := in.t(n), in.t(n), in.t(n), in.pos(n)
			in.dev.AdamW(p, g, m, vv, tensor.AdamWStep{LR: 1e-3, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.1, GradScale: 1, Step: 10})
			return []*tensor.Tensor{p, m, vv}
		}},
	}
	runCases(t, dev, cases)
}

// TestGPUTrainingStep compares training steps on the GPU with the CPU's: the tiny models
// of the interpreter test and a mid-sized hybrid.
func TestGPUTrainingStep(t *testing.T) {
	dev := openGPU(t)
	for _, attention := range []bool{false, true} {
		t.Run(fmt.Sprintf("tiny/attention=%v", attention), func(t *testing.T) {
			testTrainingStep(t, dev, tinyConfig(attention), 2, 12)
		})
	}
	t.Run("d256", func(t *testing.T) {
		cfg := tinyConfig(true)
		cfg.DModel, cfg.NLayer, cfg.VocabSize, cfg.DState, cfg.AttnNHeads = 256, 4, 512, 64, 4
		cfg.MaxPositionEmbeddings = 256
		testTrainingStep(t, dev, cfg, 4, 256)
	})
}

// BenchmarkGPUSgemm times C = A·B on the tensor cores (TF32) for square sizes.
func BenchmarkGPUSgemm(b *testing.B) {
	dev := openGPU(b)
	for _, n := range []int{1024, 2048, 4096, 8192} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			in := newInputs(dev, 1)
			x, y := in.t(n, n), in.t(n, n)
			c := dev.Zeros(n, n)
			dev.MatMul(c, x, y, false, false, false)
			if err := dev.Synchronize(); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			start := time.Now()
			for i := 0; i < b.N; i++ {
				dev.MatMul(c, x, y, false, false, false)
			}
			if err := dev.Synchronize(); err != nil {
				b.Fatal(err)
			}
			sec := time.Since(start).Seconds()
			b.ReportMetric(2*float64(n)*float64(n)*float64(n)*float64(b.N)/sec/1e12, "TFLOP/s")
		})
	}
}

// BenchmarkGPUTrainStep times optimizer steps of a 125M-parameter H3 LM (12 layers,
// d_model 768, 8 × 1024 tokens, GPT-2 vocabulary).
func BenchmarkGPUTrainStep(b *testing.B) {
	dev := openGPU(b)
	cfg := model.DefaultConfig()
	cfg.DModel, cfg.NLayer, cfg.VocabSize = 768, 12, 50257
	cfg.EmbedDropout = 0
	const rows, context = 8, 1024
	m, err := model.New(cfg, dev, 1)
	if err != nil {
		b.Fatal(err)
	}
	batch := tinyBatch(rows, context, cfg.VocabSize, 1)
	s := train.NewStepper(m, train.Options{Batch: rows, Context: context, Steps: 100, LR: 6e-4, WeightDecay: 0.1}, 100)
	next := func() data.Batch { return batch }
	if _, err := s.Run(next); err != nil {
		b.Fatal(err)
	}
	dev.ResetCounters()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		if _, err := s.Run(next); err != nil {
			b.Fatal(err)
		}
	}
	if err := dev.Synchronize(); err != nil {
		b.Fatal(err)
	}
	sec := time.Since(start).Seconds()
	b.ReportMetric(float64(rows*context*b.N)/sec, "tokens/s")
	b.ReportMetric(sec/float64(b.N)*1e3, "ms/step")
	fb := dev.HostFallbacks()
	for k, n := range fb {
		b.Logf("host fallback %s: %d per step", k, n/b.N)
	}
}
