package fft

import (
	"fmt"
	"math/bits"
	"math/rand/v2"
	"testing"
)

// BenchmarkForwardInverse times one Forward plus one Inverse and reports GFLOP/s by the
// customary 5·n·log2(n)/2 flops per real transform of length n (so 5·n·log2(n) per pair).
func BenchmarkForwardInverse(b *testing.B) {
	for _, logn := range []int{10, 13, 16, 20} {
		n := 1 << logn
		b.Run(fmt.Sprintf("n=2^%d", logn), func(b *testing.B) {
			p, err := NewPlan(n)
			if err != nil {
				b.Fatal(err)
			}
			x, _ := randSignal(rand.New(rand.NewPCG(1, 1)), n)
			spec := make([]complex64, n/2+1)
			back := make([]float32, n)
			b.SetBytes(int64(4 * n))
			for b.Loop() {
				p.Forward(spec, x)
				p.Inverse(back, spec)
			}
			flops := 5 * float64(n) * float64(bits.TrailingZeros(uint(n)))
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

func BenchmarkMulAddSpectra(b *testing.B) {
	const n = 4097
	r := rand.New(rand.NewPCG(2, 2))
	dst, x, y := randComplex(r, n), randComplex(r, n), randComplex(r, n)
	b.SetBytes(3 * 8 * n)
	for b.Loop() {
		MulAddSpectra(dst, x, y, true)
	}
}
