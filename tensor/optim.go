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
//
// The sum runs over fixed parts of grain elements, each summed in order and then added in
// order, so the result does not depend on how many workers share the parts.
func (c *CPU) SquaredNorm(x *Tensor) float64 {
	d := x.data
	const grain = 1 << 15
	n := (len(d) + grain - 1) / grain
	if c.serial(n, 1) {
		// One worker or one part: no closure and no partial sums to allocate.
		total := 0.0
		for p := range n {
			total += sumSquares(d[p*grain : min((p+1)*grain, len(d))])
		}
		return total
	}
	parts := make([]float64, n)
	c.For(n, 1, func(lo, hi int) {
		for p := lo; p < hi; p++ {
			parts[p] = sumSquares(d[p*grain : min((p+1)*grain, len(d))])
		}
	})
	total := 0.0
	for _, s := range parts {
		total += s
	}
	return total
}

func sumSquares(d []float32) float64 {
	s := 0.0
	for _, v := range d {
		s += float64(v) * float64(v)
	}
	return s
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
	k := adamwKernel{b1: s.Beta1, b2: s.Beta2, gradScale: s.GradScale, eps: s.Eps, stepSize: stepSize, sqrtBC2: sqrtBC2, decay: decay}
	pd, gd, md, vd := p.data, grad.data, m.data, v.data
	const grain = 1 << 14
	if c.serial(n, grain) {
		// Most parameters are small: updating them inline saves the closure per tensor.
		k.run(pd, gd, md, vd)
		return
	}
	c.For(n, grain, func(lo, hi int) { k.run(pd[lo:hi], gd[lo:hi], md[lo:hi], vd[lo:hi]) })
}

// adamwKernel holds the per-step constants of AdamW's elementwise update.
type adamwKernel struct {
	b1, b2, gradScale, eps, stepSize, sqrtBC2, decay float32
}

func (k adamwKernel) run(pd, gd, md, vd []float32) {
	b1, b2 := k.b1, k.b2
	for i := range pd {
		g := gd[i] * k.gradScale
		mi := b1*md[i] + (1-b1)*g
		vi := b2*vd[i] + (1-b2)*g*g
		md[i], vd[i] = mi, vi
		denom := float32(math.Sqrt(float64(vi)))/k.sqrtBC2 + k.eps
		pd[i] = pd[i]*k.decay - k.stepSize*mi/denom
	}
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
