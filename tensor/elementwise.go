package tensor

import (
	"fmt"
	"math"

	"github.com/hungry-ssm/hungry/tensor/internal/simd"
)

// BinaryOp selects the arithmetic of Binary and BinaryBackward.
type BinaryOp int

// The binary operations.
const (
	OpAdd BinaryOp = iota
	OpSub
	OpMul
	OpDiv
)

func (op BinaryOp) String() string {
	switch op {
	case OpAdd:
		return "Add"
	case OpSub:
		return "Sub"
	case OpMul:
		return "Mul"
	case OpDiv:
		return "Div"
	}
	return fmt.Sprintf("BinaryOp(%d)", int(op))
}

// UnaryOp selects the function of Unary and UnaryBackward.
type UnaryOp int

// The unary operations.
const (
	// OpGELU is the tanh approximation 0.5x(1+tanh(√(2/π)(x+0.044715x³))), as GPT-2 and
	// the H3 code use.
	OpGELU UnaryOp = iota
	OpReLU
	// OpSiLU is x·σ(x).
	OpSiLU
	OpSigmoid
	OpTanh
	OpExp
)

func (op UnaryOp) String() string {
	switch op {
	case OpGELU:
		return "GELU"
	case OpReLU:
		return "ReLU"
	case OpSiLU:
		return "SiLU"
	case OpSigmoid:
		return "Sigmoid"
	case OpTanh:
		return "Tanh"
	case OpExp:
		return "Exp"
	}
	return fmt.Sprintf("UnaryOp(%d)", int(op))
}

// ElementwiseKernels are pointwise maps, their gradients and the data movement that
// rearranges axes.
type ElementwiseKernels interface {
	// Binary computes out = a op b. b's elements repeat over a's leading axes: b.Numel()
	// divides a.Numel() and element i of a meets element i mod b.Numel() of b (b's shape
	// is a suffix of a's). out is shaped like a and may be a itself.
	Binary(op BinaryOp, out, a, b *Tensor)
	// BinaryBackward accumulates the gradients of out = a op b: da += ∂/∂a, and db += the
	// gradient summed over the repeats of b. Either of da and db may be nil.
	BinaryBackward(op BinaryOp, da, db, dout, a, b *Tensor)
	// Unary computes out = f(x); out may be x itself.
	Unary(op UnaryOp, out, x *Tensor)
	// UnaryBackward accumulates dx += dout·f'(x); y is the forward output f(x), which
	// some derivatives are cheaper from.
	UnaryBackward(op UnaryOp, dx, dout, x, y *Tensor)
	// Scale computes out = alpha·x; out may be x itself.
	Scale(out, x *Tensor, alpha float32)
	// Axpy accumulates y += alpha·x (same number of elements).
	Axpy(alpha float32, x, y *Tensor)
	// Permute writes (or, with accumulate, adds) x with its axes rearranged into out:
	// out's axis k is x's axis perm[k], so out.Shape()[k] == x.Shape()[perm[k]].
	Permute(out, x *Tensor, perm []int, accumulate bool)
}

// BroadcastShapes checks that b's shape, without leading ones, is a suffix of a's (b
// repeats over a's leading axes), and panics with a *ShapeError naming both otherwise.
func BroadcastShapes(op string, a, b []int) {
	// Leading ones of b carry no data and match any of a's axes.
	bs := b
	for len(bs) > 0 && bs[0] == 1 {
		bs = bs[1:]
	}
	ok := len(bs) <= len(a)
	if ok {
		ok = SameShape(bs, a[len(a)-len(bs):])
	}
	if !ok {
		panic(&ShapeError{Op: op, Shapes: [][]int{a, b}, Msg: "the second shape must equal the first or a suffix of it"})
	}
}

// PermuteShape returns shape rearranged by perm and panics with a *ShapeError when perm is
// not a permutation of shape's axes.
func PermuteShape(shape, perm []int) []int {
	if len(perm) != len(shape) {
		panic(&ShapeError{Op: "Permute", Shapes: [][]int{shape, perm}, Msg: "the permutation must name every axis once"})
	}
	seen := make([]bool, len(shape))
	out := make([]int, len(shape))
	for k, p := range perm {
		if p < 0 || p >= len(shape) || seen[p] {
			panic(&ShapeError{Op: "Permute", Shapes: [][]int{shape, perm}, Msg: "the permutation must name every axis once"})
		}
		seen[p] = true
		out[k] = shape[p]
	}
	return out
}

// elemGrain is the least number of elements a parallel range gets: below it, handing the
// work to another goroutine costs more than doing it.
const elemGrain = 1 << 14

// rowGrainFor is the number of rows of length rowLen that make up elemGrain elements.
func rowGrainFor(rowLen int) int { return max(1, elemGrain/max(rowLen, 1)) }

// forRepeats runs fn over the n elements of a tensor that a period-long operand repeats
// across, in parallel, calling it once per stretch that does not cross a period
// boundary: the stretch is [s, s+l) of the big tensor and [bo, bo+l) of the small one.
func (c *CPU) forRepeats(n, period int, fn func(s, bo, l int)) {
	c.For(n, elemGrain, func(lo, hi int) {
		for s := lo; s < hi; {
			bo := s % period
			l := min(hi-s, period-bo)
			fn(s, bo, l)
			s += l
		}
	})
}

// Binary implements ElementwiseKernels.
func (c *CPU) Binary(op BinaryOp, out, a, b *Tensor) {
	od, ad, bd := out.data, a.data, b.data
	c.forRepeats(len(ad), len(bd), func(s, bo, l int) {
		o, x, y := od[s:s+l], ad[s:s+l], bd[bo:bo+l]
		switch op {
		case OpAdd:
			simd.Add(o, x, y)
		case OpSub:
			simd.Sub(o, x, y)
		case OpMul:
			simd.Mul(o, x, y)
		case OpDiv:
			for i := range o {
				o[i] = x[i] / y[i]
			}
		default:
			panic("tensor: unknown " + op.String())
		}
	})
}

// BinaryBackward implements ElementwiseKernels.
func (c *CPU) BinaryBackward(op BinaryOp, da, db, dout, a, b *Tensor) {
	gd, ad, bd := dout.data, a.data, b.data
	if da != nil {
		dad := da.data
		c.forRepeats(len(ad), len(bd), func(s, bo, l int) {
			d, g, y := dad[s:s+l], gd[s:s+l], bd[bo:bo+l]
			switch op {
			case OpAdd, OpSub:
				simd.Add(d, d, g)
			case OpMul:
				simd.MulAdd(d, g, y)
			case OpDiv:
				for i := range d {
					d[i] += g[i] / y[i]
				}
			}
		})
	}
	if db == nil {
		return
	}
	// db sums over the repeats. Splitting b's elements (columns) between workers instead
	// of the repeats keeps every sum in one fixed order, so the result does not depend on
	// the number of workers.
	inner, reps := len(bd), len(ad)/len(bd)
	args := binaryDB{op: op, db: db.data, g: gd, a: ad, b: bd, inner: inner, reps: reps}
	forArgs(c, inner, rowGrainFor(reps), args, func(a binaryDB, lo, hi int) {
		op, inner, gd, ad := a.op, a.inner, a.g, a.a
		d, y := a.db[lo:hi], a.b[lo:hi]
		for r := 0; r < a.reps; r++ {
			off := r*inner + lo
			g, x := gd[off:off+hi-lo], ad[off:off+hi-lo]
			switch op {
			case OpAdd:
				simd.Add(d, d, g)
			case OpSub:
				simd.Sub(d, d, g)
			case OpMul:
				simd.MulAdd(d, g, x)
			case OpDiv:
				for i := range d {
					d[i] -= g[i] * x[i] / (y[i] * y[i])
				}
			}
		}
	})
}

// binaryDB is what BinaryBackward's sum over repeats reads.
type binaryDB struct {
	op          BinaryOp
	db, g, a, b []float32
	inner, reps int
}

func sigmoid(x float32) float32 { return 1 / (1 + simd.Expf(-x)) }

// Unary implements ElementwiseKernels.
func (c *CPU) Unary(op UnaryOp, out, x *Tensor) {
	od, xd := out.data, x.data
	if c.serial(len(xd), elemGrain) { // inline: no closure to allocate
		unaryRange(op, od, xd, 0, len(xd))
		return
	}
	c.For(len(xd), elemGrain, func(lo, hi int) { unaryRange(op, od, xd, lo, hi) })
}

// unaryRange is Unary over elements [lo, hi).
func unaryRange(op UnaryOp, od, xd []float32, lo, hi int) {
	o, v := od[lo:hi], xd[lo:hi]
	switch op {
	case OpGELU:
		simd.GELU(o, v)
	case OpReLU:
		for i := range o {
			o[i] = max(v[i], 0)
		}
	case OpSiLU:
		for i := range o {
			o[i] = v[i] * sigmoid(v[i])
		}
	case OpSigmoid:
		for i := range o {
			o[i] = sigmoid(v[i])
		}
	case OpTanh:
		for i := range o {
			o[i] = float32(math.Tanh(float64(v[i])))
		}
	case OpExp:
		for i := range o {
			o[i] = simd.Expf(v[i])
		}
	default:
		panic("tensor: unknown " + op.String())
	}
}

// UnaryBackward implements ElementwiseKernels.
func (c *CPU) UnaryBackward(op UnaryOp, dx, dout, x, y *Tensor) {
	dd, gd, xd, yd := dx.data, dout.data, x.data, y.data
	if c.serial(len(xd), elemGrain) { // inline: no closure to allocate
		unaryBackwardRange(op, dd, gd, xd, yd, 0, len(xd))
		return
	}
	c.For(len(xd), elemGrain, func(lo, hi int) { unaryBackwardRange(op, dd, gd, xd, yd, lo, hi) })
}

// unaryBackwardRange is UnaryBackward over elements [lo, hi).
func unaryBackwardRange(op UnaryOp, dd, gd, xd, yd []float32, lo, hi int) {
	d, g := dd[lo:hi], gd[lo:hi]
	switch op {
	case OpGELU:
		simd.GELUBackward(d, g, xd[lo:hi])
	case OpReLU:
		v := xd[lo:hi]
		for i := range d {
			if v[i] > 0 {
				d[i] += g[i]
			}
		}
	case OpSiLU:
		v := xd[lo:hi]
		for i := range d {
			s := sigmoid(v[i])
			d[i] += g[i] * s * (1 + v[i]*(1-s))
		}
	case OpSigmoid:
		w := yd[lo:hi]
		for i := range d {
			d[i] += g[i] * w[i] * (1 - w[i])
		}
	case OpTanh:
		w := yd[lo:hi]
		for i := range d {
			d[i] += g[i] * (1 - w[i]*w[i])
		}
	case OpExp:
		simd.MulAdd(d, g, yd[lo:hi])
	default:
		panic("tensor: unknown " + op.String())
	}
}

// Scale implements ElementwiseKernels.
func (c *CPU) Scale(out, x *Tensor, alpha float32) {
	od, xd := out.data, x.data
	if c.serial(len(xd), elemGrain) { // inline: no closure to allocate
		simd.Scale(od, alpha, xd)
		return
	}
	c.For(len(xd), elemGrain, func(lo, hi int) { simd.Scale(od[lo:hi], alpha, xd[lo:hi]) })
}

// Axpy implements ElementwiseKernels.
func (c *CPU) Axpy(alpha float32, x, y *Tensor) {
	xd, yd := x.data, y.data
	if len(xd) != len(yd) {
		panic(&ShapeError{Op: "Axpy", Shapes: [][]int{x.shape, y.shape}, Msg: "element counts differ"})
	}
	if c.serial(len(xd), elemGrain) { // inline: no closure to allocate
		simd.Axpy(alpha, xd, yd)
		return
	}
	c.For(len(xd), elemGrain, func(lo, hi int) { simd.Axpy(alpha, xd[lo:hi], yd[lo:hi]) })
}

// Permute implements ElementwiseKernels.
func (c *CPU) Permute(out, x *Tensor, perm []int, accumulate bool) {
	rank := len(x.shape)
	if rank == 0 || len(x.data) == 0 {
		return
	}
	xStride := make([]int, rank)
	s := 1
	for i := rank - 1; i >= 0; i-- {
		xStride[i] = s
		s *= x.shape[i]
	}
	// Walk out row by row (its last axis); srcStride[k] is how far x moves when out's
	// axis k advances by one.
	srcStride := make([]int, rank)
	for k, p := range perm {
		srcStride[k] = xStride[p]
	}
	last := out.shape[rank-1]
	step := srcStride[rank-1]
	rows := len(out.data) / last
	od, xd := out.data, x.data
	c.For(rows, rowGrainFor(last), func(lo, hi int) {
		idx := make([]int, rank-1)
		// Decompose the first row's index once; later rows advance it like an odometer.
		r := lo
		src := 0
		for k := rank - 2; k >= 0; k-- {
			idx[k] = r % out.shape[k]
			r /= out.shape[k]
			src += idx[k] * srcStride[k]
		}
		for row := lo; row < hi; row++ {
			o := od[row*last : (row+1)*last]
			switch {
			case step == 1 && accumulate:
				simd.Add(o, o, xd[src:src+last])
			case step == 1:
				copy(o, xd[src:src+last])
			case accumulate:
				for j, p := 0, src; j < last; j, p = j+1, p+step {
					o[j] += xd[p]
				}
			default:
				for j, p := 0, src; j < last; j, p = j+1, p+step {
					o[j] = xd[p]
				}
			}
			for k := rank - 2; k >= 0; k-- {
				idx[k]++
				src += srcStride[k]
				if idx[k] < out.shape[k] {
					break
				}
				src -= idx[k] * srcStride[k]
				idx[k] = 0
			}
		}
	})
}
