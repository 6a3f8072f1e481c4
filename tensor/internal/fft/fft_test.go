package fft

import (
	"math"
	"math/bits"
	"math/cmplx"
	"math/rand/v2"
	"sync"
	"testing"
)

// accuracyTol bounds ‖error‖₂/‖exact‖₂ of a float32 transform against float64 arithmetic.
// A float32 FFT's relative error grows like 6e-8·√log2(n) for random data (about 3e-7 at
// 2^22 in practice); 1e-5 is the requirement the convolutions are built on.
const accuracyTol = 1e-5

// dft64 is the O(n²) float64 DFT of a real signal, bins 0..n/2.
func dft64(x []float64) []complex128 {
	n := len(x)
	out := make([]complex128, n/2+1)
	for k := range out {
		var s complex128
		for j, v := range x {
			// (j·k) mod n keeps the angle small, so the twiddle is exact to float64.
			sn, cs := math.Sincos(-2 * math.Pi * float64((j*k)%n) / float64(n))
			s += complex(v*cs, v*sn)
		}
		out[k] = s
	}
	return out
}

// fft64 is an in-place radix-2 complex FFT in float64, the reference for lengths where the
// O(n²) DFT is too slow. sign is -1 for the forward transform, +1 for the unscaled inverse.
func fft64(z []complex128, sign float64) {
	n := len(z)
	logn := bits.TrailingZeros(uint(n))
	for i := range z {
		j := int(bits.Reverse64(uint64(i)) >> (64 - logn))
		if i < j {
			z[i], z[j] = z[j], z[i]
		}
	}
	w := make([]complex128, n/2)
	for h := 1; h < n; h *= 2 {
		for j := 0; j < h; j++ {
			s, c := math.Sincos(sign * math.Pi * float64(j) / float64(h))
			w[j] = complex(c, s)
		}
		for k := 0; k < n; k += 2 * h {
			for j := 0; j < h; j++ {
				a, b := z[k+j], w[j]*z[k+h+j]
				z[k+j], z[k+h+j] = a+b, a-b
			}
		}
	}
}

// realFFT64 is the float64 reference spectrum of a real signal, bins 0..n/2.
func realFFT64(x []float64) []complex128 {
	z := make([]complex128, len(x))
	for i, v := range x {
		z[i] = complex(v, 0)
	}
	fft64(z, -1)
	return z[:len(x)/2+1]
}

func relErr(got []complex64, want []complex128) float64 {
	var num, den float64
	for i, w := range want {
		d := complex128(got[i]) - w
		num += real(d)*real(d) + imag(d)*imag(d)
		den += real(w)*real(w) + imag(w)*imag(w)
	}
	return math.Sqrt(num / den)
}

func relErrReal(got []float32, want []float64) float64 {
	var num, den float64
	for i, w := range want {
		d := float64(got[i]) - w
		num += d * d
		den += w * w
	}
	return math.Sqrt(num / den)
}

func randSignal(r *rand.Rand, n int) ([]float32, []float64) {
	x := make([]float32, n)
	x64 := make([]float64, n)
	for i := range x {
		x[i] = float32(r.NormFloat64())
		x64[i] = float64(x[i])
	}
	return x, x64
}

func TestReferenceFFTMatchesDFT(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	_, x := randSignal(r, 256)
	got, want := realFFT64(x), dft64(x)
	for k := range want {
		if cmplx.Abs(got[k]-want[k]) > 1e-10 {
			t.Fatalf("bin %d: fft64 %v, dft %v", k, got[k], want[k])
		}
	}
}

func TestNewPlanRejectsBadLengths(t *testing.T) {
	for _, n := range []int{-8, 0, 1, 2, 4, 12, 1000, MaxSize * 2, MaxSize + 8} {
		if _, err := NewPlan(n); err == nil {
			t.Errorf("NewPlan(%d) returned no error", n)
		}
	}
	p, err := NewPlan(64)
	if err != nil {
		t.Fatal(err)
	}
	if q, _ := NewPlan(64); q != p {
		t.Error("plans of one length are not shared")
	}
}

// TestForwardInverseAccuracy checks every length from 8 to 2^22: the forward transform
// against float64 (the O(n²) DFT up to 2^10, the float64 FFT above), the inverse of a
// random Hermitian spectrum against float64, and the round trip.
func TestForwardInverseAccuracy(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for n := MinSize; n <= MaxSize; n *= 2 {
		p, err := NewPlan(n)
		if err != nil {
			t.Fatal(err)
		}
		x, x64 := randSignal(r, n)
		var want []complex128
		if n <= 1<<10 {
			want = dft64(x64)
		} else {
			want = realFFT64(x64)
		}
		spec := make([]complex64, n/2+1)
		p.Forward(spec, x)
		fwd := relErr(spec, want)

		back := make([]float32, n)
		p.Inverse(back, spec)
		trip := relErrReal(back, x64)

		// Inverse of an independent random spectrum: the reference extends it to the full
		// Hermitian spectrum and runs the float64 inverse FFT.
		s := randComplex(r, n/2+1)
		s[0] = complex(real(s[0]), 0)
		s[n/2] = complex(real(s[n/2]), 0)
		full := make([]complex128, n)
		for k := 0; k <= n/2; k++ {
			full[k] = complex128(s[k])
			if k > 0 && k < n/2 {
				full[n-k] = cmplx.Conj(complex128(s[k]))
			}
		}
		fft64(full, +1)
		wantInv := make([]float64, n)
		for i, v := range full {
			wantInv[i] = real(v) / float64(n)
		}
		p.Inverse(back, s)
		inv := relErrReal(back, wantInv)

		t.Logf("n=2^%-2d forward %.2e  inverse %.2e  round trip %.2e", bits.TrailingZeros(uint(n)), fwd, inv, trip)
		if fwd > accuracyTol || inv > accuracyTol || trip > accuracyTol {
			t.Fatalf("n=%d: relative errors forward %.3g, inverse %.3g, round trip %.3g exceed %g", n, fwd, inv, trip, accuracyTol)
		}
	}
}

// TestForwardPadsShortInput checks that a short src is transformed as if zero-padded, for
// the half-length fast path and for other lengths.
func TestForwardPadsShortInput(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 16))
	for _, n := range []int{8, 16, 64, 1024} {
		p, _ := NewPlan(n)
		for _, l := range []int{0, 1, 3, n / 4, n/2 - 1, n / 2, n/2 + 1, n - 1} {
			x, x64 := randSignal(r, l)
			padded := append(x64, make([]float64, n-l)...)
			got := make([]complex64, n/2+1)
			p.Forward(got, x)
			want := dft64(padded)
			if l == 0 {
				for k, v := range got {
					if v != 0 {
						t.Fatalf("n=%d, empty input: bin %d = %v", n, k, v)
					}
				}
				continue
			}
			if e := relErr(got, want); e > accuracyTol {
				t.Errorf("n=%d, %d samples: relative error %.3g", n, l, e)
			}
		}
	}
}

// TestInverseIgnoresImaginaryEnds pins the documented treatment of the DC and Nyquist
// bins, whose imaginary parts a real signal's spectrum cannot have.
func TestInverseIgnoresImaginaryEnds(t *testing.T) {
	const n = 32
	p, _ := NewPlan(n)
	r := rand.New(rand.NewPCG(9, 10))
	s := randComplex(r, n/2+1)
	a, b := make([]float32, n), make([]float32, n)
	p.Inverse(a, s)
	s[0] = complex(real(s[0]), 0)
	s[n/2] = complex(real(s[n/2]), 0)
	p.Inverse(b, s)
	for i := range a {
		if math.Abs(float64(a[i]-b[i])) > 1e-6 {
			t.Fatalf("sample %d: %v with imaginary ends, %v without", i, a[i], b[i])
		}
	}
}

func TestNoAllocations(t *testing.T) {
	p, _ := NewPlan(4096)
	r := rand.New(rand.NewPCG(11, 12))
	x, _ := randSignal(r, 4096)
	spec := make([]complex64, 2049)
	back := make([]float32, 4096)
	if a := testing.AllocsPerRun(5, func() {
		p.Forward(spec, x)
		p.Inverse(back, spec)
	}); a != 0 {
		t.Errorf("Forward+Inverse allocate %v times per call", a)
	}
}

// TestConcurrentUse runs one plan from several goroutines; with -race it also checks that
// the plan is only read.
func TestConcurrentUse(t *testing.T) {
	const n = 1 << 14
	p, _ := NewPlan(n)
	r := rand.New(rand.NewPCG(13, 14))
	x, _ := randSignal(r, n)
	want := make([]complex64, n/2+1)
	p.Forward(want, x)
	var wg sync.WaitGroup
	errs := make([]bool, 4)
	for g := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			spec := make([]complex64, n/2+1)
			back := make([]float32, n)
			for it := 0; it < 3; it++ {
				p.Forward(spec, x)
				p.Inverse(back, spec)
				for k := range spec {
					if spec[k] != want[k] {
						errs[g] = true
					}
				}
			}
		}()
	}
	wg.Wait()
	for g, bad := range errs {
		if bad {
			t.Errorf("goroutine %d computed a different spectrum", g)
		}
	}
}
