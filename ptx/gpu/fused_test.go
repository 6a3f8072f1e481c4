package gpu

import (
	"fmt"
	"math"
	"testing"

	"github.com/hungry-ssm/hungry/tensor"
)

// TestFusedAgainstCPU runs the fused kernels in the PTX interpreter and compares them
// with the CPU device's on awkward shapes: rows and widths that fill neither the 64×64
// tiles of the SGEMM nor the 256 threads of a row block.
func TestFusedAgainstCPU(t *testing.T) {
	dev := NewInterpreted()
	runCases(t, dev, fusedCases())
	testLinear(t, dev)
}

func fusedCases() []kernelCase {
	var cases []kernelCase
	for _, s := range [][]int{{5, 33}, {1, 7}, {2, 3, 300}} {
		for _, affine := range []bool{true, false} {
			s := s
			cases = append(cases, kernelCase{name: fmt.Sprintf("AddLayerNorm/%v/affine=%v", s, affine), rtol: rtolF32,
				run: func(in *inputs) []*tensor.Tensor {
					x, r := in.t(s...), in.t(s...)
					d := s[len(s)-1]
					rows := tensor.Numel(s) / d
					var w, b *tensor.Tensor
					if affine {
						w, b = in.t(d), in.t(d)
					}
					out, sum := in.dev.Zeros(s...), in.dev.Zeros(s...)
					mean, rstd := in.dev.Zeros(rows), in.dev.Zeros(rows)
					in.dev.AddLayerNorm(out, sum, mean, rstd, x, r, w, b, 1e-5)
					return []*tensor.Tensor{out, sum, mean, rstd}
				}})
		}
	}
	return cases
}

// testLinear compares the SGEMM with the bias epilogue with the CPU's Linear, judged like
// MatMul against Σ|x||w| + |bias| at TF32's tolerance.
func testLinear(t *testing.T, dev *Device) {
	cpu := tensor.DefaultCPU()
	for i, s := range []struct {
		x []int
		n int
	}{{[]int{37, 33}, 70}, {[]int{1, 7}, 1}, {[]int{2, 5, 65}, 130}} {
		t.Run(fmt.Sprintf("Linear/x=%v,n=%d", s.x, s.n), func(t *testing.T) {
			k := s.x[len(s.x)-1]
			outShape := append(append([]int(nil), s.x[:len(s.x)-1]...), s.n)
			run := func(d tensor.Device) (out, x, w, bias *tensor.Tensor) {
				in := newInputs(d, uint64(100+i))
				x, w, bias = in.t(s.x...), in.t(s.n, k), in.t(s.n)
				// Garbage in out: the kernel must overwrite, not accumulate.
				out = in.t(outShape...)
				d.Linear(out, x, w, bias)
				return out, x, w, bias
			}
			want, x, w, bias := run(cpu)
			dev.ResetCounters()
			got, _, _, _ := run(dev)
			abs := func(t *tensor.Tensor) *tensor.Tensor {
				v := t.Host()
				for i := range v {
					v[i] = float32(math.Abs(float64(v[i])))
				}
				return tensor.FromSlice(v, t.Shape()...)
			}
			scale := tensor.New(outShape...)
			cpu.Linear(scale, abs(x), abs(w), abs(bias))
			closeTo(t, "out", got.Host(), want.Host(), scale.Data(), rtolTF32)
			if fb := dev.HostFallbacks(); len(fb) > 0 {
				t.Errorf("host fallbacks %v", fb)
			}
		})
	}
}
