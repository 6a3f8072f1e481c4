package kernels_test

import (
	"github.com/hungry-ssm/hungry/ptx/kernels"
	"math"
	"testing"

	"github.com/hungry-ssm/hungry/ptx/ptxsim"
	"github.com/hungry-ssm/hungry/tensor"
)

// The kernels of the GPU device must reproduce tensor's CPU kernels, so these tests run
// the CPU device on the same inputs and compare. Its results are float32 with their own
// rounding, a few ulps of the same terms as the kernel's: the tolerances below, written
// against the magnitude of the terms, cover both.

// cpuRef is the reference device: one worker keeps the CPU's sums in one fixed order.
var cpuRef = tensor.NewCPU(1)

func ten(data []float32, shape ...int) *tensor.Tensor {
	return cpuRef.FromHost(append([]float32(nil), data...), shape...)
}

func f64s(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

// randAway returns n values with magnitude in [lo, hi) and random signs: divisors.
func (e *env) randAway(n int, lo, hi float64) []float32 {
	v := e.rand(n, lo, hi)
	for i := range v {
		if e.rng.IntN(2) == 0 {
			v[i] = -v[i]
		}
	}
	return v
}

// repeatShapes are (reps, nb): b of nb elements repeats reps times over a. nb of 1 is a
// scalar, nb not a multiple of 4 moves i mod nb off the vector lanes, 4 keeps it on them.
var repeatShapes = [][2]int{{1, 1}, {7, 1}, {1, 7}, {3, 31}, {2, 33}, {5, 100}, {1, 1000}, {3, 4}, {10, 100}, {1, 1027}}

var binaryOpsByName = []struct {
	name            string
	op              tensor.BinaryOp
	fwd, bwdA, bwdB *kernels.Info
}{
	{"add", tensor.OpAdd, kernels.BinaryAddF32Kernel, kernels.BinaryBwdAAddF32Kernel, kernels.BinaryBwdBAddF32Kernel},
	{"sub", tensor.OpSub, kernels.BinarySubF32Kernel, kernels.BinaryBwdASubF32Kernel, kernels.BinaryBwdBSubF32Kernel},
	{"mul", tensor.OpMul, kernels.BinaryMulF32Kernel, kernels.BinaryBwdAMulF32Kernel, kernels.BinaryBwdBMulF32Kernel},
	{"div", tensor.OpDiv, kernels.BinaryDivF32Kernel, kernels.BinaryBwdADivF32Kernel, kernels.BinaryBwdBDivF32Kernel},
}

func TestBinaryBroadcast(t *testing.T) {
	for _, s := range repeatShapes {
		reps, nb := s[0], s[1]
		n := reps * nb
		e := newEnv(t, "broadcast")
		a, b := e.rand(n, -2, 2), e.randAway(nb, 0.5, 2)
		pa, pb := e.f32(a), e.f32(b)
		grid, block := [3]int{ceilDiv(n, 1024), 1, 1}, [3]int{256, 1, 1}
		for _, o := range binaryOpsByName {
			out := e.out(n)
			e.launch(o.fwd, grid, block, 0, out, pa, pb, n, nb)
			want := cpuRef.Zeros(reps, nb)
			cpuRef.Binary(o.op, want, ten(a, reps, nb), ten(b, nb))
			// add and sub may cancel: relative to |a| + |b|; mul and div round once.
			check(t, name("%s %v", o.name, s), e.read(out, n), f64s(want.Data()), rtolF32,
				func(i int) float64 { return math.Abs(float64(a[i])) + math.Abs(float64(b[i%nb])) })
		}
		// In place, as the interface allows: out is a.
		inPlace := e.f32(a)
		e.launch(kernels.BinaryMulF32Kernel, grid, block, 0, inPlace, inPlace, pb, n, nb)
		want := cpuRef.Zeros(reps, nb)
		cpuRef.Binary(tensor.OpMul, want, ten(a, reps, nb), ten(b, nb))
		check(t, name("mul in place %v", s), e.read(inPlace, n), f64s(want.Data()), rtolF32, nil)
	}
}

func TestBinaryBackward(t *testing.T) {
	for _, s := range repeatShapes {
		reps, nb := s[0], s[1]
		n := reps * nb
		e := newEnv(t, "broadcast")
		a, b, g := e.rand(n, -2, 2), e.randAway(nb, 0.5, 2), e.rand(n, -1, 1)
		da0, db0 := e.rand(n, -1, 1), e.rand(nb, -1, 1)
		pa, pb, pg := e.f32(a), e.f32(b), e.f32(g)
		grid, block := [3]int{ceilDiv(n, 1024), 1, 1}, [3]int{256, 1, 1}
		for _, o := range binaryOpsByName {
			wantA, wantB := ten(da0, reps, nb), ten(db0, nb)
			cpuRef.BinaryBackward(o.op, wantA, wantB, ten(g, reps, nb), ten(a, reps, nb), ten(b, nb))

			da := e.f32(da0)
			e.launch(o.bwdA, grid, block, 0, da, pg, pb, n, nb)
			// da0 + term: cancellation relative to both.
			check(t, name("%s da %v", o.name, s), e.read(da, n), f64s(wantA.Data()), rtolF32, func(i int) float64 {
				return math.Abs(float64(da0[i])) + math.Abs(float64(g[i]))/math.Min(1, math.Abs(float64(b[i%nb])))
			})

			// The column sums: their error is relative to the sum of the terms' magnitudes.
			scale := make([]float64, nb)
			for j := range scale {
				scale[j] = math.Abs(float64(db0[j]))
				for r := 0; r < reps; r++ {
					term := math.Abs(float64(g[r*nb+j]))
					if o.op == tensor.OpMul || o.op == tensor.OpDiv {
						term *= math.Abs(float64(a[r*nb+j]))
					}
					if o.op == tensor.OpDiv {
						term /= float64(b[j]) * float64(b[j])
					}
					scale[j] += term
				}
			}
			kname := o.bwdB
			db := e.f32(db0)
			e.launch(kname, [3]int{ceilDiv(nb, 256), 1, 1}, block, 0, db, pg, pa, pb, reps, nb, reps, 1)
			check(t, name("%s db %v", o.name, s), e.read(db, nb), f64s(wantB.Data()), rtolF32, func(j int) float64 { return scale[j] })

			// Split into chunks of 3 rows: partial sums into a scratch, then sum_axis_f32.
			chunks := ceilDiv(reps, 3)
			scratch := e.out(chunks * nb)
			e.launch(kname, [3]int{ceilDiv(nb, 256), chunks, 1}, block, 0, scratch, pg, pa, pb, reps, nb, 3, 0)
			db = e.f32(db0)
			e.launch(kernels.SumAxisF32Kernel, [3]int{ceilDiv(nb, 256), 1, 1}, block, 0, db, scratch, 1, chunks, nb, chunks, float32(1), 1)
			check(t, name("%s db chunked %v", o.name, s), e.read(db, nb), f64s(wantB.Data()), rtolF32, func(j int) float64 { return scale[j] })
		}
	}
}

// axisShapes are (outer, n, inner) views around the reduced axis.
var axisShapes = [][3]int{{1, 1, 1}, {1, 7, 1}, {3, 31, 1}, {1, 33, 7}, {2, 100, 3}, {7, 3, 33}, {1, 1000, 1}, {2, 5, 100}, {1, 2, 1027}}

func TestSumAxisAndBroadcastAxis(t *testing.T) {
	const alpha = float32(0.7)
	for _, s := range axisShapes {
		outer, n, inner := s[0], s[1], s[2]
		e := newEnv(t, "broadcast")
		x, out0 := e.rand(outer*n*inner, -1, 1), e.rand(outer*inner, -1, 1)
		px := e.f32(x)
		abs := make([]float64, outer*inner)
		for o := 0; o < outer; o++ {
			for r := 0; r < n; r++ {
				for j := 0; j < inner; j++ {
					abs[o*inner+j] += math.Abs(float64(x[(o*n+r)*inner+j]))
				}
			}
		}
		block := [3]int{256, 1, 1}
		for _, acc := range []bool{false, true} {
			want := ten(out0, outer, inner)
			cpuRef.SumAxis(want, ten(x, outer, n, inner), 1, alpha, acc)
			accArg := 0
			if acc {
				accArg = 1
			}
			sc := func(i int) float64 { return float64(alpha)*abs[i] + math.Abs(float64(out0[i])) }
			start := func() ptxsim.Ptr {
				if acc {
					return e.f32(out0)
				}
				return e.out(outer * inner)
			}
			out := start()
			e.launch(kernels.SumAxisF32Kernel, [3]int{ceilDiv(outer*inner, 256), 1, 1}, block, 0, out, px, outer, n, inner, n, alpha, accArg)
			check(t, name("sum_axis %v acc=%v", s, acc), e.read(out, outer*inner), f64s(want.Data()), rtolF32, sc)

			chunks := ceilDiv(n, 4)
			scratch := e.out(chunks * outer * inner)
			e.launch(kernels.SumAxisF32Kernel, [3]int{ceilDiv(outer*inner, 256), chunks, 1}, block, 0, scratch, px, outer, n, inner, 4, float32(1), 0)
			out = start()
			e.launch(kernels.SumAxisF32Kernel, [3]int{ceilDiv(outer*inner, 256), 1, 1}, block, 0, out, scratch, 1, chunks, outer*inner, chunks, alpha, accArg)
			check(t, name("sum_axis two-stage %v acc=%v", s, acc), e.read(out, outer*inner), f64s(want.Data()), rtolF32, sc)

			if inner == 1 {
				out = start()
				e.launch(kernels.SumRowsF32Kernel, [3]int{outer, 1, 1}, block, 0, out, px, outer, n, alpha, accArg)
				check(t, name("sum_rows %v acc=%v", s, acc), e.read(out, outer), f64s(want.Data()), rtolF32, sc)
			}
		}

		dx0, g := e.rand(outer*n*inner, -1, 1), e.rand(outer*inner, -1, 1)
		want := ten(dx0, outer, n, inner)
		cpuRef.BroadcastAxis(want, ten(g, outer, inner), 1, alpha)
		dx := e.f32(dx0)
		e.launch(kernels.BroadcastAxisF32Kernel, [3]int{ceilDiv(outer*n*inner, 256), 1, 1}, block, 0, dx, e.f32(g), outer, n, inner, alpha)
		check(t, name("broadcast_axis %v", s), e.read(dx, outer*n*inner), f64s(want.Data()), rtolF32, func(i int) float64 {
			return math.Abs(float64(dx0[i])) + math.Abs(float64(alpha*g[(i/(n*inner))*inner+i%inner]))
		})
	}
}

// permuteArgs pads a rank-r permutation to the kernel's 6 axes: out's dims, then x's
// strides along the axes that become them.
func permuteArgs(shape, perm []int) []any {
	xStride := make([]int, len(shape))
	s := 1
	for i := len(shape) - 1; i >= 0; i-- {
		xStride[i] = s
		s *= shape[i]
	}
	dims, strides := make([]any, 6), make([]any, 6)
	pad := 6 - len(shape)
	for a := 0; a < 6; a++ {
		dims[a], strides[a] = 1, 0
		if a >= pad {
			dims[a], strides[a] = shape[perm[a-pad]], xStride[perm[a-pad]]
		}
	}
	return append(dims, strides...)
}

func TestPermute(t *testing.T) {
	cases := []struct{ shape, perm []int }{
		{[]int{1}, []int{0}},
		{[]int{33}, []int{0}},
		{[]int{31, 33}, []int{1, 0}},
		{[]int{7, 5, 3}, []int{2, 0, 1}},
		{[]int{2, 7, 3}, []int{0, 2, 1}},
		{[]int{2, 3, 4, 5}, []int{3, 1, 0, 2}},
		{[]int{1, 100, 1, 10}, []int{2, 3, 0, 1}},
		{[]int{2, 1, 3, 2, 2, 3}, []int{5, 3, 1, 0, 4, 2}},
	}
	for _, c := range cases {
		e := newEnv(t, "broadcast")
		n := tensor.Numel(c.shape)
		x := e.rand(n, -1, 1)
		outShape := tensor.PermuteShape(c.shape, c.perm)
		for _, acc := range []bool{false, true} {
			out0 := e.rand(n, -1, 1)
			want := ten(out0, outShape...)
			cpuRef.Permute(want, ten(x, c.shape...), c.perm, acc)
			accArg := 0
			out := e.out(n)
			if acc {
				accArg = 1
				out = e.f32(out0)
			}
			args := append([]any{out, e.f32(x), n}, permuteArgs(c.shape, c.perm)...)
			e.launch(kernels.PermuteF32Kernel, [3]int{ceilDiv(n, 256), 1, 1}, [3]int{256, 1, 1}, 0, append(args, accArg)...)
			// A copy is exact, and so is one float32 add done the same way.
			check(t, name("permute %v %v acc=%v", c.shape, c.perm, acc), e.read(out, n), f64s(want.Data()), 0, nil)
		}
	}
}

func TestTranspose(t *testing.T) {
	for _, s := range [][3]int{{1, 1, 1}, {2, 7, 31}, {1, 33, 100}, {3, 64, 32}, {1, 100, 7}} {
		batch, R, C := s[0], s[1], s[2]
		n := batch * R * C
		e := newEnv(t, "broadcast")
		x := e.rand(n, -1, 1)
		for _, acc := range []bool{false, true} {
			out0 := e.rand(n, -1, 1)
			want := ten(out0, batch, C, R)
			cpuRef.Permute(want, ten(x, batch, R, C), []int{0, 2, 1}, acc)
			out, accArg := e.out(n), 0
			if acc {
				out, accArg = e.f32(out0), 1
			}
			e.launch(kernels.TransposeF32Kernel, [3]int{ceilDiv(C, 32), ceilDiv(R, 32), batch}, [3]int{32, 8, 1}, 0, out, e.f32(x), batch, R, C, accArg)
			// A copy, or one float32 add as the CPU does it: exact.
			check(t, name("transpose %v acc=%v", s, acc), e.read(out, n), f64s(want.Data()), 0, nil)
		}
	}
}
