package kernels_test

import (
	"math"
	"strings"
	"testing"

	"github.com/hungry-ssm/hungry/ptx/kernels"
)

var sgemmKernels = map[string]*kernels.Info{"nn": kernels.SgemmNnKernel, "nt": kernels.SgemmNtKernel,
	"tn": kernels.SgemmTnKernel, "tt": kernels.SgemmTtKernel}

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
				e.launch(sgemmKernels[kind], [3]int{ceilDiv(N, 64), ceilDiv(M, 64), 1}, [3]int{128, 1, 1}, 0,
					pc, e.f32(a), e.f32(b), M, N, K, lda, ldb, ldc, float32(alpha), beta, 1, 0, 0, 0)
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

// TestSgemmStridedBatch runs batches through the typed launchers: items in grid.z, one
// operand shared (stride 0), and gaps between the items of C that must stay untouched.
func TestSgemmStridedBatch(t *testing.T) {
	launchers := map[string]func(l kernels.Launcher, C, A, B kernels.Ptr, M, N, K, lda, ldb, ldc uint32, alpha, beta float32,
		batch, strideA, strideB, strideC uint32) error{"nn": kernels.SgemmNn, "nt": kernels.SgemmNt, "tn": kernels.SgemmTn, "tt": kernels.SgemmTt}
	for _, kind := range []string{"nn", "nt", "tn", "tt"} {
		for _, s := range [][4]int{{1, 7, 31, 5}, {3, 33, 7, 1}, {5, 65, 9, 17}} {
			batch, M, N, K := s[0], s[1], s[2], s[3]
			for _, sharedA := range []bool{false, true} {
				e := newEnv(t, "gemm")
				transA, transB := kind[0] == 't', kind[1] == 't'
				lda, ldb := K, N
				if transA {
					lda = M
				}
				if transB {
					ldb = K
				}
				strideA, strideB, strideC := M*K, 0, M*N+3
				if sharedA {
					strideA, strideB = 0, K*N
				}
				a := e.rand(max(strideA*(batch-1)+M*K, 1), -1, 1)
				b := e.rand(max(strideB*(batch-1)+K*N, 1), -1, 1)
				c0 := e.rand(strideC*batch, -1, 1)
				pc := e.f32(c0)
				const alpha, beta = 1.5, 0.5
				if err := launchers[kind](e, kp(pc), kp(e.f32(a)), kp(e.f32(b)), uint32(M), uint32(N), uint32(K), uint32(lda), uint32(ldb),
					uint32(N), alpha, beta, uint32(batch), uint32(strideA), uint32(strideB), uint32(strideC)); err != nil {
					t.Fatal(err)
				}
				want, scale := f64s(c0), make([]float64, len(c0))
				for z := 0; z < batch; z++ {
					for i := 0; i < M; i++ {
						for j := 0; j < N; j++ {
							sum, abs := 0.0, 0.0
							for k := 0; k < K; k++ {
								ai, bi := z*strideA+i*lda+k, z*strideB+k*ldb+j
								if transA {
									ai = z*strideA + k*lda + i
								}
								if transB {
									bi = z*strideB + j*ldb + k
								}
								sum += float64(a[ai]) * float64(b[bi])
								abs += math.Abs(float64(a[ai]) * float64(b[bi]))
							}
							ci := z*strideC + i*N + j
							want[ci] = alpha*sum + beta*float64(c0[ci])
							scale[ci] = alpha*abs + math.Abs(beta*float64(c0[ci]))
						}
					}
				}
				check(t, name("batched sgemm_%s %v sharedA=%v", kind, s, sharedA), e.read(pc, len(c0)), want, rtolTF32,
					func(i int) float64 { return scale[i] })
			}
		}
	}
}

// TestLaunchRefusesGridBeyondHardware: a typed launcher reports a grid.z over 65535
// instead of letting it wrap or reach the driver.
func TestLaunchRefusesGridBeyondHardware(t *testing.T) {
	e := newEnv(t, "gemm")
	err := kernels.SgemmNn(e, kernels.Ptr{}, kernels.Ptr{}, kernels.Ptr{}, 1, 1, 1, 1, 1, 1, 1, 0, kernels.MaxGridYZ+1, 0, 0, 0)
	if err == nil || !strings.Contains(err.Error(), "exceeds") {
		t.Fatalf("grid.z %d: %v", kernels.MaxGridYZ+1, err)
	}
}
