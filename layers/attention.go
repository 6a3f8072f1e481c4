package layers

import (
	"fmt"
	"math"

	"github.com/hungry-ssm/hungry/autograd"
	"github.com/hungry-ssm/hungry/tensor"
)

// Attention is causal multi-head self-attention as flash-attn's MHA computes it: one
// fused projection Wqkv (3d × d, with bias) whose output is laid out (three, heads,
// head_dim), softmax(q·kᵀ/√head_dim) with keys after the query masked, and out_proj.
type Attention struct {
	Wqkv, OutProj *Linear
	Dim, Heads    int
	// Dropout is the probability of dropping each attention weight in training
	// (ForwardTrain), as flash-attn's MHA dropout argument.
	Dropout float32
	// RotaryDim > 0 rotates the first RotaryDim features of every query and key by their
	// position (flash-attn's rotary_emb_dim; see Rotary).
	RotaryDim int
}

// NewAttention returns prefix.Wqkv and prefix.out_proj; out_proj's weights use outStd.
func NewAttention(dev tensor.Device, rng *tensor.RNG, prefix string, dim, heads int, std, outStd float32) (*Attention, error) {
	if heads <= 0 || dim%heads != 0 {
		return nil, fmt.Errorf("attention: d_model %d is not divisible by %d heads", dim, heads)
	}
	return &Attention{
		Wqkv:    NewLinear(dev, rng, join(prefix, "Wqkv"), dim, 3*dim, true, std),
		OutProj: NewLinear(dev, rng, join(prefix, "out_proj"), dim, dim, true, outStd),
		Dim:     dim,
		Heads:   heads,
	}, nil
}

// Forward maps x (B, L, d) to (B, L, d).
func (a *Attention) Forward(g *autograd.Graph, x *autograd.Var) *autograd.Var {
	out, _ := a.ForwardTrace(g, x)
	return out
}

// ForwardTrain is Forward in training mode: each attention probability is dropped with
// probability a.Dropout (the survivors scaled by 1/(1−p)), the mask drawn from rng.
// With Dropout 0 it is Forward.
func (a *Attention) ForwardTrain(g *autograd.Graph, x *autograd.Var, rng *tensor.RNG) *autograd.Var {
	out, _ := a.forward(g, x, a.Dropout, rng)
	return out
}

// ForwardTrace is Forward that also returns the fused projection (B, L, 3d), whose keys
// and values seed a recurrent KV cache. With rotary embeddings its queries and keys are
// the rotated ones attention used, as a cache must hold them.
func (a *Attention) ForwardTrace(g *autograd.Graph, x *autograd.Var) (*autograd.Var, *autograd.Var) {
	out, fused := a.forward(g, x, 0, nil)
	if a.RotaryDim > 0 {
		fused = a.rotateFused(fused)
	}
	return out, fused
}

// rotateFused returns a copy of fused (B, L, 3, heads, hd) with its queries and keys
// rotated by position; it is a value for the cache, outside the graph.
func (a *Attention) rotateFused(fused *autograd.Var) *autograd.Var {
	shape := fused.Shape()
	data := fused.Value.Host()
	l, hd := shape[1], a.Dim/a.Heads
	for row := 0; row*3*a.Dim < len(data); row++ {
		qk := data[row*3*a.Dim : row*3*a.Dim+2*a.Dim]
		ApplyRotary(qk, hd, a.RotaryDim, row%l, false)
	}
	return autograd.Constant(fused.Device().FromHost(data, shape...))
}

func (a *Attention) forward(g *autograd.Graph, x *autograd.Var, dropP float32, rng *tensor.RNG) (*autograd.Var, *autograd.Var) {
	shape := x.Shape()
	if len(shape) != 3 || shape[2] != a.Dim {
		panic(&tensor.ShapeError{Op: "Attention", Shapes: [][]int{shape}, Msg: fmt.Sprintf("want (B, L, %d)", a.Dim)})
	}
	b, l := shape[0], shape[1]
	hd := a.Dim / a.Heads
	fused := a.Wqkv.Forward(g, x)
	qkv := autograd.Reshape(g, fused, b, l, 3, a.Heads, hd)
	qkv = autograd.Permute(g, qkv, 2, 0, 3, 1, 4) // (3, B, heads, L, hd)
	part := func(i int) *autograd.Var {
		return autograd.Reshape(g, autograd.SliceRows(g, qkv, i, i+1), b, a.Heads, l, hd)
	}
	q, k, v := part(0), part(1), part(2)
	if a.RotaryDim > 0 {
		q, k = Rotary(g, q, a.RotaryDim, 0), Rotary(g, k, a.RotaryDim, 0)
	}
	scores := autograd.Scale(g, autograd.MatMul(g, q, k, false, true), float32(1/math.Sqrt(float64(hd))))
	probs := autograd.Dropout(g, autograd.CausalSoftmax(g, scores), dropP, rng)
	ctx := autograd.MatMul(g, probs, v, false, false)                            // (B, heads, L, hd)
	ctx = autograd.Reshape(g, autograd.Permute(g, ctx, 0, 2, 1, 3), b, l, a.Dim) // (B, L, heads·hd)
	return a.OutProj.Forward(g, ctx), fused
}

// Params implements Module.
func (a *Attention) Params() []*autograd.Var { return append(a.Wqkv.Params(), a.OutProj.Params()...) }
