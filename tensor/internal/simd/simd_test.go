package simd

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/hungry-ssm/hungry/tensor/internal/parallel"
)

type impl struct {
	name                  string
	dot                   func(x, y []float32) float32
	sum                   func(x []float32) float32
	axpy                  func(alpha float32, x, y []float32)
	scale                 func(dst []float32, alpha float32, x []float32)
	add, sub, mul, mulAdd func(dst, a, b []float32)
	gemm                  gemmKernels
}

var genericImpl = impl{
	name: "generic", dot: dotGeneric, sum: sumGeneric, axpy: axpyGeneric, scale: scaleGeneric,
	add: addGeneric, sub: subGeneric, mul: mulGeneric, mulAdd: mulAddGeneric, gemm: genericGemmKernels,
}

// unitRoundoff is 2⁻²⁴, the relative error of one float32 rounding.
const unitRoundoff = 1.0 / (1 << 24)

// guard fills the slots around a kernel's window, so a store past either end shows up.
const guard = float32(-12345.5)

// randomSlice returns off guard values, then n random values in ±[0.25, 1) (never zero,
// and no cancellation down to nothing), then 8 more guard values. The window is s[off:off+n].
func randomSlice(rng *rand.Rand, off, n int) []float32 {
	s := make([]float32, off+n+8)
	for i := range s {
		s[i] = guard
	}
	for i := off; i < off+n; i++ {
		v := float32(0.25 + 0.75*rng.Float64())
		if rng.IntN(2) == 0 {
			v = -v
		}
		s[i] = v
	}
	return s
}

func checkGuards(t *testing.T, what string, s []float32, off, n int) {
	t.Helper()
	for i, v := range s {
		if (i < off || i >= off+n) && v != guard {
			t.Fatalf("%s: wrote %v outside its window [%d, %d) at index %d", what, v, off, off+n, i)
		}
	}
}

func TestReductionsMatchFloat64(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, im := range implementations() {
		for _, off := range []int{0, 1, 3} {
			for n := 0; n <= 300; n++ {
				xs, ys := randomSlice(rng, off, n), randomSlice(rng, off, n)
				x, y := xs[off:off+n], ys[off:off+n]
				var dotRef, dotMag, sumRef, sumMag float64
				for i := range x {
					p := float64(x[i]) * float64(y[i])
					dotRef += p
					dotMag += math.Abs(p)
					sumRef += float64(x[i])
					sumMag += math.Abs(float64(x[i]))
				}
				// Any order of summing n terms in float32 (products rounded or fused) stays
				// within (n+1)·u·Σ|terms| to first order; +2 leaves room for the second order.
				tol := func(mag float64) float64 { return float64(n+3) * unitRoundoff * mag }
				if got := im.dot(x, y); math.Abs(float64(got)-dotRef) > tol(dotMag) {
					t.Fatalf("%s dot n=%d off=%d: got %v, want %v ± %g", im.name, n, off, got, dotRef, tol(dotMag))
				}
				if got := im.sum(x); math.Abs(float64(got)-sumRef) > tol(sumMag) {
					t.Fatalf("%s sum n=%d off=%d: got %v, want %v ± %g", im.name, n, off, got, sumRef, tol(sumMag))
				}
				checkGuards(t, im.name+" dot/sum", xs, off, n)
			}
		}
	}
}

func TestElementwiseMatchScalar(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const alpha = float32(-1.7)
	for _, im := range implementations() {
		for _, off := range []int{0, 1, 3} {
			for n := 0; n <= 300; n++ {
				as, bs := randomSlice(rng, off, n), randomSlice(rng, off, n)
				a, b := as[off:off+n], bs[off:off+n]
				// Add, Sub, Mul and Scale round once, like Go's float32 operators, so they
				// must agree bit for bit.
				exact := []struct {
					name string
					run  func(dst []float32)
					want func(i int) float32
				}{
					{"add", func(d []float32) { im.add(d, a, b) }, func(i int) float32 { return a[i] + b[i] }},
					{"sub", func(d []float32) { im.sub(d, a, b) }, func(i int) float32 { return a[i] - b[i] }},
					{"mul", func(d []float32) { im.mul(d, a, b) }, func(i int) float32 { return a[i] * b[i] }},
					{"scale", func(d []float32) { im.scale(d, alpha, a) }, func(i int) float32 { return alpha * a[i] }},
				}
				for _, op := range exact {
					ds := randomSlice(rng, off, n)
					op.run(ds[off : off+n])
					for i := range n {
						if got, want := ds[off+i], op.want(i); got != want {
							t.Fatalf("%s %s n=%d off=%d: [%d] = %v, want %v", im.name, op.name, n, off, i, got, want)
						}
					}
					checkGuards(t, im.name+" "+op.name, ds, off, n)
				}
				// Axpy and MulAdd may fuse (one rounding) or not (two), so they get the
				// two-rounding bound 2u·(|y| + |product|).
				fused := []struct {
					name string
					run  func(dst []float32)
					prod func(i int) float64
				}{
					{"axpy", func(d []float32) { im.axpy(alpha, a, d) }, func(i int) float64 { return float64(alpha) * float64(a[i]) }},
					{"mulAdd", func(d []float32) { im.mulAdd(d, a, b) }, func(i int) float64 { return float64(a[i]) * float64(b[i]) }},
				}
				for _, op := range fused {
					ds := randomSlice(rng, off, n)
					before := append([]float32(nil), ds...)
					op.run(ds[off : off+n])
					for i := range n {
						y, p := float64(before[off+i]), op.prod(i)
						want, tol := y+p, 2*unitRoundoff*(math.Abs(y)+math.Abs(p))
						if got := float64(ds[off+i]); math.Abs(got-want) > tol {
							t.Fatalf("%s %s n=%d off=%d: [%d] = %v, want %v ± %g", im.name, op.name, n, off, i, got, want, tol)
						}
					}
					checkGuards(t, im.name+" "+op.name, ds, off, n)
				}
			}
		}
	}
}

func TestElementwiseInPlace(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, im := range implementations() {
		a, b := randomSlice(rng, 0, 77)[:77], randomSlice(rng, 0, 77)[:77]
		want := make([]float32, len(a))
		for i := range a {
			want[i] = a[i] - b[i]
		}
		im.sub(a, a, b)
		for i := range a {
			if a[i] != want[i] {
				t.Fatalf("%s sub in place: [%d] = %v, want %v", im.name, i, a[i], want[i])
			}
		}
	}
}

// gemmCase is one product for the tests. Matrices sit at an offset inside their slices and
// rows are padded past their width, so the kernels must honour both.
type gemmCase struct {
	transA, transB bool
	m, n, k        int
	alpha, beta    float32
	pad, off       int
}

type gemmOperands struct {
	a, b, c            []float32
	lda, ldb, ldc, off int
}

func (g gemmCase) String() string {
	return fmt.Sprintf("tA=%v tB=%v m=%d n=%d k=%d alpha=%v beta=%v pad=%d off=%d", g.transA, g.transB, g.m, g.n, g.k, g.alpha, g.beta, g.pad, g.off)
}

func (g gemmCase) operands(rng *rand.Rand) gemmOperands {
	aRows, aCols := g.m, g.k
	if g.transA {
		aRows, aCols = g.k, g.m
	}
	bRows, bCols := g.k, g.n
	if g.transB {
		bRows, bCols = g.n, g.k
	}
	o := gemmOperands{lda: aCols + g.pad, ldb: bCols + g.pad, ldc: g.n + g.pad, off: g.off}
	o.lda, o.ldb, o.ldc = max(o.lda, 1), max(o.ldb, 1), max(o.ldc, 1)
	o.a = randomSlice(rng, g.off, aRows*o.lda)
	o.b = randomSlice(rng, g.off, bRows*o.ldb)
	o.c = randomSlice(rng, g.off, g.m*o.ldc)
	// Whatever lies around A and B, row padding included, is NaN: a kernel that reads
	// outside the matrices, even into lanes it later discards or multiplies by zero,
	// turns its results into NaN.
	poisonOutside(o.a, g.off, aRows, aCols, o.lda)
	poisonOutside(o.b, g.off, bRows, bCols, o.ldb)
	if g.beta == 0 {
		// beta == 0 must not read C: NaN would poison any product that did.
		for i := g.off; i < g.off+g.m*o.ldc; i++ {
			o.c[i] = float32(math.NaN())
		}
	}
	return o
}

// poisonOutside sets every element of s that is not part of the rows×cols matrix stored
// at s[off:] with stride ld to NaN.
func poisonOutside(s []float32, off, rows, cols, ld int) {
	nan := float32(math.NaN())
	for i := range s {
		r, col := (i-off)/ld, (i-off)%ld
		if i < off || r >= rows || col >= cols {
			s[i] = nan
		}
	}
}

// checkAgainstReference compares got (the C slice after the product) with a float64
// triple loop over the original operands, element by element, and checks that the padding
// between rows and the guards around C are untouched.
func checkAgainstReference(t *testing.T, label string, g gemmCase, o gemmOperands, got []float32) {
	t.Helper()
	at := func(i, p int) float64 {
		if g.transA {
			return float64(o.a[o.off+p*o.lda+i])
		}
		return float64(o.a[o.off+i*o.lda+p])
	}
	bt := func(p, j int) float64 {
		if g.transB {
			return float64(o.b[o.off+j*o.ldb+p])
		}
		return float64(o.b[o.off+p*o.ldb+j])
	}
	alpha, beta := float64(g.alpha), float64(g.beta)
	for i := range g.m {
		for j := range o.ldc {
			idx := o.off + i*o.ldc + j
			if j >= g.n {
				if math.Float32bits(got[idx]) != math.Float32bits(o.c[idx]) {
					t.Fatalf("%s %v: padding C[%d][%d] changed to %v", label, g, i, j, got[idx])
				}
				continue
			}
			var s, mag float64
			for p := range g.k {
				v := at(i, p) * bt(p, j)
				s += v
				mag += math.Abs(v)
			}
			want, wantMag := alpha*s, math.Abs(alpha)*mag
			if beta != 0 {
				c := float64(o.c[idx])
				want += beta * c
				wantMag += math.Abs(beta * c)
			}
			// A float32 dot product of length k is within k·u·Σ|terms| of the exact one in
			// any summation order; scaling by alpha once per k block of 256, adding beta·C
			// and the edge-tile copy add a few roundings more. 2(k+4) covers all of these
			// with room, while a wrong or missing term is off by about Σ|terms|/k.
			tol := 2 * float64(g.k+4) * unitRoundoff * wantMag
			if d := math.Abs(float64(got[idx]) - want); !(d <= tol) {
				t.Fatalf("%s %v: C[%d][%d] = %v, want %v ± %g", label, g, i, j, got[idx], want, tol)
			}
		}
	}
	checkGuards(t, label+" C guards", got[:o.off], 0, 0)
	checkGuards(t, label+" C guards", got[o.off+g.m*o.ldc:], 0, 0)
}

func runCase(t *testing.T, im impl, pool *parallel.Pool, g gemmCase, rng *rand.Rand) {
	t.Helper()
	o := g.operands(rng)
	got := append([]float32(nil), o.c...)
	checkGemmArgs(g.transA, g.transB, g.m, g.n, g.k, o.a[o.off:], o.lda, o.b[o.off:], o.ldb, got[o.off:], o.ldc)
	sgemmWith(im.gemm, pool, g.transA, g.transB, g.m, g.n, g.k, g.alpha, o.a[o.off:], o.lda, o.b[o.off:], o.ldb, g.beta, got[o.off:], o.ldc)
	checkAgainstReference(t, im.name, g, o, got)
	if g.m*g.n*g.k <= tinyFlops && g.m*g.n*g.k > 0 && g.alpha != 0 {
		// Tiny products ran as plain loops; the kernels must handle these shapes too.
		got = append(got[:0], o.c...)
		sgemmDispatch(im.gemm, pool, g.transA, g.transB, g.m, g.n, g.k, g.alpha, o.a[o.off:], o.lda, o.b[o.off:], o.ldb, g.beta, got[o.off:], o.ldc)
		checkAgainstReference(t, im.name+" (no tiny path)", g, o, got)
	}
}

var scalings = []struct{ alpha, beta float32 }{{1, 0}, {1, 1}, {0.75, -1.25}, {-2, 0}, {0, 0.5}}

func TestSgemmSmallShapesExhaustive(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, im := range implementations() {
		for mask := range 4 {
			for m := 0; m <= 8; m++ {
				for n := 0; n <= 8; n++ {
					for k := 0; k <= 8; k++ {
						s := scalings[(m+n+k)%len(scalings)]
						g := gemmCase{transA: mask&1 != 0, transB: mask&2 != 0, m: m, n: n, k: k,
							alpha: s.alpha, beta: s.beta, pad: k % 3, off: 1 + 2*(n%2)}
						runCase(t, im, nil, g, rng)
					}
				}
			}
		}
	}
}

func TestSgemmBlockEdges(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	pool := parallel.New(2)
	// Sizes one below, at and one past each blocking boundary (mr, nr, mc, kc, nc).
	shapes := [][3]int{
		{mr - 1, nr + 1, kc + 1}, {mr + 1, nr - 1, kc}, {mc + 1, 2*nr + 3, 31}, {mc, nr, 2*kc + 7},
		{mc - 1, 33, kc - 1}, {7, nc + 5, 9}, {1, 1000, 7}, {1000, 1, 7}, {2, 300, 300},
		// One or two rows or columns take the matrix-vector path, split over workers here.
		{1, 4500, 250}, {4500, 1, 250}, {1, 1, 300}, {2, 4500, 250}, {4500, 2, 250},
		// Up to 16 rows with op(B) = Bᵀ take the dot-product path.
		{3, 100, 37}, {7, 301, 260}, {16, 50, 1000}, {13, 2000, 50}, {17, 40, 9},
		// The AVX-512 family's 12×32 tiles.
		{mr512 - 1, nr512 + 1, kc + 1}, {mr512 + 1, nr512 - 1, 9}, {2 * mr512, 2 * nr512, kc - 1}, {mc + 5, 3*nr512 + 7, 15},
	}
	for _, im := range implementations() {
		for i, sh := range shapes {
			for mask := range 4 {
				s := scalings[(i+mask)%len(scalings)]
				g := gemmCase{transA: mask&1 != 0, transB: mask&2 != 0, m: sh[0], n: sh[1], k: sh[2],
					alpha: s.alpha, beta: s.beta, pad: 3, off: 3}
				runCase(t, im, pool, g, rng)
			}
		}
	}
}

func TestSgemmRandomShapes(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	pools := []*parallel.Pool{nil, parallel.New(2), parallel.New(3)}
	for _, im := range implementations() {
		for trial := range 48 {
			s := scalings[trial%len(scalings)]
			g := gemmCase{transA: trial&1 != 0, transB: trial&2 != 0,
				m: 1 + rng.IntN(300), n: 1 + rng.IntN(300), k: 1 + rng.IntN(300),
				alpha: s.alpha, beta: s.beta, pad: rng.IntN(5), off: 1 + 2*rng.IntN(2)}
			runCase(t, im, pools[trial%len(pools)], g, rng)
		}
	}
}

// The split across workers cuts C into stripes of whole micro-tiles, each computed
// exactly as the serial code would, so the thread count must not change a single bit.
func TestSgemmThreadCountDoesNotChangeResult(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	shapes := [][3]int{{200, 150, 300}, {5, 900, 260}, {110, 100, 100}, {1, 3000, 400}, {3000, 1, 400}}
	for _, sh := range shapes {
		for mask := range 4 {
			g := gemmCase{transA: mask&1 != 0, transB: mask&2 != 0, m: sh[0], n: sh[1], k: sh[2], alpha: 0.5, beta: 2, pad: 1}
			o := g.operands(rng)
			var first []float32
			for _, pool := range []*parallel.Pool{nil, parallel.New(2), parallel.New(3)} {
				got := append([]float32(nil), o.c...)
				Sgemm(pool, g.transA, g.transB, g.m, g.n, g.k, g.alpha, o.a, o.lda, o.b, o.ldb, g.beta, got, o.ldc)
				if first == nil {
					first = got
					continue
				}
				for i := range got {
					if math.Float32bits(got[i]) != math.Float32bits(first[i]) {
						t.Fatalf("%v: element %d is %v with %d workers, %v serially", g, i, got[i], pool.Workers(), first[i])
					}
				}
			}
		}
	}
}

// Ops parallelise over their own loops and call Sgemm with the same pool inside; the
// nested shares must neither deadlock nor mix up their products.
func TestSgemmNestedInPoolLoop(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 18))
	pool := parallel.New(2)
	const items, m, n, k = 4, 90, 70, 300
	g := gemmCase{m: m, n: n, k: k, alpha: 1, beta: 0}
	ops := make([]gemmOperands, items)
	want := make([][]float32, items)
	for i := range ops {
		ops[i] = g.operands(rng)
		want[i] = make([]float32, m*n)
		Sgemm(nil, false, false, m, n, k, 1, ops[i].a, ops[i].lda, ops[i].b, ops[i].ldb, 0, want[i], n)
	}
	got := make([][]float32, items)
	pool.For(items, 1, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			got[i] = make([]float32, m*n)
			Sgemm(pool, false, false, m, n, k, 1, ops[i].a, ops[i].lda, ops[i].b, ops[i].ldb, 0, got[i], n)
		}
	})
	for i := range got {
		for j := range got[i] {
			if math.Float32bits(got[i][j]) != math.Float32bits(want[i][j]) {
				t.Fatalf("item %d element %d = %v nested, %v serially", i, j, got[i][j], want[i][j])
			}
		}
	}
}

func TestSgemmStridedMatchesLoop(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	pool := parallel.New(2)
	// Small items go to workers whole; big ones too when the batch splits evenly (4 on 2
	// workers), and are each shared between workers otherwise (3).
	for _, sh := range [][4]int{{5, 3, 17, 9}, {5, 70, 80, 90}, {4, 200, 200, 210}, {3, 200, 200, 210}} {
		for _, sharedB := range []bool{false, true} {
			batch, m, n, k := sh[0], sh[1], sh[2], sh[3]
			strideA, strideC := m*k+2, m*n+1
			strideB := k*n + 3
			if sharedB {
				strideB = 0
			}
			a := randomSlice(rng, 0, batch*strideA)
			b := randomSlice(rng, 0, batch*k*n+3*batch)
			c := randomSlice(rng, 0, batch*strideC)
			want := append([]float32(nil), c...)
			for i := range batch {
				Sgemm(nil, true, false, m, n, k, 1.5, a[i*strideA:], m, b[i*strideB:], n, -0.5, want[i*strideC:], n)
			}
			SgemmStrided(pool, true, false, batch, m, n, k, 1.5, a, strideA, m, b, strideB, n, -0.5, c, strideC, n)
			for i := range c {
				if math.Float32bits(c[i]) != math.Float32bits(want[i]) {
					t.Fatalf("batch=%d m=%d n=%d k=%d sharedB=%v: element %d = %v, want %v", batch, m, n, k, sharedB, i, c[i], want[i])
				}
			}
		}
	}
}

// With k == 0 the operands hold nothing, and the batch only scales C.
func TestSgemmStridedEmptyInner(t *testing.T) {
	c := []float32{1, 2, 3, 4, 5, 6}
	SgemmStrided(parallel.New(2), false, false, 3, 1, 2, 0, 1, nil, 4, 1, nil, 4, 2, 3, c, 2, 2)
	for i, v := range c {
		if want := 3 * float32(i+1); v != want {
			t.Fatalf("c[%d] = %v, want %v", i, v, want)
		}
	}
	// Empty operands may come with zero strides, as shape code computes them.
	c = []float32{float32(math.NaN()), 1, 2, 3}
	Sgemm(nil, false, false, 2, 2, 0, 1, nil, 0, nil, 0, 0, c, 2)
	for i, v := range c {
		if v != 0 {
			t.Fatalf("k=0, beta=0: c[%d] = %v, want 0", i, v)
		}
	}
}

func TestSgemmRejectsShortSlices(t *testing.T) {
	cases := []struct {
		name string
		call func()
	}{
		{"short A", func() {
			Sgemm(nil, false, false, 4, 4, 4, 1, make([]float32, 15), 4, make([]float32, 16), 4, 0, make([]float32, 16), 4)
		}},
		{"short C", func() {
			Sgemm(nil, false, false, 4, 4, 4, 1, make([]float32, 16), 4, make([]float32, 16), 4, 0, make([]float32, 15), 4)
		}},
		{"small ldb", func() {
			Sgemm(nil, false, true, 4, 4, 5, 1, make([]float32, 20), 5, make([]float32, 20), 4, 0, make([]float32, 16), 4)
		}},
		{"negative m", func() { Sgemm(nil, false, false, -1, 4, 4, 1, nil, 4, nil, 4, 0, nil, 4) }},
		{"overlapping batch", func() {
			SgemmStrided(nil, false, false, 2, 2, 2, 2, 1, make([]float32, 8), 4, 2, make([]float32, 8), 4, 2, 0, make([]float32, 8), 3, 2)
		}},
		{"short batch", func() {
			SgemmStrided(nil, false, false, 3, 2, 2, 2, 1, make([]float32, 11), 4, 2, make([]float32, 12), 4, 2, 0, make([]float32, 12), 4, 2)
		}},
		{"negative stride", func() { SgemmStrided(nil, false, false, 2, 1, 1, 1, 1, nil, -1, 1, nil, 0, 1, 0, nil, 1, 1) }},
	}
	for _, tc := range cases {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: Sgemm returned instead of panicking", tc.name)
				}
			}()
			tc.call()
		}()
	}
}

// The exported vector functions run the process's kernel family on the first slice's
// length, and refuse a second slice that is too short rather than read past it.
func TestVectorAPI(t *testing.T) {
	rng := rand.New(rand.NewPCG(19, 20))
	const n = 77
	x, y := randomSlice(rng, 0, n)[:n], randomSlice(rng, 0, n+5)[:n+5]
	var dotRef, mag float64
	for i := range x {
		dotRef += float64(x[i]) * float64(y[i])
		mag += math.Abs(float64(x[i]) * float64(y[i]))
	}
	if got := Dot(x, y); math.Abs(float64(got)-dotRef) > (n+3)*unitRoundoff*mag {
		t.Fatalf("Dot = %v, want %v", got, dotRef)
	}
	dst := make([]float32, n)
	Add(dst, x, y)
	for i := range dst {
		if dst[i] != x[i]+y[i] {
			t.Fatalf("Add: [%d] = %v, want %v", i, dst[i], x[i]+y[i])
		}
	}
	short := y[:n-1]
	calls := map[string]func(){
		"Dot":    func() { Dot(x, short) },
		"Axpy":   func() { Axpy(2, x, short) },
		"Scale":  func() { Scale(dst, 2, short) },
		"Add":    func() { Add(dst, x, short) },
		"Sub":    func() { Sub(dst, short, x) },
		"Mul":    func() { Mul(dst, x, short) },
		"MulAdd": func() { MulAdd(dst, short, x) },
	}
	for name, call := range calls {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s with a short slice returned instead of panicking", name)
				}
			}()
			call()
		}()
	}
	// Both sums are within n·u·Σ|x| <= n·u·n of the exact one.
	if got, want := Sum(x), sumGeneric(x); math.Abs(float64(got-want)) > 2*n*unitRoundoff*float64(n) {
		t.Fatalf("Sum = %v, generic %v", got, want)
	}
	Scale(dst, 0.5, x)
	Sub(dst, dst, x)
	Mul(dst, dst, y[:n])
	MulAdd(dst, x, y[:n])
	Axpy(1, x, dst)
	for i := range dst {
		want := float64(-0.5*x[i]*y[i]) + float64(x[i])*float64(y[i]) + float64(x[i])
		if d := math.Abs(float64(dst[i]) - want); d > 8*unitRoundoff*(1+math.Abs(want)) {
			t.Fatalf("chained ops: [%d] = %v, want %v", i, dst[i], want)
		}
	}
}

// The matrix-vector kernels, called directly so that their output window has guards on
// both sides and their matrix NaN around it: column and row counts cover the 128-, 64-,
// 16-, 8- and 1-wide paths and every remainder.
func TestGemvKernels(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	var sizes []int
	for n := 0; n <= 160; n++ {
		sizes = append(sizes, n)
	}
	sizes = append(sizes, 255, 256, 300)
	for _, im := range implementations() {
		for _, n := range sizes {
			for _, k := range []int{1, 7, 8, 9, 33} {
				x := randomSlice(rng, 0, k)[:k]
				// gemvN: a is k rows of n, 3 floats of padding per row.
				lda := n + 3
				a := randomSlice(rng, 1, k*lda)
				poisonOutside(a, 1, k, n, lda)
				ys := randomSlice(rng, 2, n)
				before := append([]float32(nil), ys...)
				im.gemm.gemvN(k, x, a[1:], lda, ys[2:2+n])
				checkGuards(t, im.name+" gemvN", ys, 2, n)
				for j := range n {
					want, mag := float64(before[2+j]), math.Abs(float64(before[2+j]))
					for p := range k {
						v := float64(x[p]) * float64(a[1+p*lda+j])
						want += v
						mag += math.Abs(v)
					}
					if d := math.Abs(float64(ys[2+j]) - want); !(d <= float64(k+2)*unitRoundoff*mag) {
						t.Fatalf("%s gemvN n=%d k=%d: y[%d] = %v, want %v", im.name, n, k, j, ys[2+j], want)
					}
				}
				// gemvT: a is n rows of k, 3 floats of padding per row.
				lda = k + 3
				a = randomSlice(rng, 1, n*lda)
				poisonOutside(a, 1, n, k, lda)
				ys = randomSlice(rng, 2, n)
				im.gemm.gemvT(k, x, a[1:], lda, ys[2:2+n])
				checkGuards(t, im.name+" gemvT", ys, 2, n)
				for j := range n {
					var want, mag float64
					for p := range k {
						v := float64(x[p]) * float64(a[1+j*lda+p])
						want += v
						mag += math.Abs(v)
					}
					if d := math.Abs(float64(ys[2+j]) - want); !(d <= float64(k+2)*unitRoundoff*mag) {
						t.Fatalf("%s gemvT n=%d k=%d: y[%d] = %v, want %v", im.name, n, k, j, ys[2+j], want)
					}
				}
			}
		}
	}
}

// TestPackKernels holds each family's packing kernels to the generic loops for its own
// sliver shape, on every depth up to 40 (whole 8×8 transposes and remainders), with
// strided sources whose padding is NaN and guards after dst: a packed value out of
// place or a store past the sliver (and its packSlack) shows up.
func TestPackKernels(t *testing.T) {
	rng := rand.New(rand.NewPCG(23, 24))
	for _, im := range implementations() {
		g := im.gemm
		for kb := 0; kb <= 40; kb++ {
			check := func(what string, rows, cols, ld int, pack func(dst, src []float32, kb, ld int), want func(i, j int) (src int, dst int)) {
				t.Helper()
				src := randomSlice(rng, 1, rows*ld)
				poisonOutside(src, 1, rows, cols, ld)
				n := g.mr * kb
				if what != "A rows" {
					n = g.nr * kb
				}
				dst := randomSlice(rng, 0, n+packSlack)
				for i := range dst {
					dst[i] = guard
				}
				pack(dst, src[1:], kb, ld)
				for i := range rows {
					for j := range cols {
						s, d := want(i, j)
						if dst[d] != src[1+s] {
							t.Fatalf("%s %s kb=%d: dst[%d] = %v, want src[%d] = %v", im.name, what, kb, d, dst[d], s, src[1+s])
						}
					}
				}
				for i := n + packSlack; i < len(dst); i++ {
					if dst[i] != guard {
						t.Fatalf("%s %s kb=%d: wrote %v past the sliver at %d", im.name, what, kb, dst[i], i)
					}
				}
			}
			// A rows: dst[p·mr+r] = src[r·lda+p].
			lda := kb + 3
			check("A rows", g.mr, kb, lda, g.packARows, func(r, p int) (int, int) { return r*lda + p, p*g.mr + r })
			// B rows: dst[p·nr+j] = src[p·ldb+j].
			ldb := g.nr + 5
			check("B rows", kb, g.nr, ldb, g.packBRows, func(p, j int) (int, int) { return p*ldb + j, p*g.nr + j })
			// B columns: dst[p·nr+j] = src[j·ldb+p].
			ldb = kb + 3
			check("B cols", g.nr, kb, ldb, g.packBCols, func(j, p int) (int, int) { return j*ldb + p, p*g.nr + j })
		}
	}
}
