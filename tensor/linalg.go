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

// MatMul implements LinalgKernels.
func (c *CPU) MatMul(out, a, b *Tensor, transA, transB, accumulate bool) {
	batchShape, m, n, k := MatMulShapes(out, a, b, transA, transB)
	batch := numel(batchShape)
	beta := float32(0)
	if accumulate {
		beta = 1
	}
	lda, ldb := k, n
	if transA {
		lda = m
	}
	if transB {
		ldb = k
	}
	sharedA, sharedB := a.Rank() == 2, b.Rank() == 2
	sumOut := out.Rank() == 2 && batch > 1
	switch {
	case batch == 1:
		c.gemm(transA, transB, m, n, k, a.data, lda, b.data, ldb, beta, out.data, n)
	case sharedB && !transA && !sumOut:
		// A batch of row blocks times one matrix is one tall product.
		c.gemm(false, transB, batch*m, n, k, a.data, lda, b.data, ldb, beta, out.data, n)
	case sumOut && transA && !transB && !sharedA && !sharedB:
		// Σ_i A_iᵀ·B_i is Aᵀ·B with the batch stacked along the shared axis.
		c.gemm(true, false, m, n, batch*k, a.data, lda, b.data, ldb, beta, out.data, n)
	case !sumOut:
		// Independent products: the strided kernel spreads them over the workers when the
		// matrices are too small to split one by one.
		sa, sb := m*k, k*n
		if sharedA {
			sa = 0
		}
		if sharedB {
			sb = 0
		}
		simd.SgemmStrided(c.pool, transA, transB, batch, m, n, k, 1, a.data, sa, lda, b.data, sb, ldb, beta, out.data, m*n, n)
	default:
		sa, sb := m*k, k*n
		if sharedA {
			sa = 0
		}
		if sharedB {
			sb = 0
		}
		// Every product adds into the one result matrix, so they run one after another.
		for i := 0; i < batch; i++ {
			bi := beta
			if i > 0 {
				bi = 1
			}
			c.gemm(transA, transB, m, n, k, a.data[i*sa:], lda, b.data[i*sb:], ldb, bi, out.data, n)
		}
	}
}

// gemm computes C = op(A)·op(B) + beta·C for row-major matrices with leading dimensions.
func (c *CPU) gemm(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, beta float32, out []float32, ldc int) {
	simd.Sgemm(c.pool, transA, transB, m, n, k, 1, a, lda, b, ldb, beta, out, ldc)
}
