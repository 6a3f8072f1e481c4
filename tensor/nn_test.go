package tensor

import (
	"math"
	"testing"
)

// rowShapes are (rows, d) cases of awkward sizes; the last spans several parallel ranges.
var rowShapes = [][2]int{{1, 1}, {1, 7}, {7, 1}, {3, 31}, {5, 1000}, {31, 7}, {40, 1001}}

// refSoftmaxRow is the float64 softmax variant of one row; q is the row's query index for
// the causal mode.
func refSoftmaxRow(x []float64, mode SoftmaxMode, q int) []float64 {
	valid := len(x)
	if mode == SoftmaxCausal {
		valid = q + 1
	}
	m := math.Inf(-1)
	for _, v := range x[:valid] {
		m = math.Max(m, v)
	}
	s := 0.0
	for _, v := range x[:valid] {
		s += math.Exp(v - m)
	}
	out := make([]float64, len(x))
	for j, v := range x[:valid] {
		if mode == SoftmaxLog {
			out[j] = v - m - math.Log(s)
		} else {
			out[j] = math.Exp(v-m) / s
		}
	}
	return out
}

// numericVJP returns Σ_i dout[i]·∂f(x)_i/∂x_j for every j by float64 central differences,
// an estimate independent of any hand-derived gradient.
func numericVJP(f func([]float64) []float64, x, dout []float64) []float64 {
	const h = 1e-6
	grad := make([]float64, len(x))
	xp := append([]float64(nil), x...)
	for j := range x {
		xp[j] = x[j] + h
		fp := f(xp)
		xp[j] = x[j] - h
		fm := f(xp)
		xp[j] = x[j]
		for i := range fp {
			grad[j] += dout[i] * (fp[i] - fm[i]) / (2 * h)
		}
	}
	return grad
}

func TestSoftmaxAgainstReference(t *testing.T) {
	rng := NewRNG(31)
	dev := DefaultCPU()
	for _, mode := range []SoftmaxMode{SoftmaxPlain, SoftmaxLog, SoftmaxCausal} {
		for _, rd := range rowShapes {
			shape := []int{rd[0], rd[1]}
			if mode == SoftmaxCausal {
				// Square score matrices, batched.
				shape = []int{min(rd[0], 2), rd[1], rd[1]}
			}
			// Logits of spread 3, one far above the rest: without the max subtraction
			// exp overflows nothing here, but the row's probabilities would lose digits.
			x := RandNormal(dev, rng, 3, shape...)
			x.Data()[0] += 45
			y := dev.Zeros(shape...)
			dev.Softmax(y, x, mode)
			d := shape[len(shape)-1]
			xd := f64s(x.Data())
			dout := RandNormal(dev, rng, 1, shape...)
			dx := RandNormal(dev, rng, 1, shape...)
			want, wantDx := make([]float64, len(xd)), f64s(dx.Data())
			gd := f64s(dout.Data())
			for r := 0; r < len(xd)/d; r++ {
				q := r % d
				row := xd[r*d : (r+1)*d]
				copy(want[r*d:], refSoftmaxRow(row, mode, q))
				if d <= 31 || r < 2 {
					g := numericVJP(func(v []float64) []float64 { return refSoftmaxRow(v, mode, q) }, row, gd[r*d:(r+1)*d])
					for j := range g {
						wantDx[r*d+j] += g[j]
					}
				}
			}
			name := []string{"Softmax", "LogSoftmax", "CausalSoftmax"}[mode] + ShapeString(shape)
			closeTo(t, name, y.Data(), want, kernelTol)
			// The backward reference is a float64 finite difference (error ~1e-9); keep
			// only the rows it was computed for.
			got := dx.Clone()
			dev.SoftmaxBackward(got, dout, y, mode)
			gotD, wantD := got.Data(), wantDx
			if d > 31 {
				gotD, wantD = gotD[:2*d], wantD[:2*d]
			}
			closeTo(t, name+" backward", gotD, wantD, 1e-4)
		}
	}
}

func TestSoftmaxInPlace(t *testing.T) {
	rng := NewRNG(32)
	dev := DefaultCPU()
	for _, mode := range []SoftmaxMode{SoftmaxPlain, SoftmaxLog} {
		x := RandNormal(dev, rng, 2, 3, 9)
		want := dev.Zeros(3, 9)
		dev.Softmax(want, x, mode)
		dev.Softmax(x, x, mode)
		closeTo(t, "in place", x.Data(), f64s(want.Data()), 0)
	}
}

func refLayerNormRow(x, w, b []float64, eps float64) []float64 {
	mu := 0.0
	for _, v := range x {
		mu += v
	}
	mu /= float64(len(x))
	vr := 0.0
	for _, v := range x {
		vr += (v - mu) * (v - mu)
	}
	rs := 1 / math.Sqrt(vr/float64(len(x))+eps)
	out := make([]float64, len(x))
	for j, v := range x {
		out[j] = (v - mu) * rs
		if w != nil {
			out[j] *= w[j]
		}
		if b != nil {
			out[j] += b[j]
		}
	}
	return out
}

func TestLayerNormAgainstReference(t *testing.T) {
	rng := NewRNG(33)
	dev := DefaultCPU()
	const eps = 1e-5
	for _, rd := range rowShapes {
		rows, d := rd[0], rd[1]
		if d == 1 {
			continue // a one-element row normalises to 0 and has no gradient to compare
		}
		for _, affine := range []bool{true, false} {
			x := RandNormal(dev, rng, 2, rows, d)
			// A large common offset: the two-pass variance must not cancel.
			for i := range x.Data() {
				x.Data()[i] += 100
			}
			var w, b *Tensor
			var wd, bd []float64
			if affine {
				w, b = RandNormal(dev, rng, 1, d), RandNormal(dev, rng, 1, d)
				wd, bd = f64s(w.Data()), f64s(b.Data())
			}
			out, mean, rstd := dev.Zeros(rows, d), dev.Zeros(rows), dev.Zeros(rows)
			dev.LayerNorm(out, mean, rstd, x, w, b, eps)
			xd := f64s(x.Data())
			dout := RandNormal(dev, rng, 1, rows, d)
			gd := f64s(dout.Data())
			dx := RandNormal(dev, rng, 1, rows, d)
			want, wantDx := make([]float64, rows*d), f64s(dx.Data())
			var dw, db *Tensor
			var wantDw, wantDb []float64
			if affine {
				dw, db = RandNormal(dev, rng, 1, d), RandNormal(dev, rng, 1, d)
				wantDw, wantDb = f64s(dw.Data()), f64s(db.Data())
			}
			checked := min(rows, 3)
			for r := 0; r < rows; r++ {
				row := xd[r*d : (r+1)*d]
				copy(want[r*d:], refLayerNormRow(row, wd, bd, eps))
				if r < checked {
					g := numericVJP(func(v []float64) []float64 { return refLayerNormRow(v, wd, bd, eps) }, row, gd[r*d:(r+1)*d])
					for j := range g {
						wantDx[r*d+j] += g[j]
					}
				}
				if affine {
					xhat := refLayerNormRow(row, nil, nil, eps)
					for j := range xhat {
						wantDw[j] += gd[r*d+j] * xhat[j]
						wantDb[j] += gd[r*d+j]
					}
				}
			}
			// Normalising amplifies the float32 rounding of x (offset 100, spread 2) by
			// |x|/σ ≈ 50: 6e-8·50 ≈ 3e-6 relative.
			closeTo(t, "LayerNorm"+ShapeString([]int{rows, d}), out.Data(), want, 1e-4)
			dev.LayerNormBackward(dx, dw, db, dout, x, w, mean, rstd)
			closeTo(t, "LayerNorm dx", dx.Data()[:checked*d], wantDx[:checked*d], 1e-3)
			if affine {
				closeTo(t, "LayerNorm dw", dw.Data(), wantDw, 1e-3)
				closeTo(t, "LayerNorm db", db.Data(), wantDb, 1e-4)
			}
		}
	}
}

func TestGatherScatterAdd(t *testing.T) {
	rng := NewRNG(34)
	dev := DefaultCPU()
	for _, tc := range []struct{ v, d, n int }{{1, 1, 1}, {7, 31, 5}, {31, 7, 1000}, {50, 1000, 40}} {
		table := RandNormal(dev, rng, 1, tc.v, tc.d)
		ids := make([]int32, tc.n)
		for i := range ids {
			ids[i] = int32(rng.IntN(tc.v))
		}
		out := dev.Zeros(tc.n, tc.d)
		dev.Gather(out, table, ids)
		want := make([]float64, tc.n*tc.d)
		for i, id := range ids {
			for j := 0; j < tc.d; j++ {
				want[i*tc.d+j] = float64(table.Data()[int(id)*tc.d+j])
			}
		}
		closeTo(t, "Gather", out.Data(), want, 0)
		dout := RandNormal(dev, rng, 1, tc.n, tc.d)
		dtab := RandNormal(dev, rng, 1, tc.v, tc.d)
		wantT := f64s(dtab.Data())
		for i, id := range ids {
			for j := 0; j < tc.d; j++ {
				wantT[int(id)*tc.d+j] += float64(dout.Data()[i*tc.d+j])
			}
		}
		dev.ScatterAdd(dtab, dout, ids)
		closeTo(t, "ScatterAdd", dtab.Data(), wantT, 1e-4)
	}
}

func TestCrossEntropyAgainstReference(t *testing.T) {
	rng := NewRNG(35)
	dev := DefaultCPU()
	const ignore = -100
	for _, rd := range rowShapes {
		rows, v := rd[0], rd[1]
		logits := RandNormal(dev, rng, 3, rows, v)
		targets := make([]int32, rows)
		for i := range targets {
			targets[i] = int32(rng.IntN(v))
			if i%3 == 1 {
				targets[i] = ignore
			}
		}
		loss, lse := dev.Zeros(rows), dev.Zeros(rows)
		dev.CrossEntropy(loss, lse, logits, targets, ignore)
		dloss := RandNormal(dev, rng, 1, rows)
		dlogits := RandNormal(dev, rng, 1, rows, v)
		wantLoss, wantD := make([]float64, rows), f64s(dlogits.Data())
		xd := f64s(logits.Data())
		for r, tg := range targets {
			if tg == ignore {
				continue
			}
			p := refSoftmaxRow(xd[r*v:(r+1)*v], SoftmaxPlain, 0)
			wantLoss[r] = -math.Log(p[tg])
			g := float64(dloss.Data()[r])
			for j := range p {
				wantD[r*v+j] += g * p[j]
			}
			wantD[r*v+int(tg)] -= g
		}
		closeTo(t, "CrossEntropy"+ShapeString([]int{rows, v}), loss.Data(), wantLoss, kernelTol)
		dev.CrossEntropyBackward(dlogits, dloss, logits, lse, targets, ignore)
		closeTo(t, "CrossEntropyBackward", dlogits.Data(), wantD, kernelTol)
	}
}
