package gpu

import (
	"math"

	"github.com/hungry-ssm/hungry/ptx/kernels"
	"github.com/hungry-ssm/hungry/tensor"
)

// SquaredNorm implements tensor.OptimKernels: per-block partial sums of squares on the
// device, added in float64 on the host (the result is a host value anyway, so reading
// the ≤ 1024 partials costs the same synchronisation as reading one).
func (d *Device) SquaredNorm(x *tensor.Tensor) float64 {
	n := x.Numel()
	if n == 0 {
		return 0
	}
	grid, _ := kernels.SquaredNormPartialF32Grid(n) // a partial sum per block
	parts := d.empty(grid[0])
	d.run(kernels.SquaredNormPartialF32(d, d.p(parts), d.p(x), u32(n)))
	host := make([]float32, grid[0])
	d.ToHost(host, parts)
	s := 0.0
	for _, v := range host {
		s += float64(v)
	}
	return s
}

// AdamW implements tensor.OptimKernels with the scalars folded as the CPU folds them.
func (d *Device) AdamW(p, grad, m, v *tensor.Tensor, s tensor.AdamWStep) {
	n := p.Numel()
	if grad.Numel() != n || m.Numel() != n || v.Numel() != n {
		panic(&tensor.ShapeError{Op: "AdamW", Shapes: [][]int{p.Shape(), grad.Shape(), m.Shape(), v.Shape()}, Msg: "element counts differ"})
	}
	if n == 0 {
		return
	}
	bc1 := 1 - math.Pow(float64(s.Beta1), float64(s.Step))
	bc2 := 1 - math.Pow(float64(s.Beta2), float64(s.Step))
	stepSize := float32(float64(s.LR) / bc1)
	sqrtBC2 := float32(math.Sqrt(bc2))
	decay := 1 - s.LR*s.WeightDecay
	d.run(kernels.AdamwF32(d, d.p(p), d.p(m), d.p(v), d.p(grad), s.Beta1, s.Beta2, s.Eps, decay, stepSize, sqrtBC2, s.GradScale, u32(n)))
}

// SGD implements tensor.OptimKernels.
func (d *Device) SGD(p, grad, buf *tensor.Tensor, lr, momentum, weightDecay, gradScale float32) {
	n := p.Numel()
	if grad.Numel() != n || buf.Numel() != n {
		panic(&tensor.ShapeError{Op: "SGD", Shapes: [][]int{p.Shape(), grad.Shape(), buf.Shape()}, Msg: "element counts differ"})
	}
	if n == 0 {
		return
	}
	d.run(kernels.SgdF32(d, d.p(p), d.p(buf), d.p(grad), lr, momentum, weightDecay, gradScale, u32(n)))
}
