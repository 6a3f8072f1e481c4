package kernels_test

import (
	"github.com/hungry-ssm/hungry/ptx/kernels"
	"math"
	"math/cmplx"
	"testing"

	"github.com/hungry-ssm/hungry/ptx/ptxsim"
)

func twiddles(n int) []float32 {
	tw := make([]float32, max(n, 2)) // n/2 complex values; at least one slot so n = 1 allocates
	for k := 0; k < n/2; k++ {
		s, c := math.Sincos(-2 * math.Pi * float64(k) / float64(n))
		tw[2*k], tw[2*k+1] = float32(c), float32(s)
	}
	return tw
}

func (e *env) fft(data ptxsim.Ptr, tw ptxsim.Ptr, rows, n int, inverse bool) {
	e.t.Helper()
	logn := 0
	for 1<<logn < n {
		logn++
	}
	inv, scale := 0, float32(1)
	if inverse {
		inv, scale = 1, float32(1/float64(n))
	}
	e.launch(kernels.FftRowsC64Kernel, [3]int{rows, 1, 1}, [3]int{256, 1, 1}, 8*n, data, tw, rows, n, logn, inv, scale)
}

func TestFFTRows(t *testing.T) {
	for _, s := range [][2]int{{1, 1}, {3, 2}, {2, 8}, {1, 64}, {2, 1024}} {
		rows, n := s[0], s[1]
		e := newEnv(t, "fft")
		x := e.rand(2*rows*n, -1, 1)
		tw := e.f32(twiddles(n))
		for _, inverse := range []bool{false, true} {
			data := e.f32(x)
			e.fft(data, tw, rows, n, inverse)
			want, scale := make([]float64, 2*rows*n), make([]float64, 2*rows*n)
			sign := -1.0
			if inverse {
				sign = 1
			}
			for r := 0; r < rows; r++ {
				norm := 0.0
				for i := 0; i < n; i++ {
					norm += float64(x[2*(r*n+i)])*float64(x[2*(r*n+i)]) + float64(x[2*(r*n+i)+1])*float64(x[2*(r*n+i)+1])
				}
				for f := 0; f < n; f++ {
					var acc complex128
					for i := 0; i < n; i++ {
						xi := complex(float64(x[2*(r*n+i)]), float64(x[2*(r*n+i)+1]))
						acc += xi * cmplx.Exp(complex(0, sign*2*math.Pi*float64(f*i%n)/float64(n)))
					}
					if inverse {
						acc /= complex(float64(n), 0)
					}
					want[2*(r*n+f)], want[2*(r*n+f)+1] = real(acc), imag(acc)
					// FFT rounding error is bounded norm-wise: ~ eps·log2(n)·||x||₂ per output.
					sc := math.Sqrt(norm) * (1 + math.Log2(float64(n)))
					if inverse {
						sc /= float64(n)
					}
					scale[2*(r*n+f)], scale[2*(r*n+f)+1] = sc, sc
				}
			}
			check(t, name("fft rows=%d n=%d inverse=%v", rows, n, inverse), e.read(data, 2*rows*n), want, rtolF32,
				func(i int) float64 { return scale[i] })
		}
	}
}

// TestFFTConvolution runs the whole unfused path: pad, FFT, pointwise multiply with the
// filter spectrum (broadcast over the batch), inverse FFT, real part; it must equal the
// direct causal convolution y[t] = sum_{s<=t} k[h, s]·u[b, h, t-s].
func TestFFTConvolution(t *testing.T) {
	for _, s := range [][3]int{{1, 1, 1}, {2, 3, 7}, {1, 2, 31}, {2, 1, 33}, {1, 3, 100}} {
		B, H, L := s[0], s[1], s[2]
		n := 1
		for n < 2*L {
			n *= 2
		}
		rows := B * H
		e := newEnv(t, "fft")
		u, k := e.rand(rows*L, -1, 1), e.rand(H*L, -1, 1)
		tw := e.f32(twiddles(n))
		uc, kc := e.out(2*rows*n), e.out(2*H*n)
		g, b := ewLaunch(rows * n)
		e.launch(kernels.PadRealToC64Kernel, g, b, 0, uc, e.f32(u), rows, L, n)
		gk, bk := ewLaunch(H * n)
		e.launch(kernels.PadRealToC64Kernel, gk, bk, 0, kc, e.f32(k), H, L, n)
		e.fft(uc, tw, rows, n, false)
		e.fft(kc, tw, H, n, false)
		prod := e.out(2 * rows * n)
		e.launch(kernels.CmulC64Kernel, g, b, 0, prod, uc, kc, rows, n, H, 0)
		e.fft(prod, tw, rows, n, true)
		y := e.f32(make([]float32, rows*L)) // the real parts are added into zeros
		gy, by := ewLaunch(rows * L)
		e.launch(kernels.C64RealRowsAccF32Kernel, gy, by, 0, y, prod, rows, L, n)
		want, scale := make([]float64, rows*L), make([]float64, rows*L)
		for r := 0; r < rows; r++ {
			h := r % H
			nu, nk := 0.0, 0.0
			for i := 0; i < L; i++ {
				nu += float64(u[r*L+i]) * float64(u[r*L+i])
				nk += float64(k[h*L+i]) * float64(k[h*L+i])
			}
			for tt := 0; tt < L; tt++ {
				acc := 0.0
				for sft := 0; sft <= tt; sft++ {
					acc += float64(k[h*L+sft]) * float64(u[r*L+tt-sft])
				}
				want[r*L+tt] = acc
				// Three FFTs' norm-wise errors: ||u||·||k||·log2(n) bounds every output's error scale.
				scale[r*L+tt] = math.Sqrt(nu*nk) * (1 + math.Log2(float64(n)))
			}
		}
		check(t, name("fftconv B=%d H=%d L=%d", B, H, L), e.read(y, rows*L), want, rtolF32, func(i int) float64 { return scale[i] })
	}
}

// TestFFTConvolutionBackward computes du = sum_s k[s]·dy[t+s] (the adjoint of the causal
// convolution in u) through FFT(dy)·conj(FFT(k)) and checks it against the direct sum and
// the adjoint identity <dy, conv(u)> = <du, u>.
func TestFFTConvolutionBackward(t *testing.T) {
	for _, s := range [][3]int{{1, 1, 1}, {2, 3, 7}, {1, 2, 33}, {1, 3, 100}} {
		B, H, L := s[0], s[1], s[2]
		n := 1
		for n < 2*L {
			n *= 2
		}
		rows := B * H
		e := newEnv(t, "fft")
		u, k, dy := e.rand(rows*L, -1, 1), e.rand(H*L, -1, 1), e.rand(rows*L, -1, 1)
		tw := e.f32(twiddles(n))
		dyc, kc := e.out(2*rows*n), e.out(2*H*n)
		g, b := ewLaunch(rows * n)
		e.launch(kernels.PadRealToC64Kernel, g, b, 0, dyc, e.f32(dy), rows, L, n)
		gk, bk := ewLaunch(H * n)
		e.launch(kernels.PadRealToC64Kernel, gk, bk, 0, kc, e.f32(k), H, L, n)
		e.fft(dyc, tw, rows, n, false)
		e.fft(kc, tw, H, n, false)
		prod := e.out(2 * rows * n)
		e.launch(kernels.CmulC64Kernel, g, b, 0, prod, dyc, kc, rows, n, H, 1)
		e.fft(prod, tw, rows, n, true)
		du := e.f32(make([]float32, rows*L))
		gy, by := ewLaunch(rows * L)
		e.launch(kernels.C64RealRowsAccF32Kernel, gy, by, 0, du, prod, rows, L, n)
		got := e.read(du, rows*L)
		want, scale := make([]float64, rows*L), make([]float64, rows*L)
		lhs, rhs := 0.0, 0.0
		for r := 0; r < rows; r++ {
			h := r % H
			nd, nk := 0.0, 0.0
			for i := 0; i < L; i++ {
				nd += float64(dy[r*L+i]) * float64(dy[r*L+i])
				nk += float64(k[h*L+i]) * float64(k[h*L+i])
			}
			for tt := 0; tt < L; tt++ {
				for sft := 0; tt+sft < L; sft++ {
					want[r*L+tt] += float64(k[h*L+sft]) * float64(dy[r*L+tt+sft])
				}
				// norm-wise FFT error bound, as in TestFFTConvolution
				scale[r*L+tt] = math.Sqrt(nd*nk) * (1 + math.Log2(float64(n)))
				y := 0.0
				for sft := 0; sft <= tt; sft++ {
					y += float64(k[h*L+sft]) * float64(u[r*L+tt-sft])
				}
				lhs += float64(dy[r*L+tt]) * y
				rhs += float64(got[r*L+tt]) * float64(u[r*L+tt])
			}
		}
		check(t, name("fftconv du B=%d H=%d L=%d", B, H, L), got, want, rtolF32, func(i int) float64 { return scale[i] })
		sum := 0.0
		for i := range scale {
			sum += scale[i] * math.Abs(float64(u[i]))
		}
		// <du, u> inherits each du's error (≤ rtolF32·scale) weighted by |u|.
		if math.Abs(lhs-rhs) > rtolF32*sum {
			t.Errorf("B=%d H=%d L=%d: <dy, conv(u)> = %g but <du, u> = %g", B, H, L, lhs, rhs)
		}
	}
}
