package simd

import (
	"fmt"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/hungry-ssm/hungry/tensor/internal/parallel"
)

// Blocking for the Goto/BLIS scheme, as the AVX2 family and the generic twin use it (each
// family carries its own in gemmKernels). The micro-kernel computes an mr×nr tile of C
// from a packed mr×kc sliver of A and a packed kc×nr sliver of B.
//
//   - mr×nr = 6×16: twelve 8-wide accumulators, plus two registers for B and two for the
//     broadcasts of A, use all sixteen ymm registers.
//   - kc = 256: the B sliver (kc·nr·4 = 16 KiB) stays in a 32 KiB L1D while the kernel
//     walks down the A block, and the A sliver adds 6 KiB more.
//   - mc = 144: the packed A block (mc·kc·4 = 144 KiB) stays in a 512 KiB L2 with room
//     for the B sliver and C lines.
//   - nc = 2048: the packed B block (kc·nc·4 = 2 MiB) lives in L3; bigger blocks would
//     only cost more memory per worker.
const (
	mr = 6
	nr = 16
	kc = 256
	mc = 144
	nc = 2048
)

// The AVX-512 family's tile. 12×32 takes all 32 zmm registers (see sgemmKernelAVX512);
// it keeps kc = 256, whose B sliver (32 KiB) fits a 48 KiB L1D with the A sliver
// (12 KiB), and mc = 144, a multiple of 12.
const (
	mr512 = 12
	nr512 = 32
)

// maxTile bounds mr·nr over the families, for the scratch tile of partial edges.
const maxTile = 12 * 32

// packSlack is the room that a family's A packing may write past its slivers (see
// packA6RowsAVX2).
const packSlack = 2

// microKernel computes C[0:mr, 0:nr] = alpha·Σₚ a[p·mr+i]·b[p·nr+j] + beta·C for p < k,
// with C rows ldc apart. a holds k·mr packed values, b k·nr. beta == 0 writes C without
// reading it.
type microKernel func(k int, a, b, c []float32, ldc int, alpha, beta float32)

// gemmKernels is one kernel family's set of building blocks for Sgemm: the micro-kernel
// and packing for the blocked product, and the kernels for products with few rows or
// columns.
type gemmKernels struct {
	// The blocking: tile rows and columns of the micro-kernel, and the depth, rows and
	// columns of the packed blocks. mc is a multiple of mr and nc of nr.
	mr, nr, kc, mc, nc int
	micro              microKernel
	// dots computes a 4×3 tile of C = alpha·A·Bᵀ + beta·C from 4 rows of A and 3 rows of
	// B, all k long, rows lda and ldb apart; beta == 0 writes C without reading it.
	dots func(k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, alpha, beta float32)
	// gemvN adds Σₚ x[p]·a[p·lda+j] to y[j] (k scaled rows of a), in order of p with one
	// rounding per term, and gemvT writes y[j] = Σₚ a[j·lda+p]·x[p] (a dot product per
	// row), for j < len(y) and p < k.
	gemvN, gemvT func(k int, x, a []float32, lda int, y []float32)
	// Packing of whole slivers of mr rows or nr columns; see packARowsGeneric,
	// packBRowsGeneric and packBColsGeneric for the contracts.
	packARows, packBRows, packBCols func(dst, src []float32, kb, ld int)
}

// parallelMinFlops is the work (in multiply-adds) below which one thread runs the whole
// product. Waking a worker and waiting for it costs microseconds, more when the machine
// is busy: on 2 shared cores a 96³ product ran as fast on one thread as on two, and 128³
// ran 1.4 times faster on two.
const parallelMinFlops = 1 << 20

// packBuffers holds one goroutine's scratch space: packed panels for the blocked product,
// and the gathered input and the output of a matrix-vector product. Buffers are recycled
// through packPool and grow to the largest size asked for, so repeated products of the
// same shapes allocate nothing.
type packBuffers struct {
	a, b []float32
	x, y []float32
	// edge is the scratch tile for partial tiles. It lives here rather than on
	// macroKernel's stack because the micro-kernel is called through a function value,
	// which makes a local array escape: one heap tile per call.
	edge [maxTile]float32
}

// packPool keeps packBuffers between products. It is a plain free list, not a sync.Pool:
// a sync.Pool drops its contents at every garbage collection, and the next products then
// allocate their panels again, so a training step would allocate hundreds of kilobytes
// whenever a collection had run. The list holds at most as many buffers as products ever
// ran at once.
var packPool packStore

type packStore struct {
	mu   sync.Mutex
	free []*packBuffers
}

// Get returns a recycled *packBuffers, or a new one when none is free.
func (s *packStore) Get() any {
	s.mu.Lock()
	defer s.mu.Unlock()
	if k := len(s.free); k > 0 {
		b := s.free[k-1]
		s.free = s.free[:k-1]
		return b
	}
	return new(packBuffers)
}

// Put gives back a *packBuffers from Get.
func (s *packStore) Put(b any) {
	s.mu.Lock()
	s.free = append(s.free, b.(*packBuffers))
	s.mu.Unlock()
}

// grown returns buf if it holds n values, otherwise a new slice that does. New slices
// start on a 64-byte boundary, so every 16-float row of a packed B sliver is one cache
// line and the kernel's loads never straddle two.
func grown(buf []float32, n int) []float32 {
	if cap(buf) >= n {
		return buf[:n]
	}
	const lineFloats = 64 / 4
	raw := make([]float32, n+lineFloats)
	skip := (lineFloats - int(uintptr(unsafe.Pointer(&raw[0]))%64)/4) % lineFloats
	return raw[skip : skip+n]
}

// Sgemm computes C = alpha·op(A)·op(B) + beta·C for row-major float32 matrices, where
// op(X) is X or, when its trans flag is set, Xᵀ. op(A) is m×k, op(B) is k×n and C is m×n;
// lda, ldb and ldc are the distances between consecutive stored rows, so A is stored as
// m rows of k (k rows of m when transA), and so on.
//
// beta == 0 overwrites C without reading it, so C may start out holding NaN; alpha == 0
// or k == 0 reads neither A nor B. pool may be nil, which runs on the calling goroutine
// only; otherwise products of more than 2²⁰ multiply-adds are shared between the pool's
// workers in rectangles of C. The result does not depend on the pool: every element of C
// is summed in the same order however the work is split.
//
// C must not share memory with A or B. Inconsistent shapes (negative sizes, strides
// shorter than a row, slices too short for the shapes) are programming errors of the
// caller and panic.
func Sgemm(pool *parallel.Pool, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	checkGemmArgs(transA, transB, m, n, k, a, lda, b, ldb, c, ldc)
	sgemmWith(activeGemmKernels(), pool, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// SgemmStrided runs batch independent products C_i = alpha·op(A_i)·op(B_i) + beta·C_i,
// where A_i starts at a[i·strideA], B_i at b[i·strideB] and C_i at c[i·strideC]. A stride
// of 0 shares that operand across the batch (useful for a weight matrix B); strideC must
// leave the C_i disjoint. Workers take whole batch items when the batch divides well
// between them; otherwise each product is shared as in Sgemm. Either way the result is
// the one Sgemm gives item by item.
func SgemmStrided(pool *parallel.Pool, transA, transB bool, batch, m, n, k int, alpha float32, a []float32, strideA, lda int, b []float32, strideB, ldb int, beta float32, c []float32, strideC, ldc int) {
	if batch < 0 || strideA < 0 || strideB < 0 || strideC < 0 {
		panic(fmt.Sprintf("simd: SgemmStrided: negative batch %d or stride (%d, %d, %d)", batch, strideA, strideB, strideC))
	}
	if batch == 0 || m == 0 || n == 0 {
		return
	}
	if batch > 1 && strideC < (m-1)*ldc+n {
		panic(fmt.Sprintf("simd: SgemmStrided: strideC %d overlaps C matrices of %d×%d with ldc %d", strideC, m, n, ldc))
	}
	// Checking the last item checks every item, as the offsets grow with i.
	last := batch - 1
	checkGemmArgs(transA, transB, m, n, k, tail(a, last*strideA), lda, tail(b, last*strideB), ldb, tail(c, last*strideC), ldc)
	kern := activeGemmKernels()
	one := func(i int, p *parallel.Pool) {
		sgemmWith(kern, p, transA, transB, m, n, k, alpha, tail(a, i*strideA), lda, tail(b, i*strideB), ldb, beta, c[i*strideC:], ldc)
	}
	// Whole items per worker need no synchronisation inside a product, so they are the
	// better split whenever they divide evenly enough: the items are small, or the batch
	// splits exactly or into many items per worker. Otherwise (say 3 big items on 2
	// workers) each product is itself shared.
	perItem := m * n * k
	if m <= 2 || n <= 2 {
		perItem *= gemvCostFactor
	}
	workers := 1
	if pool != nil {
		workers = pool.Workers()
	}
	itemsEven := batch%workers == 0 || batch >= 8*workers
	if workers == 1 || (perItem >= parallelMinFlops*workers*4 && !itemsEven) {
		for i := range batch {
			one(i, pool)
		}
		return
	}
	grain := max(1, parallelMinFlops/max(perItem, 1))
	pool.For(batch, grain, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			one(i, nil)
		}
	})
}

// tail returns s[off:], or an empty slice when off is past the end, so that the shape
// check reports the short slice instead of the slicing panicking first.
func tail(s []float32, off int) []float32 {
	if off > len(s) {
		return nil
	}
	return s[off:]
}

func checkGemmArgs(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	if m < 0 || n < 0 || k < 0 {
		panic(fmt.Sprintf("simd: Sgemm: negative size m=%d n=%d k=%d", m, n, k))
	}
	aRows, aCols := m, k
	if transA {
		aRows, aCols = k, m
	}
	bRows, bCols := k, n
	if transB {
		bRows, bCols = n, k
	}
	checkMatrix("A", aRows, aCols, a, lda)
	checkMatrix("B", bRows, bCols, b, ldb)
	checkMatrix("C", m, n, c, ldc)
}

// checkMatrix checks that s holds a rows×cols matrix with stride ld. An empty matrix is
// never read, so any slice and stride will do for it.
func checkMatrix(name string, rows, cols int, s []float32, ld int) {
	if rows == 0 || cols == 0 {
		return
	}
	if ld < cols {
		panic(fmt.Sprintf("simd: Sgemm: ld%s = %d is less than its %d columns", name, ld, cols))
	}
	if len(s) < (rows-1)*ld+cols {
		panic(fmt.Sprintf("simd: Sgemm: %s has %d elements, %d×%d with stride %d needs %d", name, len(s), rows, cols, ld, (rows-1)*ld+cols))
	}
}

// sgemmWith is Sgemm with the kernel family chosen by the caller, so tests can run the
// assembly and the generic twin side by side. Arguments are already checked.
func sgemmWith(kern gemmKernels, pool *parallel.Pool, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	if k == 0 || alpha == 0 {
		scaleMatrix(m, n, beta, c, ldc)
		return
	}
	if m*n*k <= tinyFlops {
		sgemmTiny(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	sgemmDispatch(kern, pool, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// tinyFlops is the size (in multiply-adds) up to which a product runs as plain loops: the
// kernels' set-up (scratch buffers, packing, edge tiles) costs a few hundred nanoseconds,
// more than 128 multiply-adds in scalar Go (8×8×8 was already faster through the
// kernels). Batches of tiny products are common: the multi-head H3 mixer takes an outer
// product and a vector-matrix product of head_dim² per position and head.
const tinyFlops = 128

// sgemmTiny computes C = alpha·op(A)·op(B) + beta·C with loops over the stored layouts.
func sgemmTiny(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	// op(A)[i][p] is a[i·lda+p], or a[p·lda+i] when A is stored transposed.
	rowStep, colStep := lda, 1
	if transA {
		rowStep, colStep = 1, lda
	}
	for i := range m {
		row := c[i*ldc : i*ldc+n]
		if transB {
			// op(B)[p][j] = b[j·ldb+p]: a dot product per element.
			for j := range row {
				bj := b[j*ldb : j*ldb+k]
				var s float32
				for p, v := range bj {
					s += a[i*rowStep+p*colStep] * v
				}
				if beta == 0 {
					row[j] = alpha * s
				} else {
					row[j] = alpha*s + beta*row[j]
				}
			}
			continue
		}
		// op(B)[p][j] = b[p·ldb+j]: scaled rows of B added to the row of C.
		switch beta {
		case 0:
			clear(row)
		case 1:
		default:
			for j := range row {
				row[j] *= beta
			}
		}
		for p := range k {
			s := alpha * a[i*rowStep+p*colStep]
			for j, w := range b[p*ldb : p*ldb+n] {
				row[j] += s * w
			}
		}
	}
}

// sgemmDispatch picks the algorithm for a product that is not tiny: matrix-vector and
// dot-product kernels for few rows or columns, otherwise the blocked product, on one
// thread or shared.
func sgemmDispatch(kern gemmKernels, pool *parallel.Pool, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	workers := 1
	if pool != nil {
		workers = pool.Workers()
	}
	if transB && 2 <= m && m <= smallRowsNT && n >= 3 && m*k <= smallRowsNTMaxA {
		sgemmSmallNT(kern, pool, workers, transA, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	// One or two rows (or columns) of C otherwise: packing the big operand costs more than
	// reading it once per row, so each row is a matrix-vector product (measured: a
	// 2×3072×768 product with B stored as is runs 1.8 times faster this way; at 4 rows
	// packing wins).
	if m <= 2 {
		for i := range m {
			aOff := i * lda
			if transA {
				aOff = i
			}
			gemv(kern, pool, workers, transA, transB, 1, n, k, alpha, a[aOff:], lda, b, ldb, beta, c[i*ldc:], ldc)
		}
		return
	}
	if n <= 2 {
		for j := range n {
			bOff := j
			if transB {
				bOff = j * ldb
			}
			gemv(kern, pool, workers, transA, transB, m, 1, k, alpha, a, lda, b[bOff:], ldb, beta, c[j:], ldc)
		}
		return
	}
	if workers == 1 || m*n*k < parallelMinFlops {
		sgemmSerial(kern, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	sgemmParallel(kern, pool, workers, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// scaleMatrix sets C = beta·C, writing zeros without reading C when beta == 0.
func scaleMatrix(m, n int, beta float32, c []float32, ldc int) {
	for i := range m {
		row := c[i*ldc : i*ldc+n]
		switch beta {
		case 0:
			clear(row)
		case 1:
		default:
			for j := range row {
				row[j] *= beta
			}
		}
	}
}

// sgemmSerial runs the blocked product on the calling goroutine.
func sgemmSerial(kern gemmKernels, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	bufs := packPool.Get().(*packBuffers)
	defer packPool.Put(bufs)
	mr, nr, kc, mc, nc := kern.mr, kern.nr, kern.kc, kern.mc, kern.nc
	// Slivers are whole: the last one of a block is zero-padded to mr rows or nr columns.
	// packARows may store packSlack floats past the end of a block.
	bufs.a = grown(bufs.a, min(roundUp(m, mr), mc)*min(k, kc)+packSlack)
	bufs.b = grown(bufs.b, min(roundUp(n, nr), nc)*min(k, kc))
	for jc := 0; jc < n; jc += nc {
		nb := min(nc, n-jc)
		for pc := 0; pc < k; pc += kc {
			kb := min(kc, k-pc)
			// The first k block applies the caller's beta; later ones add to it.
			blockBeta := beta
			if pc > 0 {
				blockBeta = 1
			}
			packB(kern, bufs.b, transB, b, ldb, pc, kb, jc, nb)
			for ic := 0; ic < m; ic += mc {
				mb := min(mc, m-ic)
				packA(kern, bufs.a, transA, a, lda, ic, mb, pc, kb)
				macroKernel(kern, bufs.a, bufs.b, &bufs.edge, mb, nb, kb, alpha, blockBeta, c[ic*ldc+jc:], ldc)
			}
		}
	}
}

// sgemmParallel shares the product between the pool's workers. For each block of op(B)
// (kc rows by nc columns) the workers first pack it together into one shared buffer, then
// take tasks, rectangles of C, from a common counter until none are left: a worker that
// the scheduler slows down simply takes fewer tasks, where fixed shares would make every
// other worker wait for it.
//
// Task edges fall on multiples of mr rows and nr columns, and every C element sums its k
// blocks in the same order, so the result is bit-for-bit the serial one.
func sgemmParallel(kern gemmKernels, pool *parallel.Pool, workers int, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	mr, nr, kc, mc, nc := kern.mr, kern.nr, kern.kc, kern.mc, kern.nc
	shared := packPool.Get().(*packBuffers)
	defer packPool.Put(shared)
	shared.b = grown(shared.b, min(roundUp(n, nr), nc)*min(k, kc))
	// About four tasks per worker: enough to even out uneven progress, few enough that
	// each task still reuses its packed A across many columns. Row blocks are as tall as
	// the L2 budget allows (evened out, in whole slivers); when that gives too few tasks
	// the columns are cut as well.
	target := 4 * workers
	rowBlocks := (m + mc - 1) / mc
	rowH := roundUp((m+rowBlocks-1)/rowBlocks, mr)
	rowBlocks = (m + rowH - 1) / rowH
	// The two loop bodies are built once per product and read the current block from st:
	// closures made inside the loops cost a few allocations per block, hundreds per
	// training step.
	var st struct {
		jc, nb, pc, kb, colBlocks, colW, tasks int
		blockBeta                              float32
		next                                   atomic.Int64
	}
	packShare := func(lo, hi int) {
		packB(kern, shared.b[lo*nr*st.kb:], transB, b, ldb, st.pc, st.kb, st.jc+lo*nr, min(hi*nr, st.nb)-lo*nr)
	}
	work := func(int, int) {
		kb, colBlocks, colW, nb := st.kb, st.colBlocks, st.colW, st.nb
		bufs := packPool.Get().(*packBuffers)
		defer packPool.Put(bufs)
		bufs.a = grown(bufs.a, rowH*kb+packSlack)
		packed := -1 // the row block now in bufs.a
		for {
			t := int(st.next.Add(1) - 1)
			if t >= st.tasks {
				return
			}
			ib, jb := t/colBlocks, t%colBlocks
			i0, j0 := ib*rowH, jb*colW
			mb, nw := min(rowH, m-i0), min(colW, nb-j0)
			if ib != packed {
				packA(kern, bufs.a, transA, a, lda, i0, mb, st.pc, kb)
				packed = ib
			}
			macroKernel(kern, bufs.a, shared.b[j0*kb:], &bufs.edge, mb, nw, kb, alpha, st.blockBeta, c[i0*ldc+st.jc+j0:], ldc)
		}
	}
	for jc := 0; jc < n; jc += nc {
		nb := min(nc, n-jc)
		slivers := (nb + nr - 1) / nr
		// Short, wide products also cut the columns.
		colBlocks := min(max(1, (target+rowBlocks-1)/rowBlocks), slivers)
		colW := roundUp((nb+colBlocks-1)/colBlocks, nr)
		colBlocks = (nb + colW - 1) / colW
		st.jc, st.nb, st.colBlocks, st.colW, st.tasks = jc, nb, colBlocks, colW, rowBlocks*colBlocks
		for pc := 0; pc < k; pc += kc {
			kb := min(kc, k-pc)
			st.pc, st.kb, st.blockBeta = pc, kb, beta
			if pc > 0 {
				st.blockBeta = 1
			}
			// Shares of at least 32K floats, so small blocks are packed by one worker.
			pool.For(slivers, max(1, 32768/(nr*kb)), packShare)
			st.next.Store(0)
			pool.For(workers, 1, work)
		}
	}
}

// macroKernel multiplies a packed mb×kb block of A by a packed kb×nb block of B into C,
// one mr×nr tile at a time, walking down A for each sliver of B so the B sliver stays in
// L1 while the A block streams from L2.
func macroKernel(kern gemmKernels, ap, bp []float32, edge *[maxTile]float32, mb, nb, kb int, alpha, beta float32, c []float32, ldc int) {
	mr, nr, micro := kern.mr, kern.nr, kern.micro
	for jr := 0; jr < nb; jr += nr {
		nw := min(nr, nb-jr)
		bSliver := bp[jr*kb : (jr+nr)*kb]
		for ir := 0; ir < mb; ir += mr {
			mh := min(mr, mb-ir)
			aSliver := ap[ir*kb : (ir+mr)*kb]
			cOff := ir*ldc + jr
			if mh == mr && nw == nr {
				micro(kb, aSliver, bSliver, c[cOff:], ldc, alpha, beta)
				continue
			}
			// A partial tile goes through a full-size scratch tile, so the kernel never
			// writes past the edge of C.
			micro(kb, aSliver, bSliver, edge[:mr*nr], nr, 1, 0)
			for i := range mh {
				row := c[cOff+i*ldc : cOff+i*ldc+nw]
				t := edge[i*nr : i*nr+nw]
				if beta == 0 {
					for j := range row {
						row[j] = alpha * t[j]
					}
				} else {
					for j := range row {
						row[j] = alpha*t[j] + beta*row[j]
					}
				}
			}
		}
	}
}

// packA copies rows [i0, i0+mb) and columns [p0, p0+kb) of op(A) into dst as slivers of
// mr rows: sliver s holds op(A)[i0+s·mr+r][p0+p] at s·mr·kb + p·mr + r. Rows past mb are
// zero so the kernel can always run a full sliver. dst must hold packSlack floats more
// than the slivers, for packARows.
func packA(kern gemmKernels, dst []float32, transA bool, a []float32, lda, i0, mb, p0, kb int) {
	mr := kern.mr
	for s := 0; s < mb; s += mr {
		rows := min(mr, mb-s)
		out := dst[s*kb : (s+mr)*kb]
		switch {
		case transA && rows == mr:
			// op(A)[i][p] = a[p·lda+i]: each p is a run of mr contiguous values.
			for p := range kb {
				off := (p0+p)*lda + i0 + s
				copy(out[p*mr:p*mr+mr], a[off:off+mr])
			}
		case transA:
			for p := range kb {
				o := out[p*mr : p*mr+mr]
				off := (p0+p)*lda + i0 + s
				copy(o, a[off:off+rows])
				clear(o[rows:])
			}
		case rows == mr:
			kern.packARows(dst[s*kb:], a[(i0+s)*lda+p0:], kb, lda)
		default:
			clear(out)
			for r := range rows {
				row := a[(i0+s+r)*lda+p0 : (i0+s+r)*lda+p0+kb]
				for p, v := range row {
					out[p*mr+r] = v
				}
			}
		}
	}
}

// packB copies rows [p0, p0+kb) and columns [j0, j0+nb) of op(B) into dst as slivers of
// nr columns: sliver s holds op(B)[p0+p][j0+s·nr+j] at s·nr·kb + p·nr + j. Columns past
// nb are zero.
func packB(kern gemmKernels, dst []float32, transB bool, b []float32, ldb, p0, kb, j0, nb int) {
	nr := kern.nr
	for s := 0; s < nb; s += nr {
		cols := min(nr, nb-s)
		out := dst[s*kb : (s+nr)*kb]
		switch {
		case !transB && cols == nr:
			kern.packBRows(out, b[p0*ldb+j0+s:], kb, ldb)
		case !transB:
			for p := range kb {
				o := out[p*nr : p*nr+nr]
				off := (p0+p)*ldb + j0 + s
				copy(o, b[off:off+cols])
				clear(o[cols:])
			}
		case cols == nr:
			kern.packBCols(out, b[(j0+s)*ldb+p0:], kb, ldb)
		default:
			// op(B)[p][j] = b[j·ldb+p]: each stored row of B becomes one column.
			clear(out)
			for j := range cols {
				row := b[(j0+s+j)*ldb+p0 : (j0+s+j)*ldb+p0+kb]
				for p, v := range row {
					out[p*nr+j] = v
				}
			}
		}
	}
}

// smallRowsNT is the most rows of C for which sgemmSmallNT beats packing. With op(B) = Bᵀ
// packing B is a transposition, which costs about as much as the multiply-adds of a
// handful of rows; dot products read B's stored rows as they are.
const smallRowsNT = 16

// smallRowsNTMaxA bounds op(A) for sgemmSmallNT, which reads all of it for every 3 rows
// of B: 64Ki floats (256 KiB) stay in a 512 KiB L2.
const smallRowsNTMaxA = 1 << 16

// sgemmSmallNT computes C = alpha·op(A)·Bᵀ + beta·C for few rows of C (2 <= m, 3 <= n)
// with the 4×3 dot-product kernel: each stored row of B is read once, against all rows
// of op(A), which stay in cache.
//
// Tiles of C that would stick out past the last row or column are moved back to end on
// it; they recompute a few elements of the previous tile, and only the new ones are
// written, through a scratch tile.
func sgemmSmallNT(kern gemmKernels, pool *parallel.Pool, workers int, transA bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	bufs := packPool.Get().(*packBuffers)
	defer packPool.Put(bufs)
	// The kernel wants 4 contiguous rows of op(A): copy them when A is stored transposed
	// or has fewer than 4 rows (zero rows pad it, and are never written out).
	rows := max(m, 4)
	ap, lap := a, lda
	if transA || m < 4 {
		bufs.x = grown(bufs.x, rows*k)
		ap, lap = bufs.x, k
		clear(ap[m*k:])
		for i := range m {
			row := ap[i*k : i*k+k]
			if transA {
				for p := range row {
					row[p] = a[p*lda+i]
				}
			} else {
				copy(row, a[i*lda:i*lda+k])
			}
		}
	}
	run := func(lo, hi int) {
		var tile [4 * 3]float32
		for jb := lo; jb < hi; jb++ {
			jNew := jb * 3
			j0 := min(jNew, n-3)
			for iNew := 0; iNew < m; iNew += 4 {
				i0 := min(iNew, rows-4)
				iEnd := min(iNew+4, m)
				if i0 == iNew && j0 == jNew && iEnd == i0+4 {
					kern.dots(k, ap[i0*lap:], lap, b[j0*ldb:], ldb, c[i0*ldc+j0:], ldc, alpha, beta)
					continue
				}
				kern.dots(k, ap[i0*lap:], lap, b[j0*ldb:], ldb, tile[:], 3, 1, 0)
				for i := iNew; i < iEnd; i++ {
					for j := jNew; j < j0+3; j++ {
						v, ci := tile[(i-i0)*3+j-j0], i*ldc+j
						if beta == 0 {
							c[ci] = alpha * v
						} else {
							c[ci] = alpha*v + beta*c[ci]
						}
					}
				}
			}
		}
	}
	blocks := (n + 2) / 3
	if workers == 1 || m*n*k < parallelMinFlops {
		run(0, blocks)
		return
	}
	pool.For(blocks, max(1, parallelMinFlops/(3*m*k)), run)
}

// gemvCostFactor weighs a multiply-add of a matrix-vector product against one of the
// blocked product when deciding whether to use threads: the former loads a matrix element
// per multiply-add and runs at memory speed, about 8 times slower per multiply-add, so
// it is worth sharing 8 times sooner.
const gemvCostFactor = 8

// gemvBand is the number of rows of a wide matrix that gemv adds to y at a time.
const gemvBand = 16

func roundUp(x, to int) int { return (x + to - 1) / to * to }

// gemv handles products where C is a single row or a single column. Packing would copy
// the whole matrix operand to use it once, and the micro-kernel would waste five of its
// six rows, so these run on the vector kernels instead, reading the matrix operand once in
// its stored order.
//
// The product reduces to y = M·x or y = Mᵀ·x for the matrix operand M, a vector x (the
// other operand, gathered when strided) and y (C, scattered when strided):
//
//   - m == 1: y[j] = Σₚ op(A)[0][p]·op(B)[p][j]. M = B; B's stored rows run over p when
//     !transB (accumulate rows: y += x[p]·B[p,:]) and over j when transB (y[j] = B[j,:]·x).
//   - n == 1: y[i] = Σₚ op(A)[i][p]·op(B)[p][0]. M = A; A's stored rows run over i when
//     !transA (dots) and over p when transA (accumulate rows).
func gemv(kern gemmKernels, pool *parallel.Pool, workers int, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	var (
		mat    []float32 // M, row-major with stride ldm
		ldm    int
		vec    []float32 // x: k values, vecInc apart
		vecInc int
		outLen int // length of y
		outInc int // stride of y inside c
		// accumulate is set when M's stored rows run over p, so y is built as a sum of
		// scaled rows; otherwise each y element is the dot product of a row with x.
		accumulate bool
	)
	if m == 1 {
		mat, ldm, outLen, outInc = b, ldb, n, 1
		vec, vecInc = a, 1
		if transA {
			vecInc = lda
		}
		accumulate = !transB
	} else {
		mat, ldm, outLen, outInc = a, lda, m, ldc
		vec, vecInc = b, ldb
		if transB {
			vecInc = 1
		}
		accumulate = transA
	}
	bufs := packPool.Get().(*packBuffers)
	defer packPool.Put(bufs)
	x := vec[:k:k]
	if vecInc != 1 {
		bufs.x = grown(bufs.x, k)
		x = bufs.x
		for p := range x {
			x[p] = vec[p*vecInc]
		}
	}
	bufs.y = grown(bufs.y, outLen)
	y := bufs.y
	// Each share owns a disjoint range of y; splitting by output keeps the result
	// independent of the number of workers.
	run := func(lo, hi int) {
		yr := y[lo:hi]
		if accumulate {
			// A walk down the rows reads each row in pieces of 256 bytes; on a wide
			// matrix that is a jump of a row per load, which the hardware prefetchers
			// do not follow. Bands of gemvBand rows keep it to that many streams, each
			// read straight through, at the price of reading y once per band.
			band := k
			if len(yr) > 256 {
				band = gemvBand
			}
			clear(yr)
			for p0 := 0; p0 < k; p0 += band {
				kern.gemvN(min(band, k-p0), x[p0:], mat[p0*ldm+lo:], ldm, yr)
			}
		} else {
			kern.gemvT(k, x, mat[lo*ldm:], ldm, yr)
		}
		for j, v := range yr {
			ci := (lo + j) * outInc
			if beta == 0 {
				c[ci] = alpha * v
			} else {
				c[ci] = alpha*v + beta*c[ci]
			}
		}
	}
	const minParallel = parallelMinFlops / gemvCostFactor
	if workers == 1 || outLen*k < minParallel {
		run(0, outLen)
		return
	}
	pool.For(outLen, max(64, minParallel/k), run)
}
