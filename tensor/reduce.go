package tensor

import (
	"fmt"

	"github.com/hungry-ssm/hungry/tensor/internal/simd"
)

// ReduceKernels sum over axes and spread gradients back over them.
type ReduceKernels interface {
	// SumAxis computes out = alpha·Σ over axis of x (or adds it to out, with accumulate).
	// out holds x's elements with that axis removed (any shape of that size; [1] for a
	// full sum of a rank-1 x).
	SumAxis(out, x *Tensor, axis int, alpha float32, accumulate bool)
	// BroadcastAxis accumulates dx += alpha·dout repeated along dx's axis: the gradient of
	// SumAxis. dout holds dx's elements with that axis removed.
	BroadcastAxis(dx, dout *Tensor, axis int, alpha float32)
}

// AxisSplit views shape as (outer, n, inner) around axis (negative counts from the end)
// and panics with a *ShapeError when there is no such axis.
func AxisSplit(op string, shape []int, axis int) (outer, n, inner, ax int) {
	ax = axis
	if ax < 0 {
		ax += len(shape)
	}
	if ax < 0 || ax >= len(shape) {
		panic(&ShapeError{Op: op, Shapes: [][]int{shape}, Msg: fmt.Sprintf("no axis %d", axis)})
	}
	return numel(shape[:ax]), shape[ax], numel(shape[ax+1:]), ax
}

// sumChunk is the length of the float32 partial sums that a long full reduction adds in
// float64; it bounds the float32 error to that of a 4096-term sum however long the input.
const sumChunk = 4096

// sumF64 returns Σ x, float32 partial sums of sumChunk elements added in float64.
func sumF64(x []float32) float64 {
	s := 0.0
	for lo := 0; lo < len(x); lo += sumChunk {
		s += float64(simd.Sum(x[lo:min(lo+sumChunk, len(x))]))
	}
	return s
}

// dotF64 returns Σ x[i]·y[i] with the accumulation of sumF64.
func dotF64(x, y []float32) float64 {
	s := 0.0
	for lo := 0; lo < len(x); lo += sumChunk {
		hi := min(lo+sumChunk, len(x))
		s += float64(simd.Dot(x[lo:hi], y[lo:hi]))
	}
	return s
}

// SumAxis implements ReduceKernels.
func (c *CPU) SumAxis(out, x *Tensor, axis int, alpha float32, accumulate bool) {
	outer, n, inner, _ := AxisSplit("SumAxis", x.shape, axis)
	if len(out.data) != outer*inner {
		panic(&ShapeError{Op: "SumAxis", Shapes: [][]int{x.shape, out.shape}, Msg: fmt.Sprintf("result needs %d elements", outer*inner)})
	}
	od, xd := out.data, x.data
	store := func(i int, s float64) {
		v := float32(float64(alpha) * s)
		if accumulate {
			od[i] += v
		} else {
			od[i] = v
		}
	}
	switch {
	case inner == 1 && outer == 1:
		// One long sum: chunks in parallel, added in chunk order so the result does not
		// depend on the number of workers.
		parts := c.f64((n + sumChunk - 1) / sumChunk)
		defer c.putF64(parts)
		c.For(len(parts), rowGrainFor(sumChunk), func(lo, hi int) {
			for p := lo; p < hi; p++ {
				parts[p] = float64(simd.Sum(xd[p*sumChunk : min((p+1)*sumChunk, n)]))
			}
		})
		s := 0.0
		for _, p := range parts {
			s += p
		}
		store(0, s)
	case inner == 1:
		c.For(outer, rowGrainFor(n), func(lo, hi int) {
			for o := lo; o < hi; o++ {
				store(o, sumF64(xd[o*n:(o+1)*n]))
			}
		})
	default:
		// Each output row sums n rows of x; split the outputs (not the summed axis)
		// between workers so every sum runs in one fixed order.
		c.For(outer*inner, rowGrainFor(n), func(lo, hi int) {
			acc := c.f32(min(hi-lo, inner))
			defer c.putF32(acc)
			for s := lo; s < hi; {
				o, j := s/inner, s%inner
				l := min(hi-s, inner-j)
				a := acc[:l]
				clear(a)
				for r := 0; r < n; r++ {
					off := (o*n+r)*inner + j
					simd.Add(a, a, xd[off:off+l])
				}
				d := od[s : s+l]
				switch {
				case accumulate:
					simd.Axpy(alpha, a, d)
				default:
					simd.Scale(d, alpha, a)
				}
				s += l
			}
		})
	}
}

// BroadcastAxis implements ReduceKernels.
func (c *CPU) BroadcastAxis(dx, dout *Tensor, axis int, alpha float32) {
	outer, n, inner, _ := AxisSplit("BroadcastAxis", dx.shape, axis)
	if len(dout.data) != outer*inner {
		panic(&ShapeError{Op: "BroadcastAxis", Shapes: [][]int{dx.shape, dout.shape}, Msg: fmt.Sprintf("gradient needs %d elements", outer*inner)})
	}
	dd, gd := dx.data, dout.data
	c.For(outer*n, rowGrainFor(inner), func(lo, hi int) {
		for row := lo; row < hi; row++ {
			o := row / n
			d := dd[row*inner : (row+1)*inner]
			if inner == 1 {
				d[0] += alpha * gd[o]
				continue
			}
			simd.Axpy(alpha, gd[o*inner:(o+1)*inner], d)
		}
	})
}
