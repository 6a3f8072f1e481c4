package simd

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/hungry-ssm/hungry/tensor/internal/parallel"
)

func benchmarkSgemm(b *testing.B, pool *parallel.Pool, kern gemmKernels, size int, transA, transB bool) {
	rng := rand.New(rand.NewPCG(1, 1))
	a := randomSlice(rng, 0, size*size)
	bm := randomSlice(rng, 0, size*size)
	c := make([]float32, size*size)
	times := make([]time.Duration, b.N)
	b.ResetTimer()
	for i := range b.N {
		t0 := time.Now()
		sgemmWith(kern, pool, transA, transB, size, size, size, 1, a, size, bm, size, 0, c, size)
		times[i] = time.Since(t0)
	}
	flops := 2 * float64(size) * float64(size) * float64(size) * float64(b.N)
	b.ReportMetric(flops/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	// On a shared machine the mean mixes in other processes' bursts; the minimum and the
	// median show what the kernels themselves do.
	slices.Sort(times)
	b.ReportMetric(float64(times[0].Nanoseconds())/1e6, "min-ms")
	b.ReportMetric(float64(times[b.N/2].Nanoseconds())/1e6, "median-ms")
}

// BenchmarkSgemm multiplies square matrices on a two-worker pool.
func BenchmarkSgemm(b *testing.B) {
	pool := parallel.New(2)
	for _, size := range []int{256, 512, 1024, 2048} {
		b.Run(fmt.Sprint(size), func(b *testing.B) { benchmarkSgemm(b, pool, activeGemmKernels(), size, false, false) })
	}
}

// BenchmarkSgemmFamilies compares the kernel families this processor runs on the same
// products, in one run: 1024³ on a two-worker pool and on one goroutine. The generic twin
// runs a smaller size only; at 1024³ it takes seconds per product.
func BenchmarkSgemmFamilies(b *testing.B) {
	pool := parallel.New(2)
	for _, im := range implementations() {
		size := 1024
		if im.name == "generic" {
			size = 256
		}
		b.Run(fmt.Sprintf("%s/%d", im.name, size), func(b *testing.B) { benchmarkSgemm(b, pool, im.gemm, size, false, false) })
		b.Run(fmt.Sprintf("%s/serial/%d", im.name, size), func(b *testing.B) { benchmarkSgemm(b, nil, im.gemm, size, false, false) })
	}
}

// BenchmarkSgemmSerial is BenchmarkSgemm on the calling goroutine only.
func BenchmarkSgemmSerial(b *testing.B) {
	for _, size := range []int{256, 512, 1024, 2048} {
		b.Run(fmt.Sprint(size), func(b *testing.B) { benchmarkSgemm(b, nil, activeGemmKernels(), size, false, false) })
	}
}

// BenchmarkSgemmTransposed covers the packing paths that gather strided data.
func BenchmarkSgemmTransposed(b *testing.B) {
	pool := parallel.New(2)
	for _, tr := range []struct {
		name   string
		ta, tb bool
	}{{"NT", false, true}, {"TN", true, false}, {"TT", true, true}} {
		b.Run(tr.name+"/1024", func(b *testing.B) { benchmarkSgemm(b, pool, activeGemmKernels(), 1024, tr.ta, tr.tb) })
	}
}

// BenchmarkSgemmGeneric measures the Go twin that builds without assembly run.
func BenchmarkSgemmGeneric(b *testing.B) {
	for _, size := range []int{256, 512} {
		b.Run(fmt.Sprint(size), func(b *testing.B) { benchmarkSgemm(b, nil, genericGemmKernels, size, false, false) })
	}
}

var vectorSizes = []int{64, 1024, 16384}

// The vector benchmarks run every family the processor has, side by side.

func BenchmarkDot(b *testing.B) {
	for _, im := range implementations() {
		for _, n := range vectorSizes {
			rng := rand.New(rand.NewPCG(2, 2))
			x, y := randomSlice(rng, 0, n)[:n], randomSlice(rng, 0, n)[:n]
			b.Run(fmt.Sprintf("%s/%d", im.name, n), func(b *testing.B) {
				b.SetBytes(int64(8 * n))
				var s float32
				for range b.N {
					s += im.dot(x, y)
				}
				sink = s
			})
		}
	}
}

func BenchmarkSum(b *testing.B) {
	for _, im := range implementations() {
		for _, n := range vectorSizes {
			x := randomSlice(rand.New(rand.NewPCG(3, 3)), 0, n)[:n]
			b.Run(fmt.Sprintf("%s/%d", im.name, n), func(b *testing.B) {
				b.SetBytes(int64(4 * n))
				var s float32
				for range b.N {
					s += im.sum(x)
				}
				sink = s
			})
		}
	}
}

var sink float32

func BenchmarkElementwise(b *testing.B) {
	for _, im := range implementations() {
		// bytes counts the floats each element moves: loads plus stores.
		ops := []struct {
			name  string
			bytes int
			run   func(dst, x, y []float32)
		}{
			{"Add", 12, im.add}, {"Sub", 12, im.sub}, {"Mul", 12, im.mul}, {"MulAdd", 16, im.mulAdd},
			{"Axpy", 12, func(dst, x, _ []float32) { im.axpy(0.5, x, dst) }},
			{"Scale", 8, func(dst, x, _ []float32) { im.scale(dst, 0.5, x) }},
		}
		for _, op := range ops {
			for _, n := range vectorSizes {
				rng := rand.New(rand.NewPCG(4, 4))
				dst, x, y := make([]float32, n), randomSlice(rng, 0, n)[:n], randomSlice(rng, 0, n)[:n]
				b.Run(fmt.Sprintf("%s/%s/%d", op.name, im.name, n), func(b *testing.B) {
					b.SetBytes(int64(op.bytes * n))
					for range b.N {
						op.run(dst, x, y)
					}
				})
			}
		}
	}
}

// BenchmarkSgemmRowVector is the generation-time shape: one row times a weight matrix,
// stored plainly (NN) or as nn.Linear stores it (NT).
func BenchmarkSgemmRowVector(b *testing.B) {
	pool := parallel.New(2)
	const k, n = 1024, 4096
	rng := rand.New(rand.NewPCG(5, 5))
	x, w, y := randomSlice(rng, 0, k)[:k], randomSlice(rng, 0, k*n)[:k*n], make([]float32, n)
	for _, tb := range []bool{false, true} {
		ldb := n
		if tb {
			ldb = k
		}
		b.Run(fmt.Sprintf("transB=%v", tb), func(b *testing.B) {
			b.SetBytes(4 * k * n)
			for range b.N {
				Sgemm(pool, false, tb, 1, n, k, 1, x, k, w, ldb, 0, y, n)
			}
		})
	}
}

// BenchmarkSgemmModelShapes times shapes from a GPT-2-small-sized model on two workers:
// a batch of 2048 tokens through a 768→768 and a 768→3072 layer (weights stored
// out×in, as nn.Linear keeps them), and 64 tokens through the 768→50257 output layer.
func BenchmarkSgemmModelShapes(b *testing.B) {
	pool := parallel.New(2)
	for _, sh := range []struct{ m, n, k int }{{2048, 768, 768}, {2048, 3072, 768}, {64, 50257, 768}} {
		b.Run(fmt.Sprintf("%dx%dx%d", sh.m, sh.n, sh.k), func(b *testing.B) {
			rng := rand.New(rand.NewPCG(6, 6))
			x := randomSlice(rng, 0, sh.m*sh.k)
			w := randomSlice(rng, 0, sh.n*sh.k)
			y := make([]float32, sh.m*sh.n)
			b.ResetTimer()
			for range b.N {
				Sgemm(pool, false, true, sh.m, sh.n, sh.k, 1, x, sh.k, w, sh.k, 0, y, sh.n)
			}
			b.ReportMetric(2*float64(sh.m)*float64(sh.n)*float64(sh.k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

// BenchmarkSgemmStrided is a batch of small products, as in per-head attention scores.
func BenchmarkSgemmStrided(b *testing.B) {
	pool := parallel.New(2)
	const batch, m, n, k = 48, 64, 64, 64
	rng := rand.New(rand.NewPCG(7, 7))
	a, bm := randomSlice(rng, 0, batch*m*k), randomSlice(rng, 0, batch*k*n)
	c := make([]float32, batch*m*n)
	b.ResetTimer()
	for range b.N {
		SgemmStrided(pool, false, true, batch, m, n, k, 1, a, m*k, k, bm, k*n, k, 0, c, m*n, n)
	}
	b.ReportMetric(2*batch*m*n*k*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

// BenchmarkSgemmSmallBatch is a recurrent step for a batch of 4 sequences through the
// linear layers of a d=256 model (weights stored out×in).
func BenchmarkSgemmSmallBatch(b *testing.B) {
	pool := parallel.New(2)
	const m = 4
	for _, sh := range []struct{ n, k int }{{256, 256}, {1024, 256}, {256, 1024}} {
		b.Run(fmt.Sprintf("%dx%dx%d", m, sh.n, sh.k), func(b *testing.B) {
			rng := rand.New(rand.NewPCG(8, 8))
			x := randomSlice(rng, 0, m*sh.k)
			w := randomSlice(rng, 0, sh.n*sh.k)
			y := make([]float32, m*sh.n)
			b.ResetTimer()
			for range b.N {
				Sgemm(pool, false, true, m, sh.n, sh.k, 1, x, sh.k, w, sh.k, 0, y, sh.n)
			}
			b.ReportMetric(2*float64(m*sh.n*sh.k*b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

// BenchmarkSgemmDecodeAttention is one generated token's attention over a 1024-token cache
// for 12 heads of 64: scores q·Kᵀ (1×64 by 64×1024, K stored by token) and the weighted
// sum p·V (1×1024 by 1024×64).
func BenchmarkSgemmDecodeAttention(b *testing.B) {
	pool := parallel.New(2)
	const heads, ctx, dh = 12, 1024, 64
	rng := rand.New(rand.NewPCG(9, 9))
	q, kv := randomSlice(rng, 0, heads*dh), randomSlice(rng, 0, heads*ctx*dh)
	scores, out := make([]float32, heads*ctx), make([]float32, heads*dh)
	b.Run("scores", func(b *testing.B) {
		for range b.N {
			SgemmStrided(pool, false, true, heads, 1, ctx, dh, 1, q, dh, dh, kv, ctx*dh, dh, 0, scores, ctx, ctx)
		}
		b.ReportMetric(2*heads*ctx*dh*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	})
	b.Run("values", func(b *testing.B) {
		for range b.N {
			SgemmStrided(pool, false, false, heads, 1, dh, ctx, 1, scores, ctx, ctx, kv, ctx*dh, dh, 0, out, dh, dh)
		}
		b.ReportMetric(2*heads*ctx*dh*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	})
}

// BenchmarkGemvFamilies runs the matrix-vector kernels of every family on a generation
// step's shape whose matrix (512 KiB) stays in L2: y += xᵀ·A (gemvN) and y = A·x (gemvT).
// The AVX-512 family uses the AVX2 kernels here: a zmm gemvN measured no faster on Zen 5
// (both about 100 GB/s, the L2's pace), so it was not kept.
func BenchmarkGemvFamilies(b *testing.B) {
	const k, n = 256, 512
	rng := rand.New(rand.NewPCG(6, 6))
	x, a, y := randomSlice(rng, 0, n)[:n], randomSlice(rng, 0, k*n)[:k*n], make([]float32, n)
	for _, im := range implementations() {
		b.Run(im.name+"/N", func(b *testing.B) {
			b.SetBytes(4 * k * n)
			for range b.N {
				im.gemm.gemvN(k, x, a, n, y)
			}
		})
		b.Run(im.name+"/T", func(b *testing.B) {
			b.SetBytes(4 * k * n)
			for range b.N {
				im.gemm.gemvT(n, x, a, n, y[:k])
			}
		})
	}
}
