package tensor

import (
	"math"
	"testing"
)

// kernelTol is the tolerance of single-kernel comparisons with float64 references: a few
// float32 roundings (2⁻²⁴ ≈ 6e-8 each) of values of order one, plus the fused multiply-add
// versus separate rounding difference, with a wide margin.
const kernelTol = 1e-5

// closeTo fails the test when got differs from want by more than tol·(1+|want|).
func closeTo(t *testing.T, what string, got []float32, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d elements, want %d", what, len(got), len(want))
	}
	for i := range want {
		if d := math.Abs(float64(got[i]) - want[i]); !(d <= tol*(1+math.Abs(want[i]))) {
			t.Fatalf("%s: element %d = %v, want %v", what, i, got[i], want[i])
		}
	}
}

func f64s(x []float32) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = float64(v)
	}
	return out
}

// awkwardShapes pairs a tensor shape with a suffix of it that a broadcast operand has;
// the largest spans several parallel ranges.
var awkwardShapes = []struct{ a, b []int }{
	{[]int{1}, []int{1}},
	{[]int{7}, []int{7}},
	{[]int{31}, []int{1}},
	{[]int{1000}, []int{1000}},
	{[]int{3, 7, 5}, []int{7, 5}},
	{[]int{4, 31}, []int{31}},
	{[]int{1000, 7}, []int{7}},
	{[]int{5, 9001}, []int{9001}},
	{[]int{33000}, []int{33000}},
}

func refBinary(op BinaryOp, x, y float64) float64 {
	switch op {
	case OpAdd:
		return x + y
	case OpSub:
		return x - y
	case OpMul:
		return x * y
	}
	return x / y
}

func TestBinaryAgainstReference(t *testing.T) {
	rng := NewRNG(11)
	dev := DefaultCPU()
	for _, sh := range awkwardShapes {
		for _, op := range []BinaryOp{OpAdd, OpSub, OpMul, OpDiv} {
			a := RandNormal(dev, rng, 1, sh.a...)
			// Keep divisors away from zero so the quotient's conditioning is bounded.
			b := RandUniform(dev, rng, 0.5, 2, sh.b...)
			out := dev.Zeros(sh.a...)
			dev.Binary(op, out, a, b)
			ad, bd := a.Data(), b.Data()
			want := make([]float64, len(ad))
			for i := range want {
				want[i] = refBinary(op, float64(ad[i]), float64(bd[i%len(bd)]))
			}
			closeTo(t, op.String()+ShapeString(sh.a), out.Data(), want, kernelTol)

			// Gradients, accumulated onto non-zero starting values.
			dout := RandNormal(dev, rng, 1, sh.a...)
			da := RandNormal(dev, rng, 1, sh.a...)
			db := RandNormal(dev, rng, 1, sh.b...)
			wantA, wantB := f64s(da.Data()), f64s(db.Data())
			gd := dout.Data()
			for i := range gd {
				g, x, y := float64(gd[i]), float64(ad[i]), float64(bd[i%len(bd)])
				var ga, gb float64
				switch op {
				case OpAdd:
					ga, gb = g, g
				case OpSub:
					ga, gb = g, -g
				case OpMul:
					ga, gb = g*y, g*x
				case OpDiv:
					ga, gb = g/y, -g*x/(y*y)
				}
				wantA[i] += ga
				wantB[i%len(bd)] += gb
			}
			dev.BinaryBackward(op, da, db, dout, a, b)
			closeTo(t, op.String()+"Backward da"+ShapeString(sh.a), da.Data(), wantA, kernelTol)
			// db sums up to 5000 float32 terms: allow for the sum's rounding.
			closeTo(t, op.String()+"Backward db"+ShapeString(sh.a), db.Data(), wantB, 1e-4)
		}
	}
}

func TestBinaryInPlace(t *testing.T) {
	dev := DefaultCPU()
	a := FromSlice([]float32{1, 2, 3, 4, 5, 6}, 2, 3)
	b := FromSlice([]float32{10, 20, 30}, 3)
	dev.Binary(OpAdd, a, a, b)
	closeTo(t, "a += b", a.Data(), []float64{11, 22, 33, 14, 25, 36}, 0)
}

func TestBroadcastShapes(t *testing.T) {
	for _, ok := range [][2][]int{{{2, 3, 4}, {3, 4}}, {{2, 3, 4}, {2, 3, 4}}, {{2, 3, 4}, {1, 4}}, {{5}, {1}}, {{5}, {1, 1, 5}}} {
		if err := Catch(func() { BroadcastShapes("Add", ok[0], ok[1]) }); err != nil {
			t.Errorf("%v: %v", ok, err)
		}
	}
	err := Catch(func() { BroadcastShapes("Add", []int{2, 3, 4}, []int{2, 4}) })
	if err == nil || err.Error() != "Add: shapes [2 3 4], [2 4]: the second shape must equal the first or a suffix of it" {
		t.Fatalf("got %v", err)
	}
}

func refUnary(op UnaryOp, x float64) (y, dy float64) {
	switch op {
	case OpGELU:
		c := math.Sqrt(2 / math.Pi)
		u := c * (x + 0.044715*x*x*x)
		th := math.Tanh(u)
		return 0.5 * x * (1 + th), 0.5*(1+th) + 0.5*x*(1-th*th)*c*(1+3*0.044715*x*x)
	case OpReLU:
		if x > 0 {
			return x, 1
		}
		return 0, 0
	case OpSiLU:
		s := 1 / (1 + math.Exp(-x))
		return x * s, s + x*s*(1-s)
	case OpSigmoid:
		s := 1 / (1 + math.Exp(-x))
		return s, s * (1 - s)
	case OpTanh:
		th := math.Tanh(x)
		return th, 1 - th*th
	}
	return math.Exp(x), math.Exp(x)
}

func TestUnaryAgainstReference(t *testing.T) {
	rng := NewRNG(12)
	dev := DefaultCPU()
	for _, sh := range awkwardShapes {
		for _, op := range []UnaryOp{OpGELU, OpReLU, OpSiLU, OpSigmoid, OpTanh, OpExp} {
			x := RandNormal(dev, rng, 2, sh.a...)
			y := dev.Zeros(sh.a...)
			dev.Unary(op, y, x)
			dout := RandNormal(dev, rng, 1, sh.a...)
			dx := RandNormal(dev, rng, 1, sh.a...)
			want, wantDx := make([]float64, x.Numel()), f64s(dx.Data())
			for i, v := range x.Data() {
				f, df := refUnary(op, float64(v))
				want[i] = f
				wantDx[i] += float64(dout.Data()[i]) * df
			}
			closeTo(t, op.String()+ShapeString(sh.a), y.Data(), want, kernelTol)
			dev.UnaryBackward(op, dx, dout, x, y)
			closeTo(t, op.String()+"Backward"+ShapeString(sh.a), dx.Data(), wantDx, kernelTol)
		}
	}
}

func TestScaleAxpy(t *testing.T) {
	rng := NewRNG(13)
	dev := DefaultCPU()
	for _, sh := range awkwardShapes {
		x := RandNormal(dev, rng, 1, sh.a...)
		y := RandNormal(dev, rng, 1, sh.a...)
		out := dev.Zeros(sh.a...)
		dev.Scale(out, x, -1.5)
		want := f64s(x.Data())
		wantY := f64s(y.Data())
		for i := range want {
			want[i] *= -1.5
			wantY[i] += 0.25 * float64(x.Data()[i])
		}
		closeTo(t, "Scale"+ShapeString(sh.a), out.Data(), want, kernelTol)
		dev.Axpy(0.25, x, y)
		closeTo(t, "Axpy"+ShapeString(sh.a), y.Data(), wantY, kernelTol)
	}
}

// refPermute moves every element by explicit multi-index arithmetic.
func refPermute(x []float32, shape, perm []int) []float64 {
	outShape := make([]int, len(perm))
	for k, p := range perm {
		outShape[k] = shape[p]
	}
	out := make([]float64, len(x))
	idx := make([]int, len(shape))
	for i := range x {
		r := i
		for k := len(shape) - 1; k >= 0; k-- {
			idx[k] = r % shape[k]
			r /= shape[k]
		}
		o := 0
		for k, p := range perm {
			o = o*outShape[k] + idx[p]
		}
		out[o] = float64(x[i])
	}
	return out
}

func TestPermuteAgainstReference(t *testing.T) {
	rng := NewRNG(14)
	dev := DefaultCPU()
	for _, tc := range []struct{ shape, perm []int }{
		{[]int{1}, []int{0}},
		{[]int{7, 31}, []int{1, 0}},
		{[]int{1, 1000}, []int{1, 0}},
		{[]int{3, 7, 5}, []int{0, 2, 1}},
		{[]int{3, 7, 5}, []int{2, 0, 1}},
		{[]int{2, 5, 3, 4, 6}, []int{2, 0, 3, 1, 4}}, // attention's (B,L,3,H,Dh) → (3,B,H,L,Dh)
		{[]int{2, 3, 4, 5}, []int{3, 2, 1, 0}},
		{[]int{40, 1001}, []int{1, 0}},
	} {
		x := RandNormal(dev, rng, 1, tc.shape...)
		outShape := PermuteShape(tc.shape, tc.perm)
		out := dev.Zeros(outShape...)
		dev.Permute(out, x, tc.perm, false)
		want := refPermute(x.Data(), tc.shape, tc.perm)
		closeTo(t, "Permute"+ShapeString(tc.shape), out.Data(), want, 0)
		acc := RandNormal(dev, rng, 1, outShape...)
		wantAcc := f64s(acc.Data())
		for i := range wantAcc {
			wantAcc[i] += want[i]
		}
		dev.Permute(acc, x, tc.perm, true)
		closeTo(t, "Permute accumulate"+ShapeString(tc.shape), acc.Data(), wantAcc, kernelTol)
	}
	if err := Catch(func() { PermuteShape([]int{2, 3}, []int{0, 0}) }); err == nil {
		t.Fatal("a repeated axis was accepted")
	}
}

func TestUnaryExtremeInputs(t *testing.T) {
	// Far into the tails the exponentials overflow or underflow; the activations must
	// still reach their limits without NaN.
	dev := DefaultCPU()
	xs := []float32{-1e6, -100, -30, 30, 100, 1e6}
	x := FromSlice(xs, len(xs))
	for _, op := range []UnaryOp{OpGELU, OpSiLU, OpSigmoid, OpTanh} {
		y := dev.Zeros(len(xs))
		dev.Unary(op, y, x)
		dx := dev.Zeros(len(xs))
		dev.UnaryBackward(op, dx, FromSlice([]float32{1, 1, 1, 1, 1, 1}, len(xs)), x, y)
		for i, v := range xs {
			want, wantD := refUnary(op, float64(v))
			if math.IsNaN(want) || math.IsNaN(wantD) {
				t.Fatalf("reference NaN at %v", v)
			}
			got, gotD := float64(y.Data()[i]), float64(dx.Data()[i])
			if math.Abs(got-want) > 1e-6*(1+math.Abs(want)) || math.Abs(gotD-wantD) > 1e-6*(1+math.Abs(wantD)) {
				t.Errorf("%s(%v) = %v, %v; want %v, %v", op, v, got, gotD, want, wantD)
			}
		}
	}
}
