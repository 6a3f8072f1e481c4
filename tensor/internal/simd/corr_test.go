package simd

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

func TestCorrRowsMatchesFloat64(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for _, im := range corrImplementations() {
		for _, h := range []int{1, 7, 16, 17, 31, 32, 48, 130} {
			for _, taps := range []int{1, 2, 5, 64} {
				for _, rows := range []int{1, 3, 4, 5, 8, 13} {
					name := fmt.Sprintf("%s rows=%d h=%d taps=%d", im.name, rows, h, taps)
					off := rows % 3 // odd offsets into the slices
					ys := randomSlice(rng, off, rows*h)
					us := randomSlice(rng, off, (rows+taps-1)*h)
					ks := randomSlice(rng, off, taps*h)
					y0 := append([]float32(nil), ys[off:off+rows*h]...)
					y, u, k := ys[off:off+rows*h], us[off:off+(rows+taps-1)*h], ks[off:off+taps*h]
					im.corr(y, u, k, rows, h, taps)
					checkGuards(t, name, ys, off, rows*h)
					for r := 0; r < rows; r++ {
						for c := 0; c < h; c++ {
							want, mag := float64(y0[r*h+c]), math.Abs(float64(y0[r*h+c]))
							for s := 0; s < taps; s++ {
								p := float64(k[s*h+c]) * float64(u[(r+s)*h+c])
								want += p
								mag += math.Abs(p)
							}
							// taps products summed in float32 and one more addition: the
							// recursive-summation bound (taps+1)·u·Σ|terms|, +2 for second order.
							tol := float64(taps+3) * unitRoundoff * mag
							if got := float64(y[r*h+c]); math.Abs(got-want) > tol {
								t.Fatalf("%s: y[%d][%d] = %v, want %v ± %g", name, r, c, got, want, tol)
							}
						}
					}
				}
			}
		}
	}
}

func TestCorrRowsAPI(t *testing.T) {
	CorrRows(nil, nil, nil, 0, 4, 3) // nothing to do
	mustPanic(t, "CorrRows with a short u", func() {
		CorrRows(make([]float32, 8), make([]float32, 8+2*4-1), make([]float32, 3*4), 2, 4, 3)
	})
	mustPanic(t, "CorrRows with a short k", func() {
		CorrRows(make([]float32, 8), make([]float32, 16), make([]float32, 11), 2, 4, 3)
	})
	mustPanic(t, "CorrRows with a short y", func() {
		CorrRows(make([]float32, 7), make([]float32, 16), make([]float32, 12), 2, 4, 3)
	})
}

func BenchmarkCorrRows(b *testing.B) {
	// The H3 shift SSM's shape: 64 rows of a 256-long sequence, 128 channels, 64 taps.
	rng := rand.New(rand.NewPCG(13, 14))
	const rows, h, taps = 64, 128, 64
	y := randomSlice(rng, 0, rows*h)[:rows*h]
	u := randomSlice(rng, 0, (rows+taps-1)*h)[:(rows+taps-1)*h]
	k := randomSlice(rng, 0, taps*h)[:taps*h]
	for _, im := range corrImplementations() {
		b.Run(im.name, func(b *testing.B) {
			for b.Loop() {
				im.corr(y, u, k, rows, h, taps)
			}
			b.ReportMetric(float64(b.N*rows*h*taps)/b.Elapsed().Seconds()/1e9, "GFMA/s")
		})
	}
	b.Run("muladd-per-tap", func(b *testing.B) {
		// The loop CorrRows replaces: one MulAdd per row and tap.
		for b.Loop() {
			for r := 0; r < rows; r++ {
				for s := 0; s < taps; s++ {
					MulAdd(y[r*h:(r+1)*h], k[s*h:(s+1)*h], u[(r+s)*h:])
				}
			}
		}
		b.ReportMetric(float64(b.N*rows*h*taps)/b.Elapsed().Seconds()/1e9, "GFMA/s")
	})
}
