package gpu

import (
	"github.com/hungry-ssm/hungry/ptx/kernels"
	"github.com/hungry-ssm/hungry/tensor"
)

// Linear implements tensor.FusedKernels: one launch of the tensor-core SGEMM (x·wᵀ, w
// stored (n, k)) whose epilogue adds bias[j] as it stores column j.
func (d *Device) Linear(out, x, w, bias *tensor.Tensor) {
	rows, n, k := tensor.LinearShapes(out, x, w, bias)
	if rows == 0 || n == 0 {
		return
	}
	d.run(kernels.SgemmNtBias(d, d.p(out), d.p(x), d.p(w), u32(rows), u32(n), u32(k), u32(k), u32(k), u32(n), 1, 0,
		1, 0, 0, 0, d.p(bias)))
}

// AddLayerNorm implements tensor.FusedKernels: a block per row writes sum = x + r and
// normalises it; a missing scale or shift is a cached constant, as in LayerNorm.
func (d *Device) AddLayerNorm(out, sum, mean, rstd, x, r, w, b *tensor.Tensor, eps float32) {
	rows, cols := tensor.AddLayerNormShapes(out, sum, mean, rstd, x, r, w, b)
	if rows == 0 {
		return
	}
	if w == nil {
		w = d.filled(cols, 1)
	}
	if b == nil {
		b = d.filled(cols, 0)
	}
	d.run(kernels.AddLayernormFwdF32(d, d.p(out), d.p(sum), d.p(mean), d.p(rstd), d.p(x), d.p(r), d.p(w), d.p(b),
		u32(rows), u32(cols), eps))
}
