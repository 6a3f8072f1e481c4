package tensor

import "math"

// AdamWStep holds the scalars of one AdamW update.
type AdamWStep struct {
	LR, Beta1, Beta2, Eps, WeightDecay float32
	// GradScale multiplies the gradient before use; it folds gradient clipping and the
	// averaging of accumulated micro-batches into the update instead of extra passes.
	GradScale float32
	// Step is the 1-based update count, for bias correction.
	Step int
}

// OptimKernels update parameters from their gradients.
type OptimKernels interface {
	// SquaredNorm returns Σ x², accumulated in float64.
	SquaredNorm(x *Tensor) float64
	// AdamW applies one decoupled-weight-decay Adam update to p with moments m and v:
	// g = s·grad; m = β1·m + (1−β1)·g; v = β2·v + (1−β2)·g²;
	// p = p − lr·(m̂/(√v̂ + ε) + wd·p), with m̂, v̂ the bias-corrected moments.
	AdamW(p, grad, m, v *Tensor, s AdamWStep)
	// SGD applies p = p − lr·(buf) with buf = momentum·buf + s·grad + wd·p (PyTorch's form).
	SGD(p, grad, buf *Tensor, lr, momentum, weightDecay, gradScale float32)
}

// SquaredNorm implements OptimKernels.
func (c *CPU) SquaredNorm(x *Tensor) float64 {
	d := x.data
	const grain = 1 << 15
	parts := make([]float64, (len(d)+grain-1)/grain)
	c.For(len(parts), 1, func(lo, hi int) {
		for p := lo; p < hi; p++ {
			s := 0.0
			for _, v := range d[p*grain : min((p+1)*grain, len(d))] {
				s += float64(v) * float64(v)
			}
			parts[p] = s
		}
	})
	total := 0.0
	for _, s := range parts {
		total += s
	}
	return total
}

// AdamW implements OptimKernels.
func (c *CPU) AdamW(p, grad, m, v *Tensor, s AdamWStep) {
	n := p.Numel()
	if grad.Numel() != n || m.Numel() != n || v.Numel() != n {
		panic(&ShapeError{Op: "AdamW", Shapes: [][]int{p.shape, grad.shape, m.shape, v.shape}, Msg: "element counts differ"})
	}
	// Bias corrections are folded into the step size and ε, as PyTorch does, so the loop
	// does no per-element division by them.
	bc1 := 1 - math.Pow(float64(s.Beta1), float64(s.Step))
	bc2 := 1 - math.Pow(float64(s.Beta2), float64(s.Step))
	stepSize := float32(float64(s.LR) / bc1)
	sqrtBC2 := float32(math.Sqrt(bc2))
	decay := 1 - s.LR*s.WeightDecay
	b1, b2 := s.Beta1, s.Beta2
	pd, gd, md, vd := p.data, grad.data, m.data, v.data
	c.For(n, 1<<14, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			g := gd[i] * s.GradScale
			mi := b1*md[i] + (1-b1)*g
			vi := b2*vd[i] + (1-b2)*g*g
			md[i], vd[i] = mi, vi
			denom := float32(math.Sqrt(float64(vi)))/sqrtBC2 + s.Eps
			pd[i] = pd[i]*decay - stepSize*mi/denom
		}
	})
}

// SGD implements OptimKernels.
func (c *CPU) SGD(p, grad, buf *Tensor, lr, momentum, weightDecay, gradScale float32) {
	n := p.Numel()
	if grad.Numel() != n || buf.Numel() != n {
		panic(&ShapeError{Op: "SGD", Shapes: [][]int{p.shape, grad.shape, buf.shape}, Msg: "element counts differ"})
	}
	pd, gd, bd := p.data, grad.data, buf.data
	c.For(n, 1<<14, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			g := gd[i]*gradScale + weightDecay*pd[i]
			b := momentum*bd[i] + g
			bd[i] = b
			pd[i] -= lr * b
		}
	})
}
