package tensor

import (
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
