package tensor

import (
	"fmt"
	"syscall"
	"testing"
	"time"
)

// cpuTimer reports the process's CPU time per op beside the wall time: on a machine
// shared with other work the wall time measures the neighbours as much as the code.
func cpuTimer(b *testing.B) func() {
	cpu := func() time.Duration {
		var ru syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
			return 0
		}
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	t0 := cpu()
	return func() { b.ReportMetric(float64(cpu()-t0)/float64(time.Microsecond)/float64(b.N), "cpu-µs/op") }
}

// BenchmarkLinear compares the fused Linear (bias added to each block of rows as the
// product writes it) with the unfused pair the autograd op used before: the bias
// broadcast into the output, then the product accumulated onto it. The shapes are the
// default training step's (16 windows of 256 tokens): the MLP's two layers and the H3
// projections.
func BenchmarkLinear(b *testing.B) {
	cpu := DefaultCPU()
	rng := NewRNG(1)
	for _, s := range []struct{ rows, n, k int }{{4096, 1024, 256}, {4096, 256, 1024}, {4096, 256, 256}} {
		x, w, bias := RandNormal(cpu, rng, 1, s.rows, s.k), RandNormal(cpu, rng, 1, s.n, s.k), RandNormal(cpu, rng, 1, s.n)
		out := cpu.Zeros(s.rows, s.n)
		name := fmt.Sprintf("rows=%d,n=%d,k=%d", s.rows, s.n, s.k)
		flops := 2 * float64(s.rows*s.n*s.k)
		b.Run(name+"/fused", func(b *testing.B) {
			done := cpuTimer(b)
			for b.Loop() {
				cpu.Linear(out, x, w, bias)
			}
			done()
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
		b.Run(name+"/unfused", func(b *testing.B) {
			done := cpuTimer(b)
			for b.Loop() {
				cpu.Binary(OpAdd, out, out, bias)
				cpu.MatMul(out, x, w, false, true, true)
			}
			done()
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

// BenchmarkAddLayerNorm compares the fused residual addition and LayerNorm with the two
// ops it replaces, at the default training step's shape (4096 rows of 256).
func BenchmarkAddLayerNorm(b *testing.B) {
	cpu := DefaultCPU()
	rng := NewRNG(2)
	const rows, d = 4096, 256
	x, r := RandNormal(cpu, rng, 1, rows, d), RandNormal(cpu, rng, 1, rows, d)
	w, bb := RandNormal(cpu, rng, 1, d), RandNormal(cpu, rng, 1, d)
	out, sum, mean, rstd := cpu.Zeros(rows, d), cpu.Zeros(rows, d), cpu.Zeros(rows), cpu.Zeros(rows)
	b.Run("fused", func(b *testing.B) {
		done := cpuTimer(b)
		for b.Loop() {
			cpu.AddLayerNorm(out, sum, mean, rstd, x, r, w, bb, 1e-5)
		}
		done()
	})
	b.Run("unfused", func(b *testing.B) {
		done := cpuTimer(b)
		for b.Loop() {
			cpu.Binary(OpAdd, sum, x, r)
			cpu.LayerNorm(out, mean, rstd, sum, w, bb, 1e-5)
		}
		done()
	})
}
