package fft

import (
	"math"
	"math/cmplx"
	"math/rand/v2"
	"testing"
)

type impl struct {
	name        string
	radix2      func(x, w []complex64)
	radix4      func(x, w1, w2 []complex64)
	mul, mulAdd func(dst, a, b []complex64, conjA bool)
	transpose8  func(dst []float32, ldd int, src []float32, lds int)
	split       func(z, w []complex64, blocks int)
	join        func(s, x, w []complex64, blocks int)
	swapScale   func(z []complex64, scale float32)
	pack        func(z, x []complex64, rev4 []int32, half bool)
}

var genericImpl = impl{
	name: "generic", radix2: radix2Generic, radix4: radix4Generic,
	mul: mulSpectraGeneric, mulAdd: mulAddSpectraGeneric, transpose8: transpose8Generic,
	split: splitGeneric, join: joinGeneric, swapScale: swapScaleGeneric, pack: packGeneric,
}

func randComplex(r *rand.Rand, n int) []complex64 {
	out := make([]complex64, n)
	for i := range out {
		out[i] = complex(float32(r.NormFloat64()), float32(r.NormFloat64()))
	}
	return out
}

func unitTwiddles(r *rand.Rand, n int) []complex64 {
	out := make([]complex64, n)
	for i := range out {
		s, c := math.Sincos(2 * math.Pi * r.Float64())
		out[i] = complex(float32(c), float32(s))
	}
	return out
}

// kernelTol bounds the per-element error of one complex product or butterfly in float32,
// relative to the magnitudes involved: a handful of roundings of 6e-8 each, with room for
// the assembly's fused multiply-adds rounding differently from Go's separate operations.
const kernelTol = 1e-6

func TestSpectraKernels(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, im := range implementations() {
		for n := 0; n <= 300; n++ {
			for _, off := range []int{0, 1, 3} {
				for _, conjA := range []bool{false, true} {
					a := randComplex(r, n+off)[off:]
					b := randComplex(r, n+off)[off:]
					old := randComplex(r, n+off+1)
					dst := append([]complex64(nil), old...)
					im.mul(dst[off:off+n], a, b, conjA)
					verifySpectra(t, im.name+" mul", n, off, conjA, dst, old, a, b, false)
					dst = append(dst[:0], old...)
					im.mulAdd(dst[off:off+n], a, b, conjA)
					verifySpectra(t, im.name+" mulAdd", n, off, conjA, dst, old, a, b, true)
				}
			}
		}
	}
}

func verifySpectra(t *testing.T, name string, n, off int, conjA bool, dst, old, a, b []complex64, acc bool) {
	t.Helper()
	for i, v := range dst {
		if i < off || i >= off+n {
			if v != old[i] {
				t.Fatalf("%s n=%d off=%d: wrote outside dst at %d", name, n, off, i)
			}
			continue
		}
		x, y := complex128(a[i-off]), complex128(b[i-off])
		if conjA {
			x = cmplx.Conj(x)
		}
		want := x * y
		scale := cmplx.Abs(x) * cmplx.Abs(y)
		if acc {
			want += complex128(old[i])
			scale += cmplx.Abs(complex128(old[i]))
		}
		if cmplx.Abs(complex128(v)-want) > kernelTol*scale {
			t.Fatalf("%s n=%d off=%d conj=%v: element %d = %v, want %v", name, n, off, conjA, i-off, v, want)
		}
	}
}

// TestButterflyKernels holds every implementation of the radix-2 and radix-4 stages to a
// float64 evaluation of the same butterflies, on misaligned slices with several blocks.
func TestButterflyKernels(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, im := range implementations() {
		for _, h := range []int{4, 8, 16, 64, 256} {
			for _, blocks := range []int{1, 3} {
				for _, off := range []int{0, 1, 3} {
					w1, w2 := unitTwiddles(r, h+off)[off:], unitTwiddles(r, h)
					buf := randComplex(r, 4*h*blocks+off+1)
					x := buf[off : off+4*h*blocks]
					orig := append([]complex64(nil), buf...)

					im.radix2(x[:2*h*blocks], w1)
					want := make([]complex128, len(x))
					scale := make([]float64, len(x))
					for i := range want {
						want[i] = complex128(orig[off+i])
					}
					for k := 0; k < 2*h*blocks; k += 2 * h {
						for j := 0; j < h; j++ {
							a, b := want[k+j], complex128(w1[j])*want[k+h+j]
							want[k+j], want[k+h+j] = a+b, a-b
							scale[k+j] = cmplx.Abs(a) + cmplx.Abs(b)
							scale[k+h+j] = scale[k+j]
						}
					}
					checkButterfly(t, im.name+" radix2", h, off, buf, orig, want, scale)

					copy(buf, orig)
					im.radix4(x, w1, w2)
					for i := range want {
						want[i] = complex128(orig[off+i])
					}
					for k := 0; k < len(x); k += 4 * h {
						for j := 0; j < h; j++ {
							a, b, c, d := want[k+j], want[k+h+j], want[k+2*h+j], want[k+3*h+j]
							sum := cmplx.Abs(a) + cmplx.Abs(b) + cmplx.Abs(c) + cmplx.Abs(d)
							scale[k+j], scale[k+h+j], scale[k+2*h+j], scale[k+3*h+j] = sum, sum, sum, sum
							wa, wb := complex128(w1[j]), complex128(w2[j])
							a, b = a+wa*b, a-wa*b
							c, d = c+wa*d, c-wa*d
							wd := -1i * wb
							a, c = a+wb*c, a-wb*c
							b, d = b+wd*d, b-wd*d
							want[k+j], want[k+h+j], want[k+2*h+j], want[k+3*h+j] = a, b, c, d
						}
					}
					checkButterfly(t, im.name+" radix4", h, off, buf, orig, want, scale)
				}
			}
		}
	}
}

func checkButterfly(t *testing.T, name string, h, off int, buf, orig []complex64, want []complex128, scale []float64) {
	t.Helper()
	for i, v := range buf {
		j := i - off
		if j < 0 || j >= len(want) {
			if v != orig[i] {
				t.Fatalf("%s h=%d off=%d: wrote outside x at %d", name, h, off, i)
			}
			continue
		}
		// scale is the sum of the magnitudes of the butterfly's inputs; every rounding in
		// it is relative to at most that.
		if cmplx.Abs(complex128(v)-want[j]) > kernelTol*scale[j] {
			t.Fatalf("%s h=%d off=%d: element %d = %v, want %v", name, h, off, j, v, want[j])
		}
	}
}

func TestTranspose8Kernels(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, im := range implementations() {
		for _, lds := range []int{8, 9, 13, 64} {
			for _, ldd := range []int{8, 11, 40} {
				for _, off := range []int{0, 1, 3} {
					src := make([]float32, off+7*lds+8)
					for i := range src {
						src[i] = float32(r.NormFloat64())
					}
					dst := make([]float32, off+7*ldd+8+5)
					for i := range dst {
						dst[i] = float32(i) + 0.5
					}
					orig := append([]float32(nil), dst...)
					im.transpose8(dst[off:], ldd, src[off:], lds)
					want := append([]float32(nil), orig...)
					for i := 0; i < 8; i++ {
						for j := 0; j < 8; j++ {
							want[off+j*ldd+i] = src[off+i*lds+j]
						}
					}
					for i := range dst {
						if dst[i] != want[i] {
							t.Fatalf("%s lds=%d ldd=%d off=%d: dst[%d] = %v, want %v", im.name, lds, ldd, off, i, dst[i], want[i])
						}
					}
				}
			}
		}
	}
}

func TestTranspose(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	sizes := []int{1, 7, 8, 9, 17, 31, 64, 100}
	for _, rows := range sizes {
		for _, cols := range sizes {
			lds, ldd := cols+3, rows+5
			src := make([]float32, rows*lds)
			for i := range src {
				src[i] = float32(r.NormFloat64())
			}
			dst := make([]float32, cols*ldd)
			for i := range dst {
				dst[i] = -1
			}
			Transpose(dst, ldd, src, lds, rows, cols)
			for j := 0; j < cols; j++ {
				for i := 0; i < ldd; i++ {
					want := float32(-1) // the stride's gap stays untouched
					if i < rows {
						want = src[i*lds+j]
					}
					if dst[j*ldd+i] != want {
						t.Fatalf("%d×%d: dst[%d][%d] = %v, want %v", rows, cols, j, i, dst[j*ldd+i], want)
					}
				}
			}
		}
	}
}

// TestSplitJoinKernels holds the vector split and join to their scalar definitions
// (splitPair and joinPair evaluated in float64 arithmetic on the same inputs), including
// the bins the kernels must leave alone.
func TestSplitJoinKernels(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for _, im := range implementations() {
		for m := 4; m <= 1024; m *= 2 {
			blocks := pairBlocks(m)
			w := unitTwiddles(r, m)
			z := randComplex(r, m+1)
			got := append([]complex64(nil), z...)
			im.split(got, w, blocks)
			for k := 0; k <= m; k++ {
				want, scale := complex128(z[k]), cmplx.Abs(complex128(z[k]))
				if j := min(k, m-k); j >= 1 && j <= 4*blocks {
					a, b, wk := complex128(z[j]), complex128(z[m-j]), complex128(w[j])
					e := (a + cmplx.Conj(b)) / 2
					o := -1i / 2 * (a - cmplx.Conj(b))
					want = e + wk*o
					if k != j {
						want = cmplx.Conj(e - wk*o)
					}
					scale = cmplx.Abs(a) + cmplx.Abs(b)
				}
				if cmplx.Abs(complex128(got[k])-want) > kernelTol*scale {
					t.Fatalf("%s split m=%d: bin %d = %v, want %v", im.name, m, k, got[k], want)
				}
			}

			x := randComplex(r, m+1)
			s := randComplex(r, m)
			old := append([]complex64(nil), s...)
			im.join(s, x, w, blocks)
			for k := 0; k < m; k++ {
				want, scale := complex128(old[k]), cmplx.Abs(complex128(old[k]))
				if j := min(k, m-k); j >= 1 && j <= 4*blocks {
					a, b, wk := complex128(x[j]), cmplx.Conj(complex128(x[m-j])), complex128(w[j])
					sum := a + b
					tt := 1i * cmplx.Conj(wk) * (a - b)
					z := sum + tt
					if k != j {
						z = cmplx.Conj(sum - tt)
					}
					want = complex(imag(z), real(z))
					scale = 2 * (cmplx.Abs(a) + cmplx.Abs(b))
				}
				if cmplx.Abs(complex128(s[k])-want) > kernelTol*scale {
					t.Fatalf("%s join m=%d: bin %d = %v, want %v", im.name, m, k, s[k], want)
				}
			}
		}
	}
}

func TestSwapScale(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for n := 0; n <= 300; n++ {
		for _, off := range []int{0, 1, 3} {
			buf := randComplex(r, n+off+1)
			orig := append([]complex64(nil), buf...)
			swapScale(buf[off:off+n], 0.25)
			for i, v := range buf {
				want := orig[i]
				if i >= off && i < off+n {
					// Scaling by a power of two is exact.
					want = complex(imag(want)*0.25, real(want)*0.25)
				}
				if v != want {
					t.Fatalf("n=%d off=%d: element %d = %v, want %v", n, off, i, v, want)
				}
			}
		}
	}
}

// TestPackKernels holds the vector bit-reversal pack to the generic one, which performs
// the same additions in the same order, so the results must be identical.
func TestPackKernels(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	for _, im := range implementations() {
		for m := 16; m <= 4096; m *= 2 {
			p, _ := NewPlan(2 * m)
			x := randComplex(r, m)
			for _, half := range []bool{false, true} {
				got, want := make([]complex64, m), make([]complex64, m)
				im.pack(got, x, p.rev4, half)
				packGeneric(want, x, p.rev4, half)
				for i := range want {
					if got[i] != want[i] {
						t.Fatalf("%s m=%d half=%v: z[%d] = %v, want %v", im.name, m, half, i, got[i], want[i])
					}
				}
			}
		}
	}
}
