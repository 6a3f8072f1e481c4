package tensor

import "testing"

func TestSumAxisAgainstReference(t *testing.T) {
	rng := NewRNG(21)
	dev := DefaultCPU()
	for _, tc := range []struct {
		shape []int
		axis  int
	}{
		{[]int{1}, 0},
		{[]int{7}, 0},
		{[]int{1000}, -1},
		{[]int{70000}, 0}, // the chunked parallel full sum
		{[]int{3, 7, 5}, 0},
		{[]int{3, 7, 5}, 1},
		{[]int{3, 7, 5}, -1},
		{[]int{31, 1000}, 0},
		{[]int{1000, 31}, 1},
		{[]int{2, 1000, 31}, 1},
	} {
		x := RandNormal(dev, rng, 1, tc.shape...)
		outer, n, inner, _ := AxisSplit("test", tc.shape, tc.axis)
		want := make([]float64, outer*inner)
		xd := x.Data()
		for o := 0; o < outer; o++ {
			for j := 0; j < n; j++ {
				for i := 0; i < inner; i++ {
					want[o*inner+i] += float64(xd[(o*n+j)*inner+i])
				}
			}
		}
		const alpha = 0.75
		out := RandNormal(dev, rng, 1, outer*inner)
		wantAcc := f64s(out.Data())
		for i := range want {
			want[i] *= alpha
			wantAcc[i] += want[i]
		}
		// Sums of up to 70000 unit terms: float32 partials of 4096 (or n rows), each with
		// an error near √4096·6e-8 of their size.
		const tol = 1e-4
		dev.SumAxis(out, x, tc.axis, alpha, true)
		closeTo(t, "SumAxis accumulate"+ShapeString(tc.shape), out.Data(), wantAcc, tol)
		dev.SumAxis(out, x, tc.axis, alpha, false)
		closeTo(t, "SumAxis"+ShapeString(tc.shape), out.Data(), want, tol)

		dout := RandNormal(dev, rng, 1, outer*inner)
		dx := RandNormal(dev, rng, 1, tc.shape...)
		wantDx := f64s(dx.Data())
		for o := 0; o < outer; o++ {
			for j := 0; j < n; j++ {
				for i := 0; i < inner; i++ {
					wantDx[(o*n+j)*inner+i] += alpha * float64(dout.Data()[o*inner+i])
				}
			}
		}
		dev.BroadcastAxis(dx, dout, tc.axis, alpha)
		closeTo(t, "BroadcastAxis"+ShapeString(tc.shape), dx.Data(), wantDx, kernelTol)
	}
}

func TestSumAxisShapeError(t *testing.T) {
	err := Catch(func() { DefaultCPU().SumAxis(New(3), New(2, 3), 2, 1, false) })
	if err == nil || err.Error() != "SumAxis: shapes [2 3]: no axis 2" {
		t.Fatalf("got %v", err)
	}
}
