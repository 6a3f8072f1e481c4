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

// BenchmarkMulAddSpectra and BenchmarkButterflies run every family the processor has.
func BenchmarkMulAddSpectra(b *testing.B) {
	const n = 4097
	r := rand.New(rand.NewPCG(2, 2))
	dst, x, y := randComplex(r, n), randComplex(r, n), randComplex(r, n)
	for _, im := range implementations() {
		b.Run(im.name, func(b *testing.B) {
			b.SetBytes(3 * 8 * n)
			for b.Loop() {
				im.mulAdd(dst, x, y, true)
			}
		})
	}
}

// BenchmarkButterflies runs one radix-4 stage over 2¹⁶ complex values at a half-size
// inside a leaf (64) and one at the top of a large transform (4096).
func BenchmarkButterflies(b *testing.B) {
	const n = 1 << 16
	r := rand.New(rand.NewPCG(3, 3))
	x := randComplex(r, n)
	for _, im := range implementations() {
		for _, h := range []int{64, 4096} {
			w1, w2 := unitTwiddles(r, h), unitTwiddles(r, h)
			b.Run(fmt.Sprintf("%s/h=%d", im.name, h), func(b *testing.B) {
				b.SetBytes(2 * 8 * n)
				for b.Loop() {
					im.radix4(x, w1, w2)
				}
			})
		}
	}
}
