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
		for _, h := range []int{1, 7, 16, 17, 31, 32, 48, 64, 100, 130} {
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

func TestCorrSumRowsMatchesFloat64(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	for _, im := range corrImplementations() {
		for _, shape := range [][2]int{{1, 1}, {7, 7}, {16, 16}, {17, 20}, {31, 31}, {32, 40}, {48, 48}, {130, 131}} {
			width, stride := shape[0], shape[1]
			for _, taps := range []int{1, 3, 4, 5, 8, 64} {
				for _, n := range []int{1, 2, 7, 33} {
					name := fmt.Sprintf("%s n=%d width=%d stride=%d taps=%d", im.name, n, width, stride, taps)
					off := n % 3
					ds := randomSlice(rng, off, taps*width)
					as := randomSlice(rng, off, (n-1)*stride+width)
					bs := randomSlice(rng, off, (n+taps-2)*stride+width)
					d0 := append([]float32(nil), ds[off:off+taps*width]...)
					dst, a, b := ds[off:off+taps*width], as[off:off+(n-1)*stride+width], bs[off:off+(n+taps-2)*stride+width]
					im.corrSum(dst, a, b, n, stride, width, taps)
					checkGuards(t, name, ds, off, taps*width)
					for j := 0; j < taps; j++ {
						for c := 0; c < width; c++ {
							want, mag := float64(d0[j*width+c]), math.Abs(float64(d0[j*width+c]))
							for r := 0; r < n; r++ {
								p := float64(a[r*stride+c]) * float64(b[(r+j)*stride+c])
								want += p
								mag += math.Abs(p)
							}
							// n products summed in float32, then one more addition.
							tol := float64(n+3) * unitRoundoff * mag
							if got := float64(dst[j*width+c]); math.Abs(got-want) > tol {
								t.Fatalf("%s: dst[%d][%d] = %v, want %v ± %g", name, j, c, got, want, tol)
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
	CorrSumRows(nil, nil, nil, 0, 4, 4, 3)
	mustPanic(t, "CorrSumRows with width > stride", func() {
		CorrSumRows(make([]float32, 15), make([]float32, 10), make([]float32, 20), 2, 4, 5, 3)
	})
	mustPanic(t, "CorrSumRows with a short b", func() {
		// n=2, taps=3, stride 4, width 3: b needs (2+3−2)·4+3 = 15.
		CorrSumRows(make([]float32, 9), make([]float32, 7), make([]float32, 14), 2, 4, 3, 3)
	})
	mustPanic(t, "CorrSumRows with a short a", func() {
		CorrSumRows(make([]float32, 9), make([]float32, 6), make([]float32, 15), 2, 4, 3, 3)
	})
	mustPanic(t, "CorrSumRows with a short dst", func() {
		CorrSumRows(make([]float32, 8), make([]float32, 7), make([]float32, 15), 2, 4, 3, 3)
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
