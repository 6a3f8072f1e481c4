package kernels_test

import (
	"github.com/hungry-ssm/hungry/ptx/kernels"
	"math"
	"testing"
)

var rowShapes = [][2]int{{1, 1}, {3, 7}, {2, 31}, {5, 33}, {4, 100}, {2, 1000}, {1, 1027}}

func rowLaunch(rows int) ([3]int, [3]int) { return [3]int{rows, 1, 1}, [3]int{256, 1, 1} }

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
		e.launch(kernels.SoftmaxFwdF32Kernel, g, b, 0, y, px, rows, cols)
		check(t, name("softmax %dx%d", rows, cols), e.read(y, n), sm, rtolF32, nil)
		ly := e.out(n)
		e.launch(kernels.LogsoftmaxFwdF32Kernel, g, b, 0, ly, px, rows, cols)
		// log-softmax is x - max - log(sum): an absolute error of a few ulps of those O(|x|)
		// terms, hence the scale of 4 (the input range).
		check(t, name("logsoftmax %dx%d", rows, cols), e.read(ly, n), lsm, rtolF32, func(int) float64 { return 4 })

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
		e.launch(kernels.LayernormFwdF32Kernel, g, b, 0, y, mean, rstd, px, pg, e.f32(beta), rows, cols, float32(eps))
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

	}
}

func TestCrossEntropyBadTargetGivesNaN(t *testing.T) {
	e := newEnv(t, "reduce")
	x := e.rand(2*5, -1, 1)
	loss, lse := e.out(2), e.out(2)
	e.launch(kernels.CrossEntropyIgnoreFwdF32Kernel, [3]int{2, 1, 1}, [3]int{256, 1, 1}, 0, loss, lse, e.f32(x), e.i32([]int32{5, -3}), 2, 5, int32(-100))
	for i, v := range e.read(loss, 2) {
		if !math.IsNaN(float64(v)) {
			t.Errorf("loss[%d] = %g for an out-of-range target, want NaN", i, v)
		}
	}
}
