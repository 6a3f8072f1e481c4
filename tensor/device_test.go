package tensor

import (
	"fmt"
	"testing"
)

func TestCopyBlocks(t *testing.T) {
	dev := DefaultCPU()
	rng := NewRNG(2)
	for _, c := range []struct{ n, size, dstStride, srcStride int }{
		{1, 1, 1, 1},
		{3, 7, 7, 7},     // contiguous on both sides
		{5, 7, 1000, 7},  // rows into a wider matrix
		{4, 3, 11, 1000}, // rows out of one
		{2, 5, 9, 0},     // one block repeated
		{0, 5, 9, 9},
		{3, 0, 9, 9},
	} {
		t.Run(fmt.Sprintf("%+v", c), func(t *testing.T) {
			dn := max((c.n-1)*c.dstStride+c.size, 1)
			sn := max((c.n-1)*c.srcStride+c.size, 1)
			dst, src := FromSlice(rng.Uniform(dn, 1, 2), dn), FromSlice(rng.Uniform(sn, -2, -1), sn)
			want := append([]float32(nil), dst.data...)
			for i := 0; i < c.n; i++ {
				for j := 0; j < c.size; j++ {
					want[i*c.dstStride+j] = src.data[i*c.srcStride+j]
				}
			}
			dev.CopyBlocks(dst, src, c.n, c.size, c.dstStride, c.srcStride)
			for i := range want {
				if dst.data[i] != want[i] {
					t.Fatalf("dst[%d] = %g, want %g", i, dst.data[i], want[i])
				}
			}
		})
	}
	for name, f := range map[string]func(){
		"past dst's end":      func() { dev.CopyBlocks(New(10), New(10), 2, 5, 6, 5) },
		"past src's end":      func() { dev.CopyBlocks(New(20), New(10), 2, 5, 10, 6) },
		"overlapping writes":  func() { dev.CopyBlocks(New(20), New(20), 2, 5, 4, 5) },
		"negative block size": func() { dev.CopyBlocks(New(20), New(20), 2, -1, 4, 5) },
	} {
		if err := Catch(f); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
