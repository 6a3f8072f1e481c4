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
	// graph is the graph whose op produced v; nil for parameters, inputs and constants,
	// whose gradients outlive any one graph.
	graph *Graph
	// spare is the gradient buffer ZeroGrad dropped, zeroed and reused by the next
	// GradTensor so that a parameter's gradient is allocated once, not once per step.
	spare *tensor.Tensor
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

// ZeroGrad drops the accumulated gradient. The gradient of a parameter or input keeps
// its storage for the next GradTensor, which zeroes it: the Grad field reads nil as
// before, and a training loop that zeroes its parameters' gradients every step no longer
// allocates them every step. (The result of an op may hold a graph's arena memory and
// keeps nothing.)
func (v *Var) ZeroGrad() {
	if v.graph == nil && v.Grad != nil {
		v.spare = v.Grad
	}
	v.Grad = nil
}

// GradTensor returns v's gradient, allocating a zero one on first use, so backward
// kernels can accumulate into it.
func (v *Var) GradTensor() *tensor.Tensor {
	if v.Grad == nil {
		v.Grad = v.reuseSpare()
		if v.Grad != nil {
			v.Device().Fill(v.Grad, 0)
		} else {
			v.Grad = v.Value.Device().Zeros(v.Value.Shape()...)
		}
	}
	return v.Grad
}

// reuseSpare takes the buffer ZeroGrad kept, when it still fits the value, or returns nil.
func (v *Var) reuseSpare() *tensor.Tensor {
	s := v.spare
	v.spare = nil
	if s == nil || s.Device() != v.Device() || !tensor.SameShape(s.Shape(), v.Shape()) {
		return nil
	}
	return s
}

// Graph is the tape of one forward pass.
type Graph struct {
	record bool
	tape   []tapeEntry
	// arena, when set, lends the host tensors of the graph's results, their gradients
	// and the ops' scratch; Release returns them.
	arena *tensor.Arena
	// vars are the graph's result variables, kept for reuse after Release: slabs of
	// fixed size so that growing never moves a Var a caller points to.
	vars  [][]Var
	nvars int
}

type tapeEntry struct {
	out *Var
	fn  func()
}

// varSlab is the number of result variables allocated together.
const varSlab = 256

// NewGraph returns a graph that records ops for Backward.
func NewGraph() *Graph { return &Graph{record: true} }

// NewGraphIn returns a graph that records ops for Backward and takes the host tensors of
// its results, their gradients and the ops' scratch from arena (nil: the devices'
// allocators, as NewGraph). Release ends the step: it takes back every tensor the graph
// lent, and the graph, empty again, records the next step with the same memory. So a
// training loop that keeps one graph and calls Release after each optimizer step
// allocates nothing for its activations once the first step has sized the arena.
//
// What the graph lends is invalid after Release: the results' values and gradients, and
// the gradients of op results. The gradients of parameters and inputs do not come from
// the arena and stay valid (ZeroGrad drops them as usual).
func NewGraphIn(arena *tensor.Arena) *Graph { return &Graph{record: true, arena: arena} }

// Release ends the graph's step: it empties the tape, returns what the graph's arena lent
// (when it has one) and makes the result variables reusable. The graph records anew.
func (g *Graph) Release() {
	clear(g.tape)
	g.tape = g.tape[:0]
	for i := 0; i < g.nvars; i++ {
		g.vars[i/varSlab][i%varSlab] = Var{}
	}
	g.nvars = 0
	if g.arena != nil {
		g.arena.Reset()
	}
}

// Zeros returns a zero-filled tensor for an op of this graph on dev: from the graph's
// arena when it has one that serves dev, otherwise from dev. Layers that need a constant
// scratch tensor per step use it too.
func (g *Graph) Zeros(dev tensor.Device, shape ...int) *tensor.Tensor {
	if g.arena.Serves(dev) {
		return g.arena.Zeros(shape...)
	}
	return dev.Zeros(shape...)
}

// Empty is Zeros for the output of a kernel that writes every element: its contents are
// unspecified (a reused arena buffer keeps the last step's values, a GPU buffer is not
// cleared), which saves the clearing pass.
func (g *Graph) Empty(dev tensor.Device, shape ...int) *tensor.Tensor {
	if g.arena.Serves(dev) {
		return g.arena.Empty(shape...)
	}
	return dev.Empty(shape...)
}

// grad returns v's gradient for a backward function to accumulate into: for v a result
// of this graph from the arena, otherwise v's own (GradTensor).
func (g *Graph) grad(v *Var) *tensor.Tensor {
	if v.Grad == nil && v.graph == g && g.arena.Serves(v.Device()) {
		v.Grad = g.arena.Zeros(v.Shape()...)
	}
	return v.GradTensor()
}

// gradToWrite is grad for a backward that overwrites v's gradient when it does not
// accumulate: a reused parameter buffer then skips its zeroing pass.
func (g *Graph) gradToWrite(v *Var, accumulate bool) *tensor.Tensor {
	if accumulate || v.Grad != nil || v.graph == g {
		return g.grad(v)
	}
	if v.Grad = v.reuseSpare(); v.Grad == nil {
		v.Grad = v.Device().Zeros(v.Shape()...)
	}
	return v.Grad
}

// gradOrNil returns v's gradient tensor when v needs one, so kernels skip the rest.
func (g *Graph) gradOrNil(v *Var) *tensor.Tensor {
	if v.RequiresGrad() {
		return g.grad(v)
	}
	return nil
}

// takeGrad gives v the gradient grad, shaped like v, that an op's backward passes on
// unchanged. When v has no gradient yet, v takes grad itself instead of a zero-filled
// tensor plus an addition: grad is an op result's gradient, complete when that op's
// backward runs and read by nothing after it, so later accumulation into it is safe.
// (The op result's Grad then tracks v's; only inputs' and parameters' gradients are
// defined after Backward.) Otherwise grad is added to v's gradient.
//
// With an arena, grad is arena memory: a parameter or input, whose gradient must outlive
// Release, gets a copy in its own buffer instead.
func (g *Graph) takeGrad(v *Var, grad *tensor.Tensor) {
	switch {
	case v.Grad != nil:
		v.Device().Axpy(1, grad, v.Grad)
	case g.arena == nil || v.graph == g:
		v.Grad = grad
	default:
		if v.Grad = v.reuseSpare(); v.Grad == nil {
			v.Grad = v.Device().Zeros(v.Shape()...)
		}
		v.Device().Copy(v.Grad, grad)
	}
}

// NoGrad returns a graph that records nothing: ops compute values only.
func NoGrad() *Graph { return &Graph{} }

// Recording reports whether ops on this graph build a backward pass.
func (g *Graph) Recording() bool { return g.record }

// Result wraps an op's output. The result requires a gradient when the graph records and
// any input does; only then should the op register a backward function with OnBackward.
func (g *Graph) Result(t *tensor.Tensor, inputs ...*Var) *Var {
	if !g.record {
		return &Var{Value: t}
	}
	out := g.newVar()
	out.Value, out.graph = t, g
	for _, in := range inputs {
		if in != nil && in.requiresGrad {
			out.requiresGrad = true
			break
		}
	}
	return out
}

// newVar returns a zero result variable from the graph's slabs.
func (g *Graph) newVar() *Var {
	if g.nvars == len(g.vars)*varSlab {
		g.vars = append(g.vars, make([]Var, varSlab))
	}
	v := &g.vars[g.nvars/varSlab][g.nvars%varSlab]
	g.nvars++
	return v
}

// OnBackward registers fn to run during Backward. Ops call it only for results that
// require a gradient; fn reads out.Grad (never nil when it runs) and accumulates into
// the inputs' GradTensor for those inputs that require one.
func (g *Graph) OnBackward(out *Var, fn func()) {
	if !out.requiresGrad {
		return
	}
	g.tape = append(g.tape, tapeEntry{out: out, fn: fn})
}

// Backward seeds ∂loss/∂loss = 1 for a one-element loss and propagates gradients to every
// variable that requires one. The tape is consumed: a graph runs backward once.
func (g *Graph) Backward(loss *Var) error {
	if loss.Value.Numel() != 1 {
		return fmt.Errorf("autograd: Backward needs a one-element loss, got shape %v", loss.Shape())
	}
	seed := g.Zeros(loss.Device(), loss.Shape()...)
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
	out.Grad = g.Empty(seed.Device(), seed.Shape()...)
	seed.Device().Copy(out.Grad, seed)
	err := tensor.Catch(func() {
		for i := len(g.tape) - 1; i >= 0; i-- {
			if e := g.tape[i]; e.out.Grad != nil {
				e.fn()
			}
			g.tape[i] = tapeEntry{}
		}
	})
	g.tape = g.tape[:0]
	return err
}
