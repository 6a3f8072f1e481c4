package kernels_test

import (
	"github.com/hungry-ssm/hungry/ptx/kernels"
	"math"
	"testing"

	"github.com/hungry-ssm/hungry/ptx/ptxsim"
	"github.com/hungry-ssm/hungry/tensor"
)

func TestShiftSSMKernel(t *testing.T) {
	for _, s := range [][3]int{{1, 1, 1}, {3, 7, 7}, {2, 31, 5}, {5, 33, 33}, {2, 64, 64}, {1, 100, 37}} {
		H, N, Lk := s[0], s[1], s[2]
		e := newEnv(t, "ssmkernel")
		b, c, dk := e.rand(H*N, -1, 1), e.rand(H*N, -1, 1), e.rand(H*Lk, -1, 1)
		dB0, dC0 := e.rand(H*N, -1, 1), e.rand(H*N, -1, 1)
		pb, pc, pdk := e.f32(b), e.f32(c), e.f32(dk)
		want := cpuRef.Zeros(H, Lk)
		cpuRef.ShiftSSMKernel(want, ten(b, H, N), ten(c, H, N))
		kScale := make([]float64, H*Lk)
		dBScale, dCScale := make([]float64, H*N), make([]float64, H*N)
		for h := 0; h < H; h++ {
			for i := 0; i < Lk; i++ {
				for j := 0; j+i < N; j++ {
					kScale[h*Lk+i] += math.Abs(float64(b[h*N+j] * c[h*N+j+i]))
					dBScale[h*N+j] += math.Abs(float64(dk[h*Lk+i] * c[h*N+j+i]))
					dCScale[h*N+j+i] += math.Abs(float64(dk[h*Lk+i] * b[h*N+j]))
				}
			}
		}
		k := e.out(H * Lk)
		e.launch(kernels.ShiftSsmKernelF32Kernel, [3]int{ceilDiv(H*Lk, 256), 1, 1}, [3]int{256, 1, 1}, 0, k, pb, pc, H, N, Lk)
		check(t, name("shift kernel %v", s), e.read(k, H*Lk), f64s(want.Data()), rtolF32, func(i int) float64 { return kScale[i] })

		for _, which := range []string{"both", "dB", "dC"} {
			wB, wC := ten(dB0, H, N), ten(dC0, H, N)
			var pB, pC ptxsim.Ptr = ptrNull, ptrNull
			if which != "dC" {
				pB = e.f32(dB0)
			} else {
				wB = nil
			}
			if which != "dB" {
				pC = e.f32(dC0)
			} else {
				wC = nil
			}
			cpuRef.ShiftSSMKernelBackward(ten(dk, H, Lk), ten(b, H, N), ten(c, H, N), wB, wC)
			e.launch(kernels.ShiftSsmKernelBwdF32Kernel, [3]int{ceilDiv(H*N, 256), 1, 1}, [3]int{256, 1, 1}, 0, pB, pC, pdk, pb, pc, H, N, Lk)
			if wB != nil {
				check(t, name("shift dB %v %s", s, which), e.read(pB, H*N), f64s(wB.Data()), rtolF32,
					func(i int) float64 { return math.Abs(float64(dB0[i])) + dBScale[i] })
			}
			if wC != nil {
				check(t, name("shift dC %v %s", s, which), e.read(pC, H*N), f64s(wC.Data()), rtolF32,
					func(i int) float64 { return math.Abs(float64(dC0[i])) + dCScale[i] })
			}
		}
	}
}

// diagParams draws S4D-like parameters: dt log-uniform in [1e-3, 1e-1], Re A near −1/2,
// Im A = π·n (so dt·A spans the Taylor-series and closed-form branches of ZOH's dB),
// and B, C random.
func diagParams(e *env, H, N int) (logDt, invAReal, aImag, b, c []float32) {
	logDt = e.rand(H, math.Log(1e-3), math.Log(1e-1))
	invAReal = e.rand(H*N, math.Log(0.3), math.Log(0.7))
	aImag = make([]float32, H*N)
	for i := range aImag {
		aImag[i] = float32(math.Pi*float64(i%N) + 0.1*e.rng.Float64())
	}
	return logDt, invAReal, aImag, e.rand(H*N*2, -1, 1), e.rand(H*N*2, -1, 1)
}

// N = 300 takes the forward kernel through two groups of 256 modes.
var diagShapes = [][3]int{{1, 1, 1}, {2, 7, 33}, {3, 32, 100}, {1, 31, 1000}, {2, 3, 257}, {1, 300, 7}}

func TestDiagSSMKernel(t *testing.T) {
	for _, s := range diagShapes {
		H, N, L := s[0], s[1], s[2]
		e := newEnv(t, "ssmkernel")
		logDt, invAReal, aImag, b, c := diagParams(e, H, N)
		args := []any{e.f32(logDt), e.f32(invAReal), e.f32(aImag), e.f32(b), e.f32(c), H, N, L}
		for _, disc := range []tensor.Discretization{tensor.ZOH, tensor.Bilinear} {
			want := cpuRef.Zeros(H, L)
			cpuRef.DiagSSMKernel(want, ten(logDt, H), ten(invAReal, H, N), ten(aImag, H, N), ten(b, H, N, 2), ten(c, H, N, 2), disc)
			k := e.out(H * L)
			e.launch(kernels.DiagSsmKernelF32Kernel, [3]int{ceilDiv(L, 256), H, 1}, [3]int{256, 1, 1}, 0, append(append([]any{k}, args...), int(disc))...)
			// Both compute in float64 (errors near 1e-13 of the modes' magnitudes, at most
			// sum_n 2|C'| <= 4N·dt here) and round once to float32: relative, plus a floor
			// for the entries where the modes cancel.
			floor := 1e-6 * 4 * float64(N) * 0.1
			check(t, name("diag kernel %v %v", s, disc), e.read(k, H*L), f64s(want.Data()), rtolF32, func(int) float64 { return floor })
		}
	}
}

func TestDiagSSMKernelBackward(t *testing.T) {
	for _, s := range diagShapes {
		H, N, L := s[0], s[1], s[2]
		if N > 256 {
			continue // the backward loops over modes one at a time: more of them add only time
		}
		e := newEnv(t, "ssmkernel")
		logDt, invAReal, aImag, b, c := diagParams(e, H, N)
		dK := e.rand(H*L, -1, 1)
		init := [][]float32{e.rand(H, -1, 1), e.rand(H*N, -1, 1), e.rand(H*N, -1, 1), e.rand(H*N*2, -1, 1), e.rand(H*N*2, -1, 1)}
		shapes := [][]int{{H}, {H, N}, {H, N}, {H, N, 2}, {H, N, 2}}
		names := []string{"dLogDt", "dInvAReal", "dAImag", "dB", "dC"}
		params := []any{e.f32(dK), e.f32(logDt), e.f32(invAReal), e.f32(aImag), e.f32(b), e.f32(c), H, N, L}
		for _, disc := range []tensor.Discretization{tensor.ZOH, tensor.Bilinear} {
			for _, skip := range []int{-1, 0, 4} { // all gradients, then the first or the last left out
				want := make([]*tensor.Tensor, len(init))
				ptrs := make([]any, len(init))
				for g := range init {
					ptrs[g] = ptrNull
					if g != skip {
						want[g] = ten(init[g], shapes[g]...)
						ptrs[g] = e.f32(init[g])
					}
				}
				cpuRef.DiagSSMKernelBackward(ten(dK, H, L), ten(logDt, H), ten(invAReal, H, N), ten(aImag, H, N), ten(b, H, N, 2), ten(c, H, N, 2), disc,
					want[0], want[1], want[2], want[3], want[4])
				e.launch(kernels.DiagSsmKernelBwdF32Kernel, [3]int{H, 1, 1}, [3]int{256, 1, 1}, 0, append(append(ptrs, params...), int(disc))...)
				for g := range init {
					if g == skip {
						continue
					}
					w := want[g].Data()
					// float64 throughout on both sides, then one float32 rounding of the
					// gradient and one of its sum with the initial value: relative, plus a
					// floor of 1e-6 of the largest entry for entries that cancel.
					big := 0.0
					for _, v := range w {
						big = math.Max(big, math.Abs(float64(v)))
					}
					check(t, name("diag bwd %s %v %v skip=%d", names[g], s, disc, skip), e.read(ptrs[g].(ptxsim.Ptr), len(w)), f64s(w), rtolF32,
						func(int) float64 { return 1e-6 * big })
				}
			}
		}
	}
}
