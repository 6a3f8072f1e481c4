package kernels_test

import (
	"math"
	"testing"
)

var rowShapes = [][2]int{{1, 1}, {3, 7}, {2, 31}, {5, 33}, {4, 100}, {2, 1000}, {1, 1027}}

func rowLaunch(rows int) ([3]int, [3]int) { return [3]int{rows, 1, 1}, [3]int{256, 1, 1} }

func TestSumLastAxis(t *testing.T) {
	for _, s := range rowShapes {
		rows, cols := s[0], s[1]
		e := newEnv(t, "reduce")
		x := e.rand(rows*cols, -1, 1)
		out := e.out(rows)
		g, b := rowLaunch(rows)
		e.launch("sum_lastaxis_f32", g, b, 0, out, e.f32(x), rows, cols)
		want, abs := make([]float64, rows), make([]float64, rows)
		for r := 0; r < rows; r++ {
			for j := 0; j < cols; j++ {
				want[r] += float64(x[r*cols+j])
				abs[r] += math.Abs(float64(x[r*cols+j]))
			}
		}
		// A sum of mixed signs is conditioned by sum |x|: the error bound scales with it.
		check(t, name("sum %dx%d", rows, cols), e.read(out, rows), want, rtolF32, func(i int) float64 { return abs[i] })
	}
}

func softmaxRef(x []float32, rows, cols int) (sm, lsm []float64) {
	sm, lsm = make([]float64, rows*cols), make([]float64, rows*cols)
	for r := 0; r < rows; r++ {
		row := x[r*cols : (r+1)*cols]
		mx := math.Inf(-1)
		for _, v := range row {
			mx = math.Max(mx, float64(v))
		}
		s := 0.0
		for _, v := range row {
			s += math.Exp(float64(v) - mx)
		}
		for j, v := range row {
			sm[r*cols+j] = math.Exp(float64(v)-mx) / s
			lsm[r*cols+j] = float64(v) - mx - math.Log(s)
		}
	}
	return sm, lsm
}

func TestSoftmaxAndLogSoftmax(t *testing.T) {
	for _, s := range rowShapes {
		rows, cols := s[0], s[1]
		n := rows * cols
		e := newEnv(t, "reduce")
		x := e.rand(n, -4, 4)
		px := e.f32(x)
		g, b := rowLaunch(rows)
		sm, lsm := softmaxRef(x, rows, cols)
		y := e.out(n)
		e.launch("softmax_fwd_f32", g, b, 0, y, px, rows, cols)
		check(t, name("softmax %dx%d", rows, cols), e.read(y, n), sm, rtolF32, nil)
		ly := e.out(n)
		e.launch("logsoftmax_fwd_f32", g, b, 0, ly, px, rows, cols)
		// log-softmax is x - max - log(sum): an absolute error of a few ulps of those O(|x|)
		// terms, hence the scale of 4 (the input range).
		check(t, name("logsoftmax %dx%d", rows, cols), e.read(ly, n), lsm, rtolF32, func(int) float64 { return 4 })

		dy := e.rand(n, -1, 1)
		pdy := e.f32(dy)
		ysm, ylsm := e.f32(f32s(sm)), e.f32(f32s(lsm))
		dx := e.out(n)
		e.launch("softmax_bwd_f32", g, b, 0, dx, ysm, pdy, rows, cols)
		wsm, wlsm := make([]float64, n), make([]float64, n)
		scale := make([]float64, n)
		for r := 0; r < rows; r++ {
			dot, sum := 0.0, 0.0
			for j := 0; j < cols; j++ {
				i := r*cols + j
				dot += float64(dy[i]) * float64(float32(sm[i]))
				sum += float64(dy[i])
			}
			for j := 0; j < cols; j++ {
				i := r*cols + j
				yv := float64(float32(sm[i]))
				wsm[i] = yv * (float64(dy[i]) - dot)
				wlsm[i] = float64(dy[i]) - math.Exp(float64(float32(lsm[i])))*sum
				scale[i] = yv*(math.Abs(float64(dy[i]))+math.Abs(dot)) + math.Abs(float64(dy[i])) + math.Abs(sum)*yv
			}
		}
		// Both gradients subtract O(|dy|) terms: errors are relative to their magnitude.
		check(t, name("softmax_bwd %dx%d", rows, cols), e.read(dx, n), wsm, rtolF32, func(i int) float64 { return scale[i] })
		dx2 := e.out(n)
		e.launch("logsoftmax_bwd_f32", g, b, 0, dx2, ylsm, pdy, rows, cols)
		check(t, name("logsoftmax_bwd %dx%d", rows, cols), e.read(dx2, n), wlsm, rtolF32, func(i int) float64 { return scale[i] })
	}
}

func f32s(v []float64) []float32 {
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(x)
	}
	return out
}

func TestLayerNorm(t *testing.T) {
	for _, s := range rowShapes {
		rows, cols := s[0], s[1]
		n := rows * cols
		e := newEnv(t, "reduce")
		x, gamma, beta := e.rand(n, -2, 3), e.rand(cols, 0.5, 1.5), e.rand(cols, -0.5, 0.5)
		const eps = 1e-5
		g, b := rowLaunch(rows)
		y, mean, rstd := e.out(n), e.out(rows), e.out(rows)
		px, pg := e.f32(x), e.f32(gamma)
		e.launch("layernorm_fwd_f32", g, b, 0, y, mean, rstd, px, pg, e.f32(beta), rows, cols, float32(eps))
		wy, wmean, wrstd := make([]float64, n), make([]float64, rows), make([]float64, rows)
		dy := e.rand(n, -1, 1)
		wdx, wdg, wdb := make([]float64, n), make([]float64, cols), make([]float64, cols)
		dxScale := make([]float64, n)
		for r := 0; r < rows; r++ {
			mu, v := 0.0, 0.0
			for j := 0; j < cols; j++ {
				mu += float64(x[r*cols+j])
			}
			mu /= float64(cols)
			for j := 0; j < cols; j++ {
				d := float64(x[r*cols+j]) - mu
				v += d * d
			}
			rs := 1 / math.Sqrt(v/float64(cols)+eps)
			wmean[r], wrstd[r] = mu, rs
			s1, s2 := 0.0, 0.0
			for j := 0; j < cols; j++ {
				i := r*cols + j
				xh := (float64(x[i]) - mu) * rs
				wy[i] = xh*float64(gamma[j]) + float64(beta[j])
				gg := float64(dy[i]) * float64(gamma[j])
				s1 += gg
				s2 += gg * xh
				wdg[j] += float64(dy[i]) * xh
				wdb[j] += float64(dy[i])
			}
			for j := 0; j < cols; j++ {
				i := r*cols + j
				xh := (float64(x[i]) - mu) * rs
				gg := float64(dy[i]) * float64(gamma[j])
				wdx[i] = rs * (gg - s1/float64(cols) - xh*s2/float64(cols))
				dxScale[i] = rs * (math.Abs(gg) + math.Abs(s1/float64(cols)) + math.Abs(xh*s2/float64(cols)))
			}
		}
		// y = x̂·γ + β adds terms of either sign: error relative to |x̂γ| + |β| (≤ ~4).
		check(t, name("layernorm y %dx%d", rows, cols), e.read(y, n), wy, rtolF32, func(int) float64 { return 4 })
		check(t, name("layernorm mean %dx%d", rows, cols), e.read(mean, rows), wmean, rtolF32, func(int) float64 { return 2 })
		check(t, name("layernorm rstd %dx%d", rows, cols), e.read(rstd, rows), wrstd, rtolF32, nil)

		dx, dg, db := e.out(n), e.f32(make([]float32, cols)), e.f32(make([]float32, cols))
		e.launch("layernorm_bwd_f32", g, b, 0, dx, dg, db, e.f32(dy), px, mean, rstd, pg, rows, cols)
		check(t, name("layernorm dx %dx%d", rows, cols), e.read(dx, n), wdx, rtolF32, func(i int) float64 { return dxScale[i] })
		// dγ, dβ sum rows·(values ≤ ~3): relative to the number of rows summed.
		check(t, name("layernorm dgamma %dx%d", rows, cols), e.read(dg, cols), wdg, rtolF32, func(int) float64 { return 3 * float64(rows) })
		check(t, name("layernorm dbeta %dx%d", rows, cols), e.read(db, cols), wdb, rtolF32, func(int) float64 { return float64(rows) })
	}
}

func TestCrossEntropy(t *testing.T) {
	for _, s := range rowShapes {
		rows, cols := s[0]+2, s[1] // two extra rows: one ignored, one ordinary
		n := rows * cols
		e := newEnv(t, "reduce")
		x := e.rand(n, -4, 4)
		targets := make([]int32, rows)
		for r := range targets {
			targets[r] = int32(e.rng.IntN(cols))
		}
		targets[1] = -100
		px, pt := e.f32(x), e.i32(targets)
		g, b := rowLaunch(rows)
		loss, lse := e.out(rows), e.out(rows)
		e.launch("cross_entropy_fwd_f32", g, b, 0, loss, lse, px, pt, rows, cols)
		_, lsm := softmaxRef(x, rows, cols)
		wl, wlse := make([]float64, rows), make([]float64, rows)
		for r := range wl {
			wlse[r] = float64(x[r*cols]) - lsm[r*cols]
			if targets[r] != -100 {
				wl[r] = -lsm[r*cols+int(targets[r])]
			}
		}
		// Differences of O(max|x| + log cols) terms: absolute error scaled by 4 + log(cols).
		sc := func(int) float64 { return 4 + math.Log(float64(cols)) }
		check(t, name("ce loss %dx%d", rows, cols), e.read(loss, rows), wl, rtolF32, sc)
		check(t, name("ce lse %dx%d", rows, cols), e.read(lse, rows), wlse, rtolF32, sc)

		dloss := e.rand(rows, 0.5, 1.5)
		dx := e.out(n)
		e.launch("cross_entropy_bwd_f32", g, b, 0, dx, px, lse, pt, e.f32(dloss), rows, cols)
		want := make([]float64, n)
		for r := 0; r < rows; r++ {
			if targets[r] == -100 {
				continue
			}
			for j := 0; j < cols; j++ {
				p := math.Exp(lsm[r*cols+j])
				if j == int(targets[r]) {
					p--
				}
				want[r*cols+j] = p * float64(dloss[r])
			}
		}
		// p - 1 at the target cancels; the scale is the |dloss| the difference is multiplied by.
		check(t, name("ce dlogits %dx%d", rows, cols), e.read(dx, n), want, rtolF32, func(i int) float64 { return 1.5 })
	}
}

func TestCrossEntropyBadTargetGivesNaN(t *testing.T) {
	e := newEnv(t, "reduce")
	x := e.rand(2*5, -1, 1)
	loss, lse := e.out(2), e.out(2)
	e.launch("cross_entropy_fwd_f32", [3]int{2, 1, 1}, [3]int{256, 1, 1}, 0, loss, lse, e.f32(x), e.i32([]int32{5, -3}), 2, 5)
	for i, v := range e.read(loss, 2) {
		if !math.IsNaN(float64(v)) {
			t.Errorf("loss[%d] = %g for an out-of-range target, want NaN", i, v)
		}
	}
}
