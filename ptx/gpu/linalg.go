package gpu

import (
	"github.com/hungry-ssm/hungry/ptx/kernels"
	"github.com/hungry-ssm/hungry/tensor"
)

// MatMul implements tensor.LinalgKernels: tensor.MatMulPlan's GEMM calls, each one
// launch of the TF32 tensor-core SGEMM kernel for its transposes, a strided batch with
// its items in grid.z (chunks of at most 65535 items).
func (d *Device) MatMul(out, a, b *tensor.Tensor, transA, transB, accumulate bool) {
	plan := tensor.MatMulPlan(out, a, b, transA, transB, accumulate)
	pa, pb, pc := d.p(a), d.p(b), d.p(out)
	for _, g := range plan {
		if g.M == 0 || g.N == 0 {
			continue
		}
		for z0 := 0; z0 < g.Batch; z0 += kernels.MaxGridYZ {
			nz := min(kernels.MaxGridYZ, g.Batch-z0)
			d.gemm(g, nz, pa.Offset(4*(g.OffA+z0*g.StrideA)), pb.Offset(4*(g.OffB+z0*g.StrideB)), pc.Offset(4*(g.OffC+z0*g.StrideC)))
		}
	}
}

// sgemm is the kernel for each (transA, transB).
var sgemm = map[[2]bool]func(l kernels.Launcher, c, a, b kernels.Ptr, m, n, k, lda, ldb, ldc uint32, alpha, beta float32,
	batch, strideA, strideB, strideC uint32) error{
	{false, false}: kernels.SgemmNn, {false, true}: kernels.SgemmNt, {true, false}: kernels.SgemmTn, {true, true}: kernels.SgemmTt,
}

// gemm launches batch items of g starting at the given operands.
func (d *Device) gemm(g tensor.GEMM, batch int, a, b, c kernels.Ptr) {
	d.run(sgemm[[2]bool{g.TransA, g.TransB}](d, c, a, b, u32(g.M), u32(g.N), u32(g.K), u32(g.LdA), u32(g.LdB), u32(g.LdC), 1, g.Beta,
		u32(batch), u32(g.StrideA), u32(g.StrideB), u32(g.StrideC)))
}
