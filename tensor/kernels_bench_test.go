package tensor

import "testing"

// Benchmarks of the heavy non-matmul kernels at the sizes of a 125M-parameter model's
// step (d = 768, sequence 512, GPT-2 vocabulary). b.SetBytes counts the bytes each kernel
// must at least read and write, so the reported MB/s compares with memory bandwidth.

func benchTensors(b *testing.B, shapes ...[]int) []*Tensor {
	b.Helper()
	rng := NewRNG(1)
	out := make([]*Tensor, len(shapes))
	for i, s := range shapes {
		out[i] = RandNormal(DefaultCPU(), rng, 1, s...)
	}
	return out
}

func BenchmarkGELU(b *testing.B) {
	t := benchTensors(b, []int{512, 3072}, []int{512, 3072})
	b.SetBytes(2 * 4 * int64(t[0].Numel()))
	for b.Loop() {
		DefaultCPU().Unary(OpGELU, t[1], t[0])
	}
}

func BenchmarkGELUBackward(b *testing.B) {
	t := benchTensors(b, []int{512, 3072}, []int{512, 3072}, []int{512, 3072})
	b.SetBytes(3 * 4 * int64(t[0].Numel()))
	for b.Loop() {
		DefaultCPU().UnaryBackward(OpGELU, t[2], t[1], t[0], t[0])
	}
}

func BenchmarkAddBias(b *testing.B) {
	t := benchTensors(b, []int{512, 3072}, []int{3072})
	b.SetBytes(2 * 4 * int64(t[0].Numel()))
	for b.Loop() {
		DefaultCPU().Binary(OpAdd, t[0], t[0], t[1])
	}
}

func BenchmarkBiasGrad(b *testing.B) {
	t := benchTensors(b, []int{512, 3072}, []int{3072})
	b.SetBytes(4 * int64(t[0].Numel()))
	for b.Loop() {
		DefaultCPU().BinaryBackward(OpAdd, nil, t[1], t[0], t[0], t[1])
	}
}

func BenchmarkCausalSoftmax(b *testing.B) {
	t := benchTensors(b, []int{12, 512, 512}, []int{12, 512, 512})
	b.SetBytes(2 * 4 * int64(t[0].Numel()))
	for b.Loop() {
		DefaultCPU().Softmax(t[1], t[0], SoftmaxCausal)
	}
}

func BenchmarkLayerNorm(b *testing.B) {
	t := benchTensors(b, []int{512, 768}, []int{512, 768}, []int{768}, []int{768}, []int{512}, []int{512})
	b.SetBytes(2 * 4 * int64(t[0].Numel()))
	for b.Loop() {
		DefaultCPU().LayerNorm(t[1], t[4], t[5], t[0], t[2], t[3], 1e-5)
	}
}

func BenchmarkLayerNormBackward(b *testing.B) {
	t := benchTensors(b, []int{512, 768}, []int{512, 768}, []int{768}, []int{768}, []int{512}, []int{512}, []int{512, 768}, []int{768}, []int{768})
	DefaultCPU().LayerNorm(t[1], t[4], t[5], t[0], t[2], t[3], 1e-5)
	b.SetBytes(3 * 4 * int64(t[0].Numel()))
	for b.Loop() {
		DefaultCPU().LayerNormBackward(t[6], t[7], t[8], t[1], t[0], t[2], t[4], t[5])
	}
}

func BenchmarkCrossEntropy(b *testing.B) {
	const rows, v = 64, 50257
	t := benchTensors(b, []int{rows, v}, []int{rows}, []int{rows}, []int{rows, v})
	targets := make([]int32, rows)
	for i := range targets {
		targets[i] = int32(i * 331 % v)
	}
	b.SetBytes(4 * int64(rows*v))
	b.Run("forward", func(b *testing.B) {
		for b.Loop() {
			DefaultCPU().CrossEntropy(t[1], t[2], t[0], targets, -100)
		}
	})
	b.Run("backward", func(b *testing.B) {
		b.SetBytes(3 * 4 * int64(rows*v))
		for b.Loop() {
			DefaultCPU().CrossEntropyBackward(t[3], t[1], t[0], t[2], targets, -100)
		}
	})
}

func BenchmarkPermuteAttention(b *testing.B) {
	// (B, L, 3, H, Dh) → (3, B, H, L, Dh), attention's head split.
	t := benchTensors(b, []int{2, 512, 3, 12, 64}, []int{3, 2, 12, 512, 64})
	b.SetBytes(2 * 4 * int64(t[0].Numel()))
	for b.Loop() {
		DefaultCPU().Permute(t[1], t[0], []int{2, 0, 3, 1, 4}, false)
	}
}

func BenchmarkTranspose(b *testing.B) {
	t := benchTensors(b, []int{768, 2048}, []int{2048, 768})
	b.SetBytes(2 * 4 * int64(t[0].Numel()))
	for b.Loop() {
		DefaultCPU().Permute(t[1], t[0], []int{1, 0}, false)
	}
}
