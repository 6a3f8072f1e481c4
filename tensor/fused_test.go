package tensor

import (
	"fmt"
	"math"
	"strings"
	"testing"
)

// TestLinearMatchesUnfused compares the CPU's fused Linear with the product and the bias
// addition done apart (MatMul, then Binary), on awkward sizes: one row, a prime number
// of rows, more rows than one block holds (so several blocks and both workers run), and
// widths that fill no vector. The fused kernel multiplies blocks of rows with the same
// kernels, so each element is the same sum; the tolerance allows for a block that takes
// a different micro-kernel path (its rows fill fewer register tiles) than the whole
// product, 4 float32 roundings of Σ|x||w|. Small results (the first cases and 613×130)
// take the other path, one product split by the worker pool.
func TestLinearMatchesUnfused(t *testing.T) {
	cpu := NewCPU(2)
	rng := NewRNG(5)
	for _, s := range []struct{ rows, n, k int }{{1, 1, 1}, {1, 7, 33}, {7, 1, 5}, {1000, 300, 7}, {613, 130, 65}, {613, 230, 65}} {
		t.Run(fmt.Sprintf("rows=%d,n=%d,k=%d", s.rows, s.n, s.k), func(t *testing.T) {
			x, w, bias := RandNormal(cpu, rng, 1, s.rows, s.k), RandNormal(cpu, rng, 1, s.n, s.k), RandNormal(cpu, rng, 1, s.n)
			got := RandNormal(cpu, rng, 1, s.rows, s.n) // garbage: Linear must overwrite it
			cpu.Linear(got, x, w, bias)
			want := cpu.Zeros(s.rows, s.n)
			cpu.MatMul(want, x, w, false, true, false)
			cpu.Binary(OpAdd, want, want, bias)
			for i := 0; i < s.rows; i++ {
				for j := 0; j < s.n; j++ {
					scale := math.Abs(float64(bias.data[j]))
					for p := 0; p < s.k; p++ {
						scale += math.Abs(float64(x.data[i*s.k+p] * w.data[j*s.k+p]))
					}
					g, e := got.data[i*s.n+j], want.data[i*s.n+j]
					if math.Abs(float64(g-e)) > 4*0x1p-24*scale {
						t.Fatalf("out[%d,%d] = %v, unfused %v (scale %v)", i, j, g, e, scale)
					}
				}
			}
		})
	}
}

// TestAddLayerNormMatchesUnfused holds the fused residual addition and LayerNorm to Add
// followed by LayerNorm, bit for bit: it runs the same arithmetic in the same order.
func TestAddLayerNormMatchesUnfused(t *testing.T) {
	cpu := NewCPU(2)
	rng := NewRNG(6)
	for _, s := range [][]int{{1, 1}, {7, 5}, {1000, 33}, {2, 3, 300}} {
		for _, affine := range []bool{true, false} {
			t.Run(fmt.Sprintf("%v/affine=%v", s, affine), func(t *testing.T) {
				d := s[len(s)-1]
				rows := Numel(s) / d
				x, r := RandNormal(cpu, rng, 1, s...), RandNormal(cpu, rng, 3, s...)
				var w, b *Tensor
				if affine {
					w, b = RandNormal(cpu, rng, 1, d), RandNormal(cpu, rng, 1, d)
				}
				out, sum, mean, rstd := cpu.Zeros(s...), cpu.Zeros(s...), cpu.Zeros(rows), cpu.Zeros(rows)
				cpu.AddLayerNorm(out, sum, mean, rstd, x, r, w, b, 1e-5)
				out2, sum2, mean2, rstd2 := cpu.Zeros(s...), cpu.Zeros(s...), cpu.Zeros(rows), cpu.Zeros(rows)
				cpu.Binary(OpAdd, sum2, x, r)
				cpu.LayerNorm(out2, mean2, rstd2, sum2, w, b, 1e-5)
				for _, p := range []struct {
					name      string
					got, want *Tensor
				}{{"out", out, out2}, {"sum", sum, sum2}, {"mean", mean, mean2}, {"rstd", rstd, rstd2}} {
					for i := range p.got.data {
						if p.got.data[i] != p.want.data[i] {
							t.Fatalf("%s[%d] = %v, unfused %v", p.name, i, p.got.data[i], p.want.data[i])
						}
					}
				}
			})
		}
	}
}

func TestFusedShapeErrors(t *testing.T) {
	cpu := DefaultCPU()
	x, w, b := cpu.Zeros(3, 5), cpu.Zeros(4, 5), cpu.Zeros(3)
	err := Catch(func() { cpu.Linear(cpu.Zeros(3, 4), x, w, b) })
	if err == nil || !strings.Contains(err.Error(), "Linear") || !strings.Contains(err.Error(), "[4 5]") {
		t.Fatalf("Linear with a bias of the wrong length: %v", err)
	}
	err = Catch(func() {
		cpu.AddLayerNorm(cpu.Zeros(3, 5), cpu.Zeros(3, 5), cpu.Zeros(3), cpu.Zeros(3), x, cpu.Zeros(3, 4), nil, nil, 1e-5)
	})
	if err == nil || !strings.Contains(err.Error(), "AddLayerNorm") || !strings.Contains(err.Error(), "[3 4]") {
		t.Fatalf("AddLayerNorm with operands of different shapes: %v", err)
	}
}
