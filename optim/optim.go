// Package optim updates parameters from their gradients: AdamW and SGD with momentum,
// parameter groups with their own learning rate and weight decay, global gradient-norm
// clipping, and a warmup + cosine learning-rate schedule.
//
// An optimizer step reads each parameter's accumulated gradient (autograd.Var.Grad), so
// gradient accumulation is simply several Backward calls before one Step; Step's
// gradScale argument divides by the number of micro-batches.
package optim

import (
	"fmt"
	"math"

	"github.com/hungry-ssm/hungry/autograd"
	"github.com/hungry-ssm/hungry/tensor"
)

// Group is a set of parameters sharing a peak learning rate and a weight decay.
type Group struct {
	Name        string
	Params      []*autograd.Var
	LR          float64
	WeightDecay float64
}

// Optimizer applies one update per Step.
type Optimizer interface {
	// Step updates every parameter with a gradient. lrScale multiplies each group's peak
	// learning rate (the schedule); gradScale multiplies every gradient (clipping and
	// micro-batch averaging).
	Step(lrScale, gradScale float64)
	// Groups are the parameter groups.
	Groups() []Group
	// State returns the optimizer's tensors by name for checkpoints, and its step count.
	State() (map[string]*tensor.Tensor, int)
	// LoadState restores what State returned; every tensor must be present and shaped right.
	LoadState(state map[string]*tensor.Tensor, step int) error
}

// AdamW is Adam with decoupled weight decay (Loshchilov & Hutter).
type AdamW struct {
	groups            []Group
	Beta1, Beta2, Eps float64
	m, v              map[*autograd.Var]*tensor.Tensor
	step              int
}

// NewAdamW returns an AdamW optimizer with PyTorch's default betas (0.9, 0.999) and ε 1e-8.
func NewAdamW(groups []Group) *AdamW {
	return &AdamW{groups: groups, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8,
		m: map[*autograd.Var]*tensor.Tensor{}, v: map[*autograd.Var]*tensor.Tensor{}}
}

// Groups implements Optimizer.
func (o *AdamW) Groups() []Group { return o.groups }

// Step implements Optimizer.
func (o *AdamW) Step(lrScale, gradScale float64) {
	o.step++
	for _, g := range o.groups {
		for _, p := range g.Params {
			if p.Grad == nil {
				continue
			}
			dev := p.Device()
			m, ok := o.m[p]
			if !ok {
				m = dev.Zeros(p.Shape()...)
				o.m[p] = m
				o.v[p] = dev.Zeros(p.Shape()...)
			}
			dev.AdamW(p.Value, p.Grad, m, o.v[p], tensor.AdamWStep{
				LR: float32(g.LR * lrScale), Beta1: float32(o.Beta1), Beta2: float32(o.Beta2),
				Eps: float32(o.Eps), WeightDecay: float32(g.WeightDecay),
				GradScale: float32(gradScale), Step: o.step,
			})
		}
	}
}

// State implements Optimizer: moments are named "exp_avg.<param>" and "exp_avg_sq.<param>".
func (o *AdamW) State() (map[string]*tensor.Tensor, int) {
	out := map[string]*tensor.Tensor{}
	for _, g := range o.groups {
		for _, p := range g.Params {
			if m, ok := o.m[p]; ok {
				out["exp_avg."+p.Name] = m
				out["exp_avg_sq."+p.Name] = o.v[p]
			}
		}
	}
	return out, o.step
}

// LoadState implements Optimizer.
func (o *AdamW) LoadState(state map[string]*tensor.Tensor, step int) error {
	m := map[*autograd.Var]*tensor.Tensor{}
	v := map[*autograd.Var]*tensor.Tensor{}
	used := 0
	for _, g := range o.groups {
		for _, p := range g.Params {
			mt, okm := state["exp_avg."+p.Name]
			vt, okv := state["exp_avg_sq."+p.Name]
			if !okm && !okv && step == 0 {
				continue
			}
			if !okm || !okv {
				return fmt.Errorf("optimizer state: no moments for parameter %s", p.Name)
			}
			for _, t := range []*tensor.Tensor{mt, vt} {
				if !tensor.SameShape(t.Shape(), p.Shape()) {
					return fmt.Errorf("optimizer state: moment of %s has shape %v, parameter has %v", p.Name, t.Shape(), p.Shape())
				}
			}
			// Copies, so the optimizer never shares moments with whoever supplied them.
			m[p], v[p] = mt.To(p.Device()).Clone(), vt.To(p.Device()).Clone()
			used += 2
		}
	}
	if used != len(state) {
		return fmt.Errorf("optimizer state: %d tensors do not belong to any parameter", len(state)-used)
	}
	o.m, o.v, o.step = m, v, step
	return nil
}

// SGD is stochastic gradient descent with momentum and L2 weight decay.
type SGD struct {
	groups   []Group
	Momentum float64
	buf      map[*autograd.Var]*tensor.Tensor
	step     int
}

// NewSGD returns SGD with the given momentum.
func NewSGD(groups []Group, momentum float64) *SGD {
	return &SGD{groups: groups, Momentum: momentum, buf: map[*autograd.Var]*tensor.Tensor{}}
}

// Groups implements Optimizer.
func (o *SGD) Groups() []Group { return o.groups }

// Step implements Optimizer.
func (o *SGD) Step(lrScale, gradScale float64) {
	o.step++
	for _, g := range o.groups {
		for _, p := range g.Params {
			if p.Grad == nil {
				continue
			}
			b, ok := o.buf[p]
			if !ok {
				b = p.Device().Zeros(p.Shape()...)
				o.buf[p] = b
			}
			p.Device().SGD(p.Value, p.Grad, b, float32(g.LR*lrScale), float32(o.Momentum), float32(g.WeightDecay), float32(gradScale))
		}
	}
}

// State implements Optimizer: buffers are named "momentum_buffer.<param>".
func (o *SGD) State() (map[string]*tensor.Tensor, int) {
	out := map[string]*tensor.Tensor{}
	for _, g := range o.groups {
		for _, p := range g.Params {
			if b, ok := o.buf[p]; ok {
				out["momentum_buffer."+p.Name] = b
			}
		}
	}
	return out, o.step
}

// LoadState implements Optimizer.
func (o *SGD) LoadState(state map[string]*tensor.Tensor, step int) error {
	buf := map[*autograd.Var]*tensor.Tensor{}
	for _, g := range o.groups {
		for _, p := range g.Params {
			b, ok := state["momentum_buffer."+p.Name]
			if !ok {
				continue
			}
			if !tensor.SameShape(b.Shape(), p.Shape()) {
				return fmt.Errorf("optimizer state: momentum of %s has shape %v, parameter has %v", p.Name, b.Shape(), p.Shape())
			}
			buf[p] = b.To(p.Device()).Clone()
		}
	}
	if len(buf) != len(state) {
		return fmt.Errorf("optimizer state: %d tensors do not belong to any parameter", len(state)-len(buf))
	}
	o.buf, o.step = buf, step
	return nil
}

// GradNorm returns the global L2 norm of all gradients in the groups.
func GradNorm(groups []Group) float64 {
	s := 0.0
	for _, g := range groups {
		for _, p := range g.Params {
			if p.Grad != nil {
				s += p.Device().SquaredNorm(p.Grad)
			}
		}
	}
	return math.Sqrt(s)
}

// ClipScale returns the factor that brings a gradient of the given norm down to maxNorm
// (1 when it is already within it), as torch.nn.utils.clip_grad_norm_ does.
func ClipScale(norm, maxNorm float64) float64 {
	if maxNorm <= 0 || norm <= maxNorm {
		return 1
	}
	return maxNorm / (norm + 1e-6)
}

// WarmupCosine is linear warmup from 0 to the peak over Warmup steps, then cosine decay to
// MinRatio of the peak at Total steps, constant after.
type WarmupCosine struct {
	Warmup, Total int
	MinRatio      float64
}

// Factor returns the multiplier of the peak learning rate for the 1-based step.
func (s WarmupCosine) Factor(step int) float64 {
	if s.Warmup > 0 && step <= s.Warmup {
		return float64(step) / float64(s.Warmup)
	}
	if step >= s.Total || s.Total <= s.Warmup {
		return s.MinRatio
	}
	progress := float64(step-s.Warmup) / float64(s.Total-s.Warmup)
	return s.MinRatio + (1-s.MinRatio)*0.5*(1+math.Cos(math.Pi*progress))
}
