package kernels_test

import (
	"math"
	"testing"
)

func TestSgemmTF32(t *testing.T) {
	shapes := [][3]int{{1, 1, 1}, {7, 31, 33}, {33, 7, 100}, {100, 33, 7}, {64, 64, 16}, {65, 130, 31}, {31, 100, 33}, {3, 5, 0}}
	for _, kind := range []string{"nn", "nt", "tn", "tt"} {
		for si, s := range shapes {
			M, N, K := s[0], s[1], s[2]
			e := newEnv(t, "gemm")
			// Padded leading dimensions on some shapes check that lda/ldb/ldc are honoured.
			pad := si % 2
			var lda, ldb int
			var a, b []float32
			transA, transB := kind[0] == 't', kind[1] == 't'
			if transA {
				lda = M + pad
				a = e.rand(max(K, 1)*lda, -1, 1)
			} else {
				lda = K + pad
				a = e.rand(M*max(lda, 1), -1, 1)
			}
			if transB {
				ldb = K + pad
				b = e.rand(N*max(ldb, 1), -1, 1)
			} else {
				ldb = N + pad
				b = e.rand(max(K, 1)*ldb, -1, 1)
			}
			ldc := N + pad
			c0 := e.rand(M*ldc, -1, 1)
			at := func(i, k int) float64 {
				if transA {
					return float64(a[k*lda+i])
				}
				return float64(a[i*lda+k])
			}
			bt := func(k, j int) float64 {
				if transB {
					return float64(b[j*ldb+k])
				}
				return float64(b[k*ldb+j])
			}
			for _, beta := range []float32{0, 0.5} {
				const alpha = 1.5
				var pc = e.f32(c0)
				if beta == 0 {
					// beta == 0 must not read C: leave it unwritten except the padding so a read
					// of C is reported by the simulator.
					pc = e.out(M * ldc)
					if pad > 0 {
						for i := 0; i < M; i++ {
							if err := e.mem.WriteF32(pc+ptrOff(i*ldc+N), []float32{c0[i*ldc+N]}); err != nil {
								t.Fatal(err)
							}
						}
					}
				}
				e.launch("sgemm_"+kind, [3]int{ceilDiv(N, 64), ceilDiv(M, 64), 1}, [3]int{128, 1, 1}, 0,
					pc, e.f32(a), e.f32(b), M, N, K, lda, ldb, ldc, float32(alpha), beta)
				got := e.read(pc, M*ldc)
				want, scale := make([]float64, M*ldc), make([]float64, M*ldc)
				for i := 0; i < M; i++ {
					for j := 0; j < ldc; j++ {
						if j >= N { // padding columns must be left alone
							want[i*ldc+j] = float64(c0[i*ldc+j])
							continue
						}
						s, abs := 0.0, 0.0
						for k := 0; k < K; k++ {
							s += at(i, k) * bt(k, j)
							abs += math.Abs(at(i, k) * bt(k, j))
						}
						want[i*ldc+j] = alpha*s + float64(beta)*float64(c0[i*ldc+j])
						scale[i*ldc+j] = alpha*abs + math.Abs(float64(beta)*float64(c0[i*ldc+j]))
					}
				}
				check(t, name("sgemm_%s M=%d N=%d K=%d beta=%g", kind, M, N, K, beta), got, want, rtolTF32,
					func(i int) float64 { return scale[i] })
			}
		}
	}
}
