package tensor

import (
	"fmt"
	"math"
	"testing"
)

// refMatMul is the textbook triple loop in float64, one batch item at a time.
func refMatMul(a []float32, b []float32, transA, transB bool, m, n, k int) []float64 {
	out := make([]float64, m*n)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			s := 0.0
			for p := 0; p < k; p++ {
				av := a[i*k+p]
				if transA {
					av = a[p*m+i]
				}
				bv := b[p*n+j]
				if transB {
					bv = b[j*k+p]
				}
				s += float64(av) * float64(bv)
			}
			out[i*n+j] = s
		}
	}
	return out
}

func TestMatMulAgainstReference(t *testing.T) {
	rng := NewRNG(1)
	dev := DefaultCPU()
	for _, tc := range []struct{ batch, m, n, k int }{{1, 1, 1, 1}, {1, 7, 31, 5}, {3, 4, 9, 17}, {2, 33, 1, 40}} {
		for _, layout := range []string{"batched", "sharedA", "sharedB", "sumOut"} {
			for _, transA := range []bool{false, true} {
				for _, transB := range []bool{false, true} {
					am, ak := tc.m, tc.k
					if transA {
						am, ak = ak, am
					}
					bk, bn := tc.k, tc.n
					if transB {
						bk, bn = bn, bk
					}
					ashape := []int{tc.batch, am, ak}
					bshape := []int{tc.batch, bk, bn}
					cshape := []int{tc.batch, tc.m, tc.n}
					switch layout {
					case "sharedA":
						ashape = ashape[1:]
					case "sharedB":
						bshape = bshape[1:]
					case "sumOut":
						cshape = cshape[1:]
					}
					a := RandNormal(dev, rng, 1, ashape...)
					b := RandNormal(dev, rng, 1, bshape...)
					c := RandNormal(dev, rng, 1, cshape...)
					prev := append([]float32(nil), c.Data()...)
					dev.MatMul(c, a, b, transA, transB, true)
					want := make([]float64, len(prev))
					for i := range prev {
						want[i] = float64(prev[i])
					}
					for i := 0; i < tc.batch; i++ {
						ai, bi := a.Data(), b.Data()
						if a.Rank() == 3 {
							ai = ai[i*tc.m*tc.k : (i+1)*tc.m*tc.k]
						}
						if b.Rank() == 3 {
							bi = bi[i*tc.k*tc.n : (i+1)*tc.k*tc.n]
						}
						r := refMatMul(ai, bi, transA, transB, tc.m, tc.n, tc.k)
						off := i * tc.m * tc.n
						if c.Rank() == 2 {
							off = 0
						}
						for j, v := range r {
							want[off+j] += v
						}
					}
					// float32 products of k unit-variance terms: error grows like sqrt(k)·6e-8
					// of the magnitude; 1e-5·(1+|x|) leaves a wide margin at these sizes.
					for i, v := range c.Data() {
						if math.Abs(float64(v)-want[i]) > 1e-5*float64(tc.k)*(1+math.Abs(want[i])) {
							t.Fatalf("%+v %s transA=%v transB=%v: element %d = %v, want %v", tc, layout, transA, transB, i, v, want[i])
						}
					}
				}
			}
		}
	}
}

func TestMatMulShapeErrors(t *testing.T) {
	a, b := New(2, 3), New(4, 5)
	err := Catch(func() { DefaultCPU().MatMul(New(2, 5), a, b, false, false, false) })
	if err == nil || err.Error() != "MatMul: shapes [2 3], [4 5], [2 5]: inner dimensions differ (3 vs 4)" {
		t.Fatalf("got %v", err)
	}
}

// TestMatMulPlan pins the plan both devices execute: one call for a single product, a
// tall product or a stacked sum, one strided batch for independent products (the
// per-head outer products of multi-head H3 among them), and a call per item, in order,
// for the other sums over the batch.
func TestMatMulPlan(t *testing.T) {
	for _, c := range []struct {
		name           string
		a, b, c        []int
		transA, transB bool
		want           []GEMM
	}{
		{"single", []int{3, 5}, []int{5, 7}, []int{3, 7}, false, false,
			[]GEMM{{M: 3, N: 7, K: 5, Batch: 1, LdA: 5, LdB: 7, LdC: 7}}},
		{"tall", []int{4, 3, 5}, []int{5, 7}, []int{4, 3, 7}, false, false,
			[]GEMM{{M: 12, N: 7, K: 5, Batch: 1, LdA: 5, LdB: 7, LdC: 7}}},
		{"stacked sum", []int{4, 5, 3}, []int{4, 5, 7}, []int{3, 7}, true, false,
			[]GEMM{{TransA: true, M: 3, N: 7, K: 20, Batch: 1, LdA: 3, LdB: 7, LdC: 7}}},
		{"outer products", []int{6, 4, 1}, []int{6, 1, 4}, []int{6, 4, 4}, false, false,
			[]GEMM{{M: 4, N: 4, K: 1, Batch: 6, LdA: 1, LdB: 4, LdC: 4, StrideA: 4, StrideB: 4, StrideC: 16}}},
		{"shared A", []int{3, 5}, []int{2, 5, 7}, []int{2, 3, 7}, false, false,
			[]GEMM{{M: 3, N: 7, K: 5, Batch: 2, LdA: 5, LdB: 7, LdC: 7, StrideB: 35, StrideC: 21}}},
		{"sum", []int{2, 3, 5}, []int{2, 5, 7}, []int{3, 7}, false, false, []GEMM{
			{M: 3, N: 7, K: 5, Batch: 1, LdA: 5, LdB: 7, LdC: 7},
			{M: 3, N: 7, K: 5, Batch: 1, LdA: 5, LdB: 7, LdC: 7, OffA: 15, OffB: 35, Beta: 1}}},
	} {
		got := MatMulPlan(New(c.c...), New(c.a...), New(c.b...), c.transA, c.transB, false)
		if fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("%s: plan %+v\nwant %+v", c.name, got, c.want)
		}
	}
	if p := MatMulPlan(New(3, 7), New(0, 3, 5), New(0, 5, 7), false, false, false); len(p) != 0 {
		t.Errorf("empty batch: plan %+v", p)
	}
}
