package layers

import (
	"github.com/hungry-ssm/hungry/autograd"
	"github.com/hungry-ssm/hungry/tensor"
)

// Linear is y = x·Wᵀ + b with W stored (out, in) as PyTorch's nn.Linear stores it.
type Linear struct {
	Weight *autograd.Var
	// Bias is nil for a map without bias.
	Bias    *autograd.Var
	In, Out int
}

// NewLinear returns a linear map named prefix.weight / prefix.bias with weights drawn
// from N(0, std²) and a zero bias (the GPT-2 initialisation the official code applies).
func NewLinear(dev tensor.Device, rng *tensor.RNG, prefix string, in, out int, bias bool, std float32) *Linear {
	l := &Linear{In: in, Out: out}
	l.Weight = param(dev, join(prefix, "weight"), autograd.ClassDecay, normal(rng, out*in, std), out, in)
	if bias {
		l.Bias = zerosParam(dev, join(prefix, "bias"), autograd.ClassNoDecay, out)
	}
	return l
}

// Forward maps x (..., in) to (..., out).
func (l *Linear) Forward(g *autograd.Graph, x *autograd.Var) *autograd.Var {
	shape := x.Shape()
	if len(shape) == 0 || shape[len(shape)-1] != l.In {
		panic(&tensor.ShapeError{Op: "Linear", Shapes: [][]int{shape, l.Weight.Shape()}, Msg: "last axis of the input must equal the weight's in-features"})
	}
	in := x
	if len(shape) == 1 {
		in = autograd.Reshape(g, x, 1, l.In)
	}
	y := autograd.Linear(g, in, l.Weight, l.Bias)
	if len(shape) == 1 {
		y = autograd.Reshape(g, y, l.Out)
	}
	return y
}

// Params implements Module.
func (l *Linear) Params() []*autograd.Var {
	if l.Bias == nil {
		return []*autograd.Var{l.Weight}
	}
	return []*autograd.Var{l.Weight, l.Bias}
}

// Embedding maps token ids to rows of Weight (vocab, dim).
type Embedding struct {
	Weight *autograd.Var
}

// NewEmbedding returns a table named prefix.weight drawn from N(0, std²).
func NewEmbedding(dev tensor.Device, rng *tensor.RNG, prefix string, vocab, dim int, std float32) *Embedding {
	return &Embedding{Weight: param(dev, join(prefix, "weight"), autograd.ClassDecay, normal(rng, vocab*dim, std), vocab, dim)}
}

// Forward gathers the rows of ids into a tensor of shape (shape..., dim).
func (e *Embedding) Forward(g *autograd.Graph, ids []int32, shape ...int) *autograd.Var {
	return autograd.Embedding(g, e.Weight, ids, shape...)
}

// Params implements Module.
func (e *Embedding) Params() []*autograd.Var { return []*autograd.Var{e.Weight} }

// LayerNorm normalises the last axis and applies a learned affine map.
type LayerNorm struct {
	Weight, Bias *autograd.Var
	Eps          float32
}

// NewLayerNorm returns a LayerNorm named prefix.weight / prefix.bias initialised to 1 and 0.
func NewLayerNorm(dev tensor.Device, prefix string, dim int, eps float32) *LayerNorm {
	return &LayerNorm{
		Weight: filledParam(dev, join(prefix, "weight"), autograd.ClassNoDecay, 1, dim),
		Bias:   zerosParam(dev, join(prefix, "bias"), autograd.ClassNoDecay, dim),
		Eps:    eps,
	}
}

// Forward normalises x (..., dim).
func (n *LayerNorm) Forward(g *autograd.Graph, x *autograd.Var) *autograd.Var {
	return autograd.LayerNorm(g, x, n.Weight, n.Bias, n.Eps)
}

// AddForward returns sum = x + r and its normalisation: a pre-norm block's residual
// update and the LayerNorm that follows it, in one pass over the rows
// (autograd.AddLayerNorm). x and r have the same shape (..., dim).
func (n *LayerNorm) AddForward(g *autograd.Graph, x, r *autograd.Var) (sum, out *autograd.Var) {
	return autograd.AddLayerNorm(g, x, r, n.Weight, n.Bias, n.Eps)
}

// Params implements Module.
func (n *LayerNorm) Params() []*autograd.Var { return []*autograd.Var{n.Weight, n.Bias} }

// MLP is fc2(GELU(fc1(x))) with the tanh approximation of GELU, as flash-attn's Mlp with
// activation=gelu(approximate='tanh').
type MLP struct {
	FC1, FC2 *Linear
}

// NewMLP returns prefix.fc1 (dim → inner) and prefix.fc2 (inner → dim); fc2's weights use
// outStd, the depth-scaled deviation the official initialisation gives residual outputs.
func NewMLP(dev tensor.Device, rng *tensor.RNG, prefix string, dim, inner int, std, outStd float32) *MLP {
	return &MLP{
		FC1: NewLinear(dev, rng, join(prefix, "fc1"), dim, inner, true, std),
		FC2: NewLinear(dev, rng, join(prefix, "fc2"), inner, dim, true, outStd),
	}
}

// Forward maps x (..., dim) to (..., dim).
func (m *MLP) Forward(g *autograd.Graph, x *autograd.Var) *autograd.Var {
	return m.FC2.Forward(g, autograd.GELU(g, m.FC1.Forward(g, x)))
}

// Params implements Module.
func (m *MLP) Params() []*autograd.Var { return append(m.FC1.Params(), m.FC2.Params()...) }
