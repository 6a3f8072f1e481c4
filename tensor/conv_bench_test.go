package tensor

import (
	"fmt"
	"math/bits"
	"testing"
)

// Benchmarks of the FFT convolution at an H3 layer's sizes (B=8, H=256). The throughput
// counts the real FFTs of length n = 2·next_pow2(L) at 5·n·log2(n)/2 flops each: forward
// runs B·H pairs (input transform, inverse) plus H kernel transforms; backward runs B·H
// transforms of dy, of u and inverses for du, plus H kernel transforms and H inverses for
// dk.

func benchConv(b *testing.B, l int, backward, direct bool, lk int) {
	const nb, h = 8, 256
	t := benchTensors(b, []int{nb, l, h}, []int{h, lk}, []int{h}, []int{nb, l, h}, []int{nb, l, h})
	u, k, d, y, dy := t[0], t[1], t[2], t[3], t[4]
	du, dk, dd := New(nb, l, h), New(h, lk), New(h)
	cpu := DefaultCPU()
	n := 2 << bits.Len(uint(l-1))
	ffts := nb*h*2 + h
	if backward {
		ffts = nb*h*3 + 2*h
	}
	b.SetBytes(int64(4 * nb * l * h))
	for b.Loop() {
		switch {
		case backward && direct:
			cpu.ShortConvBackward(du, dk, dd, dy, u, k, d)
		case backward:
			cpu.CausalConvBackward(du, dk, dd, dy, u, k, d)
		case direct:
			cpu.ShortConv(y, u, k, d)
		default:
			cpu.CausalConv(y, u, k, d)
		}
	}
	sec := b.Elapsed().Seconds() / float64(b.N)
	b.ReportMetric(sec*1e3, "ms/op")
	if !direct {
		flops := float64(ffts) * 2.5 * float64(n) * float64(bits.Len(uint(n))-1)
		b.ReportMetric(flops/sec/1e9, "FFT-GFLOP/s")
	}
}

func BenchmarkCausalConv(b *testing.B) {
	for _, l := range []int{1024, 8192} {
		b.Run(fmt.Sprintf("L=%d/forward", l), func(b *testing.B) { benchConv(b, l, false, false, l) })
		b.Run(fmt.Sprintf("L=%d/backward", l), func(b *testing.B) { benchConv(b, l, true, false, l) })
	}
}

func BenchmarkShortConv(b *testing.B) {
	b.Run("L=1024/Lk=64/forward", func(b *testing.B) { benchConv(b, 1024, false, true, 64) })
	b.Run("L=1024/Lk=64/backward", func(b *testing.B) { benchConv(b, 1024, true, true, 64) })
}
