package kernels_test

import (
	"math"
	"testing"

	"github.com/hungry-ssm/hungry/ptx/ptxsim"
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
		e.launch("shift_ssm_kernel_f32", [3]int{ceilDiv(H*Lk, 256), 1, 1}, [3]int{256, 1, 1}, 0, k, pb, pc, H, N, Lk)
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
			e.launch("shift_ssm_kernel_bwd_f32", [3]int{ceilDiv(H*N, 256), 1, 1}, [3]int{256, 1, 1}, 0, pB, pC, pdk, pb, pc, H, N, Lk)
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
