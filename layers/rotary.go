package layers

import (
	"fmt"
	"math"

	"github.com/hungry-ssm/hungry/autograd"
	"github.com/hungry-ssm/hungry/tensor"
)

// RotaryBase is the base of the rotary frequencies, as flash-attn's RotaryEmbedding and
// GPT-NeoX use.
const RotaryBase = 10000

// rotaryAngles returns cos and sin of pos·base^(−2i/rotDim) for i < rotDim/2. The angles
// are formed in float64: flash-attn forms them in float32, which differs by ~1e-7·pos
// radians, below what a float32 model resolves at the positions H3 was trained on (2048).
func rotaryAngles(rotDim, pos int) (cos, sin []float32) {
	half := rotDim / 2
	cos, sin = make([]float32, half), make([]float32, half)
	for i := 0; i < half; i++ {
		theta := float64(pos) * math.Pow(RotaryBase, -float64(2*i)/float64(rotDim))
		cos[i], sin[i] = float32(math.Cos(theta)), float32(math.Sin(theta))
	}
	return cos, sin
}

// ApplyRotary rotates, in place, the head vectors packed in x (len(x) a multiple of
// headDim) as at absolute position pos: within the first rotDim features of each head,
// feature i and feature i + rotDim/2 turn by the angle pos·10000^(−2i/rotDim) (the
// "rotate_half", non-interleaved layout of GPT-NeoX and flash-attn); the other features
// are unchanged. A recurrent attention step calls it on the new token's query and keys
// before caching the keys. inverse turns the other way (the transpose, for gradients).
func ApplyRotary(x []float32, headDim, rotDim, pos int, inverse bool) {
	cos, sin := rotaryAngles(rotDim, pos)
	rotateHeads(x, headDim, cos, sin, inverse)
}

func rotateHeads(x []float32, headDim int, cos, sin []float32, inverse bool) {
	half := len(cos)
	for h := 0; h+headDim <= len(x); h += headDim {
		v := x[h : h+2*half]
		for i := 0; i < half; i++ {
			s := sin[i]
			if inverse {
				s = -s
			}
			a, b := v[i], v[i+half]
			v[i] = a*cos[i] - b*s
			v[i+half] = b*cos[i] + a*s
		}
	}
}

// CheckRotary validates a rotary dimension for heads of headDim features.
func CheckRotary(rotDim, headDim int) error {
	if rotDim < 0 || rotDim%2 != 0 || rotDim > headDim {
		return fmt.Errorf("rotary dimension %d must be even and in [0, head dim %d]", rotDim, headDim)
	}
	return nil
}

// Rotary applies rotary position embeddings to x (..., L, headDim): the vector at index t
// of the second-to-last axis is rotated as at position pos0 + t. Its gradient is the
// inverse rotation of the output's gradient. It runs on the host (a few multiply-adds per
// element, beside the matrix products around it).
func Rotary(g *autograd.Graph, x *autograd.Var, rotDim, pos0 int) *autograd.Var {
	shape := x.Shape()
	if len(shape) < 2 || CheckRotary(rotDim, shape[len(shape)-1]) != nil || pos0 < 0 {
		panic(&tensor.ShapeError{Op: "Rotary", Shapes: [][]int{shape}, Msg: fmt.Sprintf("want (..., L, head_dim ≥ %d), rotary dim even, position ≥ 0 (got %d)", rotDim, pos0)})
	}
	l, hd := shape[len(shape)-2], shape[len(shape)-1]
	rotate := func(data []float32, inverse bool) {
		for t := 0; t < l; t++ {
			cos, sin := rotaryAngles(rotDim, pos0+t)
			for off := t * hd; off < len(data); off += l * hd {
				rotateHeads(data[off:off+hd], hd, cos, sin, inverse)
			}
		}
	}
	dev := x.Device()
	data := x.Value.Host()
	rotate(data, false)
	out := g.Result(dev.FromHost(data, shape...), x)
	g.OnBackward(out, func() {
		d := out.Grad.Host()
		rotate(d, true)
		dev.Axpy(1, dev.FromHost(d, shape...), x.GradTensor())
	})
	return out
}
