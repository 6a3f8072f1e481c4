package kernels_test

import (
	"github.com/hungry-ssm/hungry/ptx/kernels"
	"math"
	"testing"

	"github.com/hungry-ssm/hungry/tensor"
)

func TestSoftmaxCausalAndAccumulatingBackward(t *testing.T) {
	for _, s := range [][2]int{{1, 1}, {2, 7}, {1, 31}, {2, 33}, {1, 100}} {
		batch, L := s[0], s[1]
		rows, n := batch*L, batch*L*L
		e := newEnv(t, "reduce")
		x, dy, dx0 := e.rand(n, -4, 4), e.rand(n, -1, 1), e.rand(n, -1, 1)
		px, pdy := e.f32(x), e.f32(dy)
		g, b := rowLaunch(rows)

		y := cpuRef.Zeros(batch, L, L)
		cpuRef.Softmax(y, ten(x, batch, L, L), tensor.SoftmaxCausal)
		out := e.out(n)
		e.launch(kernels.SoftmaxCausalFwdF32Kernel, g, b, 0, out, px, rows, L)
		check(t, name("causal softmax %v", s), e.read(out, n), f64s(y.Data()), rtolF32, nil)
		inPlace := e.f32(x)
		e.launch(kernels.SoftmaxCausalFwdF32Kernel, g, b, 0, inPlace, inPlace, rows, L)
		check(t, name("causal softmax in place %v", s), e.read(inPlace, n), f64s(y.Data()), rtolF32, nil)

		// dx0 + y·(dy − Σdy·y): relative to the magnitudes of those terms.
		bwdScale := func(yv []float32) func(int) float64 {
			return func(i int) float64 {
				return math.Abs(float64(dx0[i])) + math.Abs(float64(yv[i]))*(math.Abs(float64(dy[i]))+1)
			}
		}
		for _, mode := range []tensor.SoftmaxMode{tensor.SoftmaxCausal, tensor.SoftmaxPlain} {
			yv := y
			causal := 1
			if mode == tensor.SoftmaxPlain {
				yv = cpuRef.Zeros(batch, L, L)
				cpuRef.Softmax(yv, ten(x, batch, L, L), mode)
				causal = 0
			}
			want := ten(dx0, batch, L, L)
			cpuRef.SoftmaxBackward(want, ten(dy, batch, L, L), yv, mode)
			dx := e.f32(dx0)
			e.launch(kernels.SoftmaxBwdAccF32Kernel, g, b, 0, dx, e.f32(yv.Data()), pdy, rows, L, causal)
			check(t, name("softmax bwd causal=%d %v", causal, s), e.read(dx, n), f64s(want.Data()), rtolF32, bwdScale(yv.Data()))
		}

		ly := cpuRef.Zeros(batch, L, L)
		cpuRef.Softmax(ly, ten(x, batch, L, L), tensor.SoftmaxLog)
		want := ten(dx0, batch, L, L)
		cpuRef.SoftmaxBackward(want, ten(dy, batch, L, L), ly, tensor.SoftmaxLog)
		dx := e.f32(dx0)
		e.launch(kernels.LogsoftmaxBwdAccF32Kernel, g, b, 0, dx, e.f32(ly.Data()), pdy, rows, L)
		// dx0 + dy − p·Σdy: relative to |dx0| + |dy| + p·Σ|dy| (≤ L).
		check(t, name("logsoftmax bwd %v", s), e.read(dx, n), f64s(want.Data()), rtolF32, func(i int) float64 {
			return math.Abs(float64(dx0[i])) + math.Abs(float64(dy[i])) + math.Exp(float64(ly.Data()[i]))*float64(L)
		})
	}
}

func TestCrossEntropyIgnoreAndAccumulate(t *testing.T) {
	const ignore = -1
	for _, s := range rowShapes {
		rows, cols := s[0]+2, s[1]
		n := rows * cols
		e := newEnv(t, "reduce")
		x := e.rand(n, -4, 4)
		targets := make([]int32, rows)
		for r := range targets {
			targets[r] = int32(e.rng.IntN(cols))
		}
		targets[1] = ignore
		px, pt := e.f32(x), e.i32(targets)
		g, b := rowLaunch(rows)
		wl, wlse := cpuRef.Zeros(rows), cpuRef.Zeros(rows)
		cpuRef.CrossEntropy(wl, wlse, ten(x, rows, cols), targets, ignore)
		loss, lse := e.out(rows), e.out(rows)
		e.launch(kernels.CrossEntropyIgnoreFwdF32Kernel, g, b, 0, loss, lse, px, pt, rows, cols, ignore)
		// Differences of O(max|x| + log cols) terms.
		sc := func(int) float64 { return 4 + math.Log(float64(cols)) }
		check(t, name("ce loss %dx%d", rows, cols), e.read(loss, rows), f64s(wl.Data()), rtolF32, sc)
		check(t, name("ce lse %dx%d", rows, cols), e.read(lse, rows), f64s(wlse.Data()), rtolF32, sc)

		dloss, d0 := e.rand(rows, 0.5, 1.5), e.rand(n, -1, 1)
		want := ten(d0, rows, cols)
		cpuRef.CrossEntropyBackward(want, ten(dloss, rows), ten(x, rows, cols), wlse, targets, ignore)
		dx := e.f32(d0)
		e.launch(kernels.CrossEntropyBwdAccF32Kernel, g, b, 0, dx, px, lse, pt, e.f32(dloss), rows, cols, ignore)
		// d0 + g·(p − 1) cancels at the target: relative to |d0| + |g| (≤ 1.5).
		check(t, name("ce dlogits %dx%d", rows, cols), e.read(dx, n), f64s(want.Data()), rtolF32, func(i int) float64 {
			return math.Abs(float64(d0[i])) + 1.5
		})
	}
}

func TestLayerNormBackwardAccumulating(t *testing.T) {
	for _, s := range rowShapes {
		rows, cols := s[0], s[1]
		n := rows * cols
		e := newEnv(t, "reduce")
		x, w, bias := e.rand(n, -2, 3), e.rand(cols, 0.5, 1.5), e.rand(cols, -0.5, 0.5)
		dy, dx0, dw0, db0 := e.rand(n, -1, 1), e.rand(n, -1, 1), e.rand(cols, -1, 1), e.rand(cols, -1, 1)
		y, mean, rstd := cpuRef.Zeros(rows, cols), cpuRef.Zeros(rows), cpuRef.Zeros(rows)
		cpuRef.LayerNorm(y, mean, rstd, ten(x, rows, cols), ten(w, cols), ten(bias, cols), 1e-5)
		px, pdy, pm, pr := e.f32(x), e.f32(dy), e.f32(mean.Data()), e.f32(rstd.Data())
		g, b := rowLaunch(rows)
		for _, withW := range []bool{true, false} {
			var wt *tensor.Tensor
			pw := any(ptrNull)
			if withW {
				wt, pw = ten(w, cols), e.f32(w)
			}
			want := ten(dx0, rows, cols)
			cpuRef.LayerNormBackward(want, nil, nil, ten(dy, rows, cols), ten(x, rows, cols), wt, mean, rstd)
			dx := e.f32(dx0)
			e.launch(kernels.LayernormBwdDxAccF32Kernel, g, b, 0, dx, pdy, px, pm, pr, pw, rows, cols)
			rs := rstd.Data()
			// rstd·(g − mean g − x̂·mean(g x̂)) cancels: relative to those terms (|x̂| ≤ ~4, |g| ≤ 1.5).
			check(t, name("layernorm dx w=%v %dx%d", withW, rows, cols), e.read(dx, n), f64s(want.Data()), rtolF32, func(i int) float64 {
				return math.Abs(float64(dx0[i])) + float64(rs[i/cols])*12
			})
		}
		wdw, wdb := ten(dw0, cols), ten(db0, cols)
		cpuRef.LayerNormBackward(nil, wdw, wdb, ten(dy, rows, cols), ten(x, rows, cols), ten(w, cols), mean, rstd)
		// Column sums of rows terms of size ≤ ~4: relative to the number of rows.
		sc := func(j int) float64 { return 1 + 4*float64(rows) }
		dw, db := e.f32(dw0), e.f32(db0)
		e.launch(kernels.LayernormBwdDwF32Kernel, [3]int{ceilDiv(cols, 256), 1, 1}, b, 0, dw, db, pdy, px, pm, pr, rows, cols, rows, 1)
		check(t, name("layernorm dw %dx%d", rows, cols), e.read(dw, cols), f64s(wdw.Data()), rtolF32, sc)
		check(t, name("layernorm db %dx%d", rows, cols), e.read(db, cols), f64s(wdb.Data()), rtolF32, sc)

		chunks := ceilDiv(rows, 2)
		sw, sb := e.out(chunks*cols), e.out(chunks*cols)
		e.launch(kernels.LayernormBwdDwF32Kernel, [3]int{ceilDiv(cols, 256), chunks, 1}, b, 0, sw, sb, pdy, px, pm, pr, rows, cols, 2, 0)
		dw = e.f32(dw0)
		e.launch(kernels.LayernormBwdDwF32Kernel, [3]int{ceilDiv(cols, 256), 1, 1}, b, 0, ptrNull, ptrNull, pdy, px, pm, pr, rows, cols, rows, 1)
		e.launch(kernels.SumAxisF32Kernel, [3]int{ceilDiv(cols, 256), 1, 1}, b, 0, dw, sw, 1, chunks, cols, chunks, float32(1), 1)
		check(t, name("layernorm dw chunked %dx%d", rows, cols), e.read(dw, cols), f64s(wdw.Data()), rtolF32, sc)
		db = e.f32(db0)
		e.launch(kernels.SumAxisF32Kernel, [3]int{ceilDiv(cols, 256), 1, 1}, b, 0, db, sb, 1, chunks, cols, chunks, float32(1), 1)
		check(t, name("layernorm db chunked %dx%d", rows, cols), e.read(db, cols), f64s(wdb.Data()), rtolF32, sc)
	}
}
