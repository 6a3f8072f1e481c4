package tensor

import (
	"fmt"

	"github.com/hungry-ssm/hungry/tensor/internal/simd"
)

// LinalgKernels are matrix products.
type LinalgKernels interface {
	// MatMul computes op(A)·op(B) for every matrix of a batch and stores it in c, or adds
	// it to c when accumulate is set. op(X) is X, or Xᵀ when the flag is set.
	//
	// a is (..., m, k) ((..., k, m) if transA) and b is (..., k, n) ((..., n, k) if
	// transB); their leading axes are the batch. Either operand may instead be a single
	// matrix shared by the whole batch. c is (..., m, n) shaped like the batch, or a single
	// (m, n) matrix that receives the sum over the batch (what the gradient of a shared
	// weight needs).
	MatMul(c, a, b *Tensor, transA, transB, accumulate bool)
}

// MatMulShapes checks the operands of MatMul and returns the batch shape and the matrix
// dimensions. It panics with a *ShapeError naming the shapes when they do not fit; c may
// be nil to check only the operands.
func MatMulShapes(c, a, b *Tensor, transA, transB bool) (batchShape []int, m, n, k int) {
	bad := func(msg string) {
		var cs []int
		if c != nil {
			cs = c.shape
		}
		panic(&ShapeError{Op: "MatMul", Shapes: [][]int{a.shape, b.shape, cs}, Msg: msg})
	}
	if a.Rank() < 2 || b.Rank() < 2 {
		bad("operands need at least two dimensions")
	}
	m, k = a.Dim(-2), a.Dim(-1)
	if transA {
		m, k = k, m
	}
	kb, n := b.Dim(-2), b.Dim(-1)
	if transB {
		kb, n = n, kb
	}
	if kb != k {
		bad(fmt.Sprintf("inner dimensions differ (%d vs %d)", k, kb))
	}
	batchShape = a.shape[:a.Rank()-2]
	if b.Rank() > 2 {
		if a.Rank() > 2 && !SameShape(batchShape, b.shape[:b.Rank()-2]) {
			bad("batch dimensions differ")
		}
		batchShape = b.shape[:b.Rank()-2]
	}
	if c != nil {
		switch {
		case c.Rank() == 2 && c.shape[0] == m && c.shape[1] == n:
		case SameShape(c.shape[:c.Rank()-2], batchShape) && c.Dim(-2) == m && c.Dim(-1) == n:
		default:
			bad("result shape does not fit")
		}
	}
	return batchShape, m, n, k
}

// GEMM is one strided batch of products C_z = op(A_z)·op(B_z) + Beta·C_z for z < Batch,
// row-major with leading dimensions LdA, LdB, LdC. Item z of an operand starts Off + z·Stride
// elements into that operand's data; a stride of 0 gives every item the same matrix. The
// items of one GEMM write disjoint results (StrideC ≥ M·N), so a device may run them in any
// order or at once.
type GEMM struct {
	TransA, TransB            bool
	M, N, K, Batch            int
	LdA, LdB, LdC             int
	OffA, OffB, OffC          int
	StrideA, StrideB, StrideC int
	Beta                      float32
}

// MatMulPlan is how every device computes MatMul(c, a, b, transA, transB, accumulate): the
// GEMM calls to make, one after another. It panics with a *ShapeError like MatMulShapes.
//
// A single product is one call. A batch of row blocks times one matrix is one tall
// product; Σ_z A_zᵀ·B_z (the gradient of a shared weight) is Aᵀ·B with the batch stacked
// along the shared axis; independent products are one strided batch. Products that all
// add into one result matrix (the other sums over the batch) run one after another.
func MatMulPlan(c, a, b *Tensor, transA, transB, accumulate bool) []GEMM {
	return appendMatMulPlan(nil, c, a, b, transA, transB, accumulate)
}

// appendMatMulPlan appends MatMulPlan's calls to dst: a caller with room on its stack for
// the usual single call makes its plan without allocating.
func appendMatMulPlan(dst []GEMM, c, a, b *Tensor, transA, transB, accumulate bool) []GEMM {
	batchShape, m, n, k := MatMulShapes(c, a, b, transA, transB)
	batch := numel(batchShape)
	if batch == 0 {
		return dst
	}
	g := GEMM{TransA: transA, TransB: transB, M: m, N: n, K: k, Batch: 1, LdA: k, LdB: n, LdC: n}
	if accumulate {
		g.Beta = 1
	}
	if transA {
		g.LdA = m
	}
	if transB {
		g.LdB = k
	}
	sharedA, sharedB := a.Rank() == 2, b.Rank() == 2
	sumOut := c.Rank() == 2 && batch > 1
	g.StrideA, g.StrideB = m*k, k*n
	if sharedA {
		g.StrideA = 0
	}
	if sharedB {
		g.StrideB = 0
	}
	switch {
	case batch == 1:
		g.StrideA, g.StrideB = 0, 0
		return append(dst, g)
	case sharedB && !transA && !sumOut:
		g.M, g.StrideA, g.StrideB = batch*m, 0, 0
		return append(dst, g)
	case sumOut && transA && !transB && !sharedA && !sharedB:
		g.K, g.StrideA, g.StrideB = batch*k, 0, 0
		return append(dst, g)
	case !sumOut:
		g.Batch, g.StrideC = batch, m*n
		return append(dst, g)
	}
	for z := range batch {
		p := g
		p.OffA, p.OffB, p.StrideA, p.StrideB = z*g.StrideA, z*g.StrideB, 0, 0
		if z > 0 {
			p.Beta = 1
		}
		dst = append(dst, p)
	}
	return dst
}

// MatMul implements LinalgKernels.
func (c *CPU) MatMul(out, a, b *Tensor, transA, transB, accumulate bool) {
	var one [1]GEMM
	for _, g := range appendMatMulPlan(one[:0], out, a, b, transA, transB, accumulate) {
		ad, bd, cd := a.data[g.OffA:], b.data[g.OffB:], out.data[g.OffC:]
		if g.Batch == 1 {
			simd.Sgemm(c.pool, g.TransA, g.TransB, g.M, g.N, g.K, 1, ad, g.LdA, bd, g.LdB, g.Beta, cd, g.LdC)
			continue
		}
		// The strided kernel spreads the products over the workers when the matrices are
		// too small to split one by one.
		simd.SgemmStrided(c.pool, g.TransA, g.TransB, g.Batch, g.M, g.N, g.K, 1, ad, g.StrideA, g.LdA, bd, g.StrideB, g.LdB,
			g.Beta, cd, g.StrideC, g.LdC)
	}
}
