// Package autograd records operations on tensors as they run and computes gradients by
// replaying them backwards.
//
// A Graph is the tape of one forward pass. Ops are functions that take the graph first:
//
//	g := autograd.NewGraph()
//	y := autograd.MatMul(g, x, w, false, true)
//	loss := autograd.Mean(g, y)
//	err := g.Backward(loss)
//
// The graph is explicit rather than global so that two models, or two goroutines, can run
// at once. A graph made with NoGrad records nothing and is what inference uses.
//
// Every op lives in its own file with its forward, its backward and a gradient test that
// compares it with finite differences (CheckGrad).
package autograd

import (
	"fmt"

	"github.com/hungry-ssm/hungry/tensor"
)

// Var is a tensor in a computation: a parameter, an input or an op's result.
type Var struct {
	Value *tensor.Tensor
	// Grad accumulates ∂loss/∂Value over Backward calls until ZeroGrad. It is nil until a
	// gradient first reaches the variable.
	Grad *tensor.Tensor
	// Name labels parameters in checkpoints and error messages.
	Name string
	// Class is how an optimizer treats the parameter. The layer that creates a parameter
	// sets it, as it alone knows what the parameter is; names are for checkpoints.
	Class        ParamClass
	requiresGrad bool
}

// ParamClass is a parameter's optimizer group, as the H3 paper's code splits them.
type ParamClass uint8

const (
	// ClassDecay parameters (weight matrices, embeddings, the SSMs' read-out C) get
	// weight decay at the base learning rate. It is the zero value: a parameter nobody
	// classified is treated as an ordinary weight.
	ClassDecay ParamClass = iota
	// ClassNoDecay parameters (biases, LayerNorm weights, the SSMs' skip term D) get the
	// base learning rate without weight decay.
	ClassNoDecay
	// ClassSSM parameters (the SSM kernels' dt, A and B) get the SSM learning rate and no
	// weight decay.
	ClassSSM
)

// NewParam returns a variable that gradients flow to.
func NewParam(name string, t *tensor.Tensor) *Var {
	return &Var{Value: t, Name: name, requiresGrad: true}
}

// Constant returns a variable that receives no gradient (inputs, masks, targets).
func Constant(t *tensor.Tensor) *Var { return &Var{Value: t} }

// RequiresGrad reports whether gradients are computed for v.
func (v *Var) RequiresGrad() bool { return v.requiresGrad }

// SetRequiresGrad turns gradient computation for v on or off (to freeze a parameter).
func (v *Var) SetRequiresGrad(on bool) { v.requiresGrad = on }

// Shape is the shape of the value.
func (v *Var) Shape() []int { return v.Value.Shape() }

// Device is where the value lives.
func (v *Var) Device() tensor.Device { return v.Value.Device() }

// ZeroGrad drops the accumulated gradient.
func (v *Var) ZeroGrad() { v.Grad = nil }

// GradTensor returns v's gradient, allocating a zero one on first use, so backward
// kernels can accumulate into it.
func (v *Var) GradTensor() *tensor.Tensor {
	if v.Grad == nil {
		v.Grad = v.Value.Device().Zeros(v.Value.Shape()...)
	}
	return v.Grad
}

// takeGrad gives v the gradient grad, shaped like v, that an op's backward passes on
// unchanged. When v has no gradient yet, v takes grad itself instead of a zero-filled
// tensor plus an addition: grad is an op result's gradient, complete when that op's
// backward runs and read by nothing after it, so later accumulation into it is safe.
// (The op result's Grad then tracks v's; only inputs' and parameters' gradients are
// defined after Backward.) Otherwise grad is added to v's gradient.
func (v *Var) takeGrad(grad *tensor.Tensor) {
	if v.Grad == nil {
		v.Grad = grad
		return
	}
	v.Device().Axpy(1, grad, v.Grad)
}

// Graph is the tape of one forward pass.
type Graph struct {
	record bool
	tape   []func()
}

// NewGraph returns a graph that records ops for Backward.
func NewGraph() *Graph { return &Graph{record: true} }

// NoGrad returns a graph that records nothing: ops compute values only.
func NoGrad() *Graph { return &Graph{} }

// Recording reports whether ops on this graph build a backward pass.
func (g *Graph) Recording() bool { return g.record }

// Result wraps an op's output. The result requires a gradient when the graph records and
// any input does; only then should the op register a backward function with OnBackward.
func (g *Graph) Result(t *tensor.Tensor, inputs ...*Var) *Var {
	out := &Var{Value: t}
	if !g.record {
		return out
	}
	for _, in := range inputs {
		if in != nil && in.requiresGrad {
			out.requiresGrad = true
			break
		}
	}
	return out
}

// OnBackward registers fn to run during Backward. Ops call it only for results that
// require a gradient; fn reads out.Grad (never nil when it runs) and accumulates into
// the inputs' GradTensor for those inputs that require one.
func (g *Graph) OnBackward(out *Var, fn func()) {
	if !out.requiresGrad {
		return
	}
	g.tape = append(g.tape, func() {
		if out.Grad != nil {
			fn()
		}
	})
}

// Backward seeds ∂loss/∂loss = 1 for a one-element loss and propagates gradients to every
// variable that requires one. The tape is consumed: a graph runs backward once.
func (g *Graph) Backward(loss *Var) error {
	if loss.Value.Numel() != 1 {
		return fmt.Errorf("autograd: Backward needs a one-element loss, got shape %v", loss.Shape())
	}
	seed := loss.Device().Zeros(loss.Shape()...)
	loss.Device().Fill(seed, 1)
	return g.BackwardWith(loss, seed)
}

// BackwardWith propagates the gradient seed (shaped like out) from out.
func (g *Graph) BackwardWith(out *Var, seed *tensor.Tensor) error {
	if !g.record {
		return fmt.Errorf("autograd: Backward on a NoGrad graph")
	}
	if !tensor.SameShape(out.Shape(), seed.Shape()) {
		return fmt.Errorf("autograd: gradient seed shape %v does not match output %v", seed.Shape(), out.Shape())
	}
	if !out.requiresGrad {
		return fmt.Errorf("autograd: output does not depend on any variable that requires a gradient")
	}
	// A copy, because takeGrad may hand the seed on to an input that accumulates into it.
	out.Grad = seed.Clone()
	err := tensor.Catch(func() {
		for i := len(g.tape) - 1; i >= 0; i-- {
			g.tape[i]()
			g.tape[i] = nil
		}
	})
	g.tape = g.tape[:0]
	return err
}
