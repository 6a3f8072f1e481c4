package gpu

import (
	"fmt"
	"math"
	"testing"

	"github.com/hungry-ssm/hungry/tensor"
)

// Tolerances, next to their reason:
const (
	// fp32 kernels: a few float32 roundings per output and a different summation order
	// than the CPU's (pairwise and tree sums against serial ones), plus the ~2 ulp of the
	// hardware ex2/lg2 the interpreter computes exactly.
	rtolF32 = 1e-5
	// TF32 keeps 10 of float32's 23 mantissa bits, so each product is off by up to about
	// 2·2⁻¹¹ ≈ 1e-3 of |a||b|; judged against Σ|a||b|, 3e-3 also covers the fp32
	// accumulation.
	rtolTF32 = 3e-3
)

// close reports the elements of got that differ from want by more than
// rtol·(|want| + scale), where scale is the magnitude an element was computed from: the
// mean |want| for kernels whose outputs can cancel to near zero, Σ|a||b| for products.
func closeTo(t *testing.T, what string, got, want, scale []float32, rtol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	mean := 0.0
	for _, w := range want {
		mean += math.Abs(float64(w))
	}
	mean /= float64(max(len(want), 1))
	bad := 0
	for i := range got {
		s := mean
		if scale != nil {
			s = float64(scale[i])
		}
		g, w := float64(got[i]), float64(want[i])
		if !(math.Abs(g-w) <= rtol*(math.Abs(w)+s)) {
			if bad < 4 {
				t.Errorf("%s[%d] = %g, want %g", what, i, g, w)
			}
			bad++
		}
	}
	if bad > 0 {
		t.Errorf("%s: %d of %d values out of tolerance %g", what, bad, len(got), rtol)
	}
}

// inputs makes the same random tensors on any device: values in ±[0.05, 1], never zero, so
// no kernel passes by writing zeros.
type inputs struct {
	dev tensor.Device
	rng *tensor.RNG
}

func newInputs(dev tensor.Device, seed uint64) *inputs { return &inputs{dev, tensor.NewRNG(seed)} }

func (in *inputs) vals(n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		x := 0.05 + 0.95*in.rng.Float32()
		if in.rng.IntN(2) == 0 {
			x = -x
		}
		v[i] = x
	}
	return v
}

func (in *inputs) t(shape ...int) *tensor.Tensor {
	return in.dev.FromHost(in.vals(tensor.Numel(shape)), shape...)
}

func (in *inputs) pos(shape ...int) *tensor.Tensor {
	v := in.vals(tensor.Numel(shape))
	for i := range v {
		v[i] = float32(math.Abs(float64(v[i])))
	}
	return in.dev.FromHost(v, shape...)
}

// kernelCase computes with one device and returns the tensors to compare.
type kernelCase struct {
	name string
	// fallback is the HostFallbacks key the case is expected to use ("" for none).
	fallback string
	rtol     float64
	run      func(in *inputs) []*tensor.Tensor
}

// runCases runs every case on the CPU and on dev with the same inputs
// and compares all returned tensors; it also checks which cases fell back to the host.
func runCases(t *testing.T, dev *Device, cases []kernelCase) {
	cpu := tensor.DefaultCPU()
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			want := c.run(newInputs(cpu, uint64(i+1)))
			dev.ResetCounters()
			got := c.run(newInputs(dev, uint64(i+1)))
			if len(got) != len(want) {
				t.Fatalf("%d results, want %d", len(got), len(want))
			}
			for j := range got {
				if got[j] == nil {
					continue
				}
				if got[j].Device() != tensor.Device(dev) {
					t.Fatalf("result %d lives on %s", j, got[j].Device().Name())
				}
				closeTo(t, fmt.Sprintf("result %d", j), got[j].Host(), want[j].Host(), nil, c.rtol)
			}
			fb := dev.HostFallbacks()
			if c.fallback == "" && len(fb) > 0 {
				t.Errorf("host fallbacks %v, want none", fb)
			}
			if c.fallback != "" && fb[c.fallback] == 0 {
				t.Errorf("host fallbacks %v, want %s", fb, c.fallback)
			}
		})
	}
}

func TestDeviceMemory(t *testing.T) {
	dev := NewInterpreted()
	data := []float32{1.5, -2, 3.25, 7, -0.5, 11, 13}
	x := dev.FromHost(data, 7)
	if got := x.Host(); fmt.Sprint(got) != fmt.Sprint(data) {
		t.Fatalf("round trip %v, want %v", got, data)
	}
	z := dev.Zeros(3, 5)
	for _, v := range z.Host() {
		if v != 0 {
			t.Fatalf("Zeros holds %v", z.Host())
		}
	}
	dev.Fill(z, 2.5)
	for _, v := range z.Host() {
		if v != 2.5 {
			t.Fatalf("Fill: %v", z.Host())
		}
	}
	y := dev.Zeros(3)
	dev.Copy(y, x.Slice(2, 5))
	if got := y.Host(); fmt.Sprint(got) != fmt.Sprint(data[2:5]) {
		t.Fatalf("Copy of a view: %v, want %v", got, data[2:5])
	}
	if err := tensor.Catch(func() { dev.FromHost(data, 2, 3) }); err == nil {
		t.Error("FromHost accepted 7 values for shape [2 3]")
	}
	if len(dev.HostFallbacks()) != 0 {
		t.Errorf("memory operations counted fallbacks: %v", dev.HostFallbacks())
	}
}

// TestMatMulAgainstCPU covers the transposes, the batch layouts and accumulation with
// sizes that are not multiples of the 64×64 tiles.
func TestMatMulAgainstCPU(t *testing.T) { testMatMul(t, NewInterpreted(), 37, 70, 33) }

func testMatMul(t *testing.T, dev *Device, m, n, k int) {
	type mm struct {
		name       string
		a, b, c    []int
		tA, tB, ac bool
	}
	var cases []mm
	for _, tr := range [][2]bool{{false, false}, {false, true}, {true, false}, {true, true}} {
		as, bs := []int{m, k}, []int{k, n}
		if tr[0] {
			as = []int{k, m}
		}
		if tr[1] {
			bs = []int{n, k}
		}
		for _, acc := range []bool{false, true} {
			cases = append(cases,
				mm{"single", as, bs, []int{m, n}, tr[0], tr[1], acc},
				mm{"batched", append([]int{2}, as...), append([]int{2}, bs...), []int{2, m, n}, tr[0], tr[1], acc},
				mm{"sharedB", append([]int{3}, as...), bs, []int{3, m, n}, tr[0], tr[1], acc},
				mm{"sharedA", as, append([]int{2}, bs...), []int{2, m, n}, tr[0], tr[1], acc},
				mm{"sumOut", append([]int{3}, as...), append([]int{3}, bs...), []int{m, n}, tr[0], tr[1], acc},
			)
		}
	}
	cpu := tensor.DefaultCPU()
	abs := func(x *tensor.Tensor) *tensor.Tensor {
		v := x.Host()
		for i := range v {
			v[i] = float32(math.Abs(float64(v[i])))
		}
		return tensor.FromSlice(v, x.Shape()...)
	}
	for i, c := range cases {
		name := fmt.Sprintf("%s/tA=%v,tB=%v,acc=%v", c.name, c.tA, c.tB, c.ac)
		t.Run(name, func(t *testing.T) {
			run := func(dev tensor.Device) (out, a, b, c0 *tensor.Tensor) {
				in := newInputs(dev, uint64(i+1))
				a, b, out = in.t(c.a...), in.t(c.b...), in.t(c.c...)
				c0 = out.Clone()
				dev.MatMul(out, a, b, c.tA, c.tB, c.ac)
				return out, a, b, c0
			}
			want, a, b, c0 := run(cpu)
			dev.ResetCounters()
			got, _, _, _ := run(dev)
			// The scale of an element is Σ|a||b| (+|c| when accumulating).
			scale := tensor.New(c.c...)
			cpu.MatMul(scale, abs(a), abs(b), c.tA, c.tB, false)
			if c.ac {
				cpu.Axpy(1, abs(c0), scale)
			}
			closeTo(t, "C", got.Host(), want.Host(), scale.Data(), rtolTF32)
			fb := dev.HostFallbacks()
			if len(fb) > 0 {
				t.Errorf("host fallbacks %v", fb)
			}
		})
	}
}

func TestElementwiseAgainstCPU(t *testing.T) { runCases(t, NewInterpreted(), elementwiseCases()) }

// elementwiseCases are the elementwise methods' cases.
func elementwiseCases() []kernelCase {
	var cases []kernelCase
	for _, op := range []tensor.BinaryOp{tensor.OpAdd, tensor.OpSub, tensor.OpMul, tensor.OpDiv} {
		fb := ""
		for _, bs := range [][]int{{5, 7, 3}, {7, 3}, {3}, {1, 1, 3}} {
			cases = append(cases, kernelCase{name: fmt.Sprintf("Binary(%v)/b%v", op, bs), fallback: fb, rtol: rtolF32,
				run: func(in *inputs) []*tensor.Tensor {
					a, b := in.t(5, 7, 3), in.t(bs...)
					out := in.dev.Zeros(5, 7, 3)
					in.dev.Binary(op, out, a, b)
					// In place, into a itself.
					in.dev.Binary(op, a, a, b)
					return []*tensor.Tensor{out, a}
				}})
		}
		// (300, 5) with b (5) sums 300 repeats in chunks.
		for _, bs := range [][]int{{5, 7, 3}, {7, 3}, {3}, {1, 1, 5}} {
			as := []int{5, 7, 3}
			if bs[len(bs)-1] == 5 {
				as = []int{300, 5}
			}
			cases = append(cases, kernelCase{name: fmt.Sprintf("BinaryBackward(%v)/b%v", op, bs), fallback: fb, rtol: rtolF32,
				run: func(in *inputs) []*tensor.Tensor {
					a, b, g := in.t(as...), in.t(bs...), in.t(as...)
					da, db := in.t(as...), in.t(bs...)
					in.dev.BinaryBackward(op, da, db, g, a, b)
					da2 := in.t(as...)
					in.dev.BinaryBackward(op, da2, nil, g, a, b)
					db2 := in.t(bs...)
					in.dev.BinaryBackward(op, nil, db2, g, a, b)
					return []*tensor.Tensor{da, db, da2, db2}
				}})
		}
	}
	for _, op := range []tensor.UnaryOp{tensor.OpGELU, tensor.OpReLU, tensor.OpSiLU, tensor.OpSigmoid, tensor.OpTanh, tensor.OpExp} {
		fb, fbb := "", ""
		for _, n := range []int{1, 7, 1027} {
			cases = append(cases,
				kernelCase{name: fmt.Sprintf("Unary(%v)/%d", op, n), fallback: fb, rtol: rtolF32,
					run: func(in *inputs) []*tensor.Tensor {
						x := in.t(n)
						y := in.dev.Zeros(n)
						in.dev.Unary(op, y, x)
						in.dev.Unary(op, x, x)
						return []*tensor.Tensor{y, x}
					}},
				kernelCase{name: fmt.Sprintf("UnaryBackward(%v)/%d", op, n), fallback: fbb, rtol: rtolF32,
					run: func(in *inputs) []*tensor.Tensor {
						x, g, dx := in.t(n), in.t(n), in.t(n)
						y := in.dev.Zeros(n)
						in.dev.Unary(op, y, x)
						in.dev.UnaryBackward(op, dx, g, x, y)
						return []*tensor.Tensor{dx}
					}})
		}
	}
	cases = append(cases,
		kernelCase{name: "Scale", rtol: rtolF32, run: func(in *inputs) []*tensor.Tensor {
			x := in.t(31, 3)
			y := in.dev.Zeros(31, 3)
			in.dev.Scale(y, x, -1.75)
			// Views that start off a 16-byte boundary go through aligned copies.
			in.dev.Scale(x.Slice(1, 30), x.Slice(1, 30), 0.5)
			return []*tensor.Tensor{y, x}
		}},
		kernelCase{name: "Axpy", rtol: rtolF32, run: func(in *inputs) []*tensor.Tensor {
			x, y := in.t(1000), in.t(1000)
			in.dev.Axpy(0.3, x, y)
			z := in.t(7, 3)
			in.dev.Axpy(-2, x.Reshape(10, 100).Slice(3, 4).Reshape(100).Slice(5, 26).Reshape(7, 3), z)
			return []*tensor.Tensor{y, z}
		}},
	)
	for _, p := range [][]int{{2, 0, 1}, {1, 0, 2}, {0, 2, 1}, {0, 1, 2}, {2, 1, 0}, {4, 2, 0, 1, 3}, {0, 2, 1, 3, 5, 4, 6}} {
		for _, acc := range []bool{false, true} {
			fb := ""
			if len(p) > maxPermuteRank {
				fb = "Permute(rank>6)"
			}
			cases = append(cases, kernelCase{name: fmt.Sprintf("Permute%v/acc=%v", p, acc), fallback: fb, rtol: rtolF32,
				run: func(in *inputs) []*tensor.Tensor {
					shape := []int{2, 3, 5, 2, 3, 1, 2}[:len(p)]
					x := in.t(shape...)
					out := in.t(tensor.PermuteShape(x.Shape(), p)...)
					in.dev.Permute(out, x, p, acc)
					return []*tensor.Tensor{out}
				}})
		}
	}
	return cases
}

func TestReduceAgainstCPU(t *testing.T) { runCases(t, NewInterpreted(), reduceCases()) }

// reduceCases are the reduce methods' cases.
func reduceCases() []kernelCase {
	var cases []kernelCase
	for _, axis := range []int{0, 1, 2, -1} {
		for _, acc := range []bool{false, true} {
			cases = append(cases,
				kernelCase{name: fmt.Sprintf("SumAxis/%d/acc=%v", axis, acc), rtol: rtolF32,
					run: func(in *inputs) []*tensor.Tensor {
						x := in.t(3, 5, 7)
						shape := append([]int(nil), x.Shape()...)
						ax := (axis + 3) % 3
						shape = append(shape[:ax], shape[ax+1:]...)
						out := in.t(shape...)
						in.dev.SumAxis(out, x, axis, 0.5, acc)
						return []*tensor.Tensor{out}
					}},
				kernelCase{name: fmt.Sprintf("BroadcastAxis/%d", axis), rtol: rtolF32,
					run: func(in *inputs) []*tensor.Tensor {
						dx := in.t(3, 5, 7)
						shape := append([]int(nil), dx.Shape()...)
						ax := (axis + 3) % 3
						shape = append(shape[:ax], shape[ax+1:]...)
						in.dev.BroadcastAxis(dx, in.t(shape...), axis, -1.5)
						return []*tensor.Tensor{dx}
					}})
		}
	}
	// A long axis with few outputs is summed in chunks.
	cases = append(cases, kernelCase{name: "SumAxis/chunked", rtol: rtolF32, run: func(in *inputs) []*tensor.Tensor {
		x := in.t(2, 600, 3)
		out, acc := in.dev.Zeros(2, 3), in.t(2, 3)
		in.dev.SumAxis(out, x, 1, 0.25, false)
		in.dev.SumAxis(acc, x, 1, -1, true)
		return []*tensor.Tensor{out, acc}
	}})
	for _, n := range []int{1, 31, 1027} {
		cases = append(cases, kernelCase{name: fmt.Sprintf("SumAll/%d", n), rtol: rtolF32,
			run: func(in *inputs) []*tensor.Tensor {
				x := in.pos(n)
				out := in.dev.Zeros(1)
				in.dev.SumAxis(out, x, 0, 1/float32(n), false)
				dx := in.t(n)
				in.dev.BroadcastAxis(dx, out, 0, 2)
				return []*tensor.Tensor{out, dx}
			}})
	}
	return cases
}

func TestNNAgainstCPU(t *testing.T) { runCases(t, NewInterpreted(), nnCases()) }

// nnCases are the NN methods' cases.
func nnCases() []kernelCase {
	var cases []kernelCase
	for _, mode := range []tensor.SoftmaxMode{tensor.SoftmaxPlain, tensor.SoftmaxLog, tensor.SoftmaxCausal} {
		cases = append(cases,
			kernelCase{name: fmt.Sprintf("Softmax/%d", mode), rtol: rtolF32, run: func(in *inputs) []*tensor.Tensor {
				x := in.t(2, 9, 9)
				y := in.dev.Zeros(2, 9, 9)
				in.dev.Softmax(y, x, mode)
				in.dev.Softmax(x, x, mode)
				return []*tensor.Tensor{y, x}
			}},
			kernelCase{name: fmt.Sprintf("SoftmaxBackward/%d", mode), rtol: rtolF32, run: func(in *inputs) []*tensor.Tensor {
				x, g, dx := in.t(2, 9, 9), in.t(2, 9, 9), in.t(2, 9, 9)
				y := in.dev.Zeros(2, 9, 9)
				in.dev.Softmax(y, x, mode)
				in.dev.SoftmaxBackward(dx, g, y, mode)
				return []*tensor.Tensor{dx}
			}})
	}
	cases = append(cases, kernelCase{name: "Softmax/wide", rtol: rtolF32, run: func(in *inputs) []*tensor.Tensor {
		x := in.t(3, 1000)
		y := in.dev.Zeros(3, 1000)
		in.dev.Softmax(y, x, tensor.SoftmaxPlain)
		return []*tensor.Tensor{y}
	}})
	for _, affine := range []bool{true, false} {
		cases = append(cases,
			kernelCase{name: fmt.Sprintf("LayerNorm/affine=%v", affine), rtol: rtolF32, run: func(in *inputs) []*tensor.Tensor {
				x := in.t(5, 33)
				var w, b *tensor.Tensor
				if affine {
					w, b = in.t(33), in.t(33)
				}
				out, mean, rstd := in.dev.Zeros(5, 33), in.dev.Zeros(5), in.dev.Zeros(5)
				in.dev.LayerNorm(out, mean, rstd, x, w, b, 1e-5)
				return []*tensor.Tensor{out, mean, rstd}
			}},
			kernelCase{name: fmt.Sprintf("LayerNormBackward/affine=%v", affine), rtol: rtolF32, run: func(in *inputs) []*tensor.Tensor {
				x, g := in.t(5, 33), in.t(5, 33)
				var w *tensor.Tensor
				if affine {
					w = in.t(33)
				}
				out, mean, rstd := in.dev.Zeros(5, 33), in.dev.Zeros(5), in.dev.Zeros(5)
				in.dev.LayerNorm(out, mean, rstd, x, w, nil, 1e-5)
				dx, dw, db := in.t(5, 33), in.t(33), in.t(33)
				in.dev.LayerNormBackward(dx, dw, db, g, x, w, mean, rstd)
				dx2 := in.t(5, 33)
				in.dev.LayerNormBackward(dx2, nil, nil, g, x, w, mean, rstd)
				dw2 := in.t(33)
				in.dev.LayerNormBackward(nil, dw2, nil, g, x, w, mean, rstd)
				return []*tensor.Tensor{dx, dw, db, dx2, dw2}
			}})
	}
	// Many rows: the weight gradients are summed in chunks.
	cases = append(cases, kernelCase{name: "LayerNormBackward/rows=300", rtol: rtolF32, run: func(in *inputs) []*tensor.Tensor {
		x, g, w := in.t(300, 7), in.t(300, 7), in.t(7)
		out, mean, rstd := in.dev.Zeros(300, 7), in.dev.Zeros(300), in.dev.Zeros(300)
		in.dev.LayerNorm(out, mean, rstd, x, w, in.t(7), 1e-5)
		dx, dw, db := in.t(300, 7), in.t(7), in.t(7)
		in.dev.LayerNormBackward(dx, dw, db, g, x, w, mean, rstd)
		return []*tensor.Tensor{out, dx, dw, db}
	}})
	ids := []int32{3, 0, 6, 3, 3, 1, 6}
	cases = append(cases,
		kernelCase{name: "Gather", rtol: rtolF32, run: func(in *inputs) []*tensor.Tensor {
			table := in.t(7, 5)
			out := in.dev.Zeros(7, 5)
			in.dev.Gather(out, table, ids)
			return []*tensor.Tensor{out}
		}},
		kernelCase{name: "ScatterAdd", rtol: rtolF32, run: func(in *inputs) []*tensor.Tensor {
			dt := in.t(7, 5)
			in.dev.ScatterAdd(dt, in.t(7, 5), ids)
			return []*tensor.Tensor{dt}
		}},
	)
	for _, ignore := range []int32{-100, 2} {
		targets := []int32{2, 0, 30, -100, 2, 5}
		if ignore != -100 {
			targets[3] = 1
		}
		cases = append(cases,
			kernelCase{name: fmt.Sprintf("CrossEntropy/ignore=%d", ignore), rtol: rtolF32, run: func(in *inputs) []*tensor.Tensor {
				logits := in.t(2, 3, 31)
				loss, lse := in.dev.Zeros(2, 3), in.dev.Zeros(6)
				in.dev.CrossEntropy(loss, lse, logits, targets, ignore)
				return []*tensor.Tensor{loss, lse}
			}},
			kernelCase{name: fmt.Sprintf("CrossEntropyBackward/ignore=%d", ignore), rtol: rtolF32, run: func(in *inputs) []*tensor.Tensor {
				logits := in.t(6, 31)
				loss, lse := in.dev.Zeros(6), in.dev.Zeros(6)
				in.dev.CrossEntropy(loss, lse, logits, targets, ignore)
				dl := in.t(6, 31)
				in.dev.CrossEntropyBackward(dl, in.t(6), logits, lse, targets, ignore)
				return []*tensor.Tensor{dl}
			}},
		)
	}
	return cases
}

func TestConvAgainstCPU(t *testing.T) { runCases(t, NewInterpreted(), convCases()) }

// convCases are the conv methods' cases.
func convCases() []kernelCase {
	var cases []kernelCase
	// Kernels of 256 taps and more go through FFTs (n = 1024 here).
	for _, sz := range []struct{ b, l, h, lk int }{{2, 9, 3, 5}, {1, 70, 2, 64}, {1, 7, 5, 7}, {2, 300, 3, 260}, {1, 257, 2, 257}} {
		for _, skip := range []bool{true, false} {
			name := fmt.Sprintf("B%d_L%d_H%d_Lk%d_skip=%v", sz.b, sz.l, sz.h, sz.lk, skip)
			mk := func(in *inputs) (u, k, d *tensor.Tensor) {
				u, k = in.t(sz.b, sz.l, sz.h), in.t(sz.h, sz.lk)
				if skip {
					d = in.t(sz.h)
				}
				return
			}
			cases = append(cases,
				kernelCase{name: "ShortConv/" + name, rtol: rtolF32, run: func(in *inputs) []*tensor.Tensor {
					u, k, d := mk(in)
					y := in.dev.Zeros(u.Shape()...)
					in.dev.ShortConv(y, u, k, d)
					return []*tensor.Tensor{y}
				}},
				kernelCase{name: "ShortConvBackward/" + name, rtol: rtolF32, run: func(in *inputs) []*tensor.Tensor {
					u, k, d := mk(in)
					dy, du, dk := in.t(u.Shape()...), in.t(u.Shape()...), in.t(k.Shape()...)
					var dd *tensor.Tensor
					if skip {
						dd = in.t(sz.h)
					}
					in.dev.ShortConvBackward(du, dk, dd, dy, u, k, d)
					return []*tensor.Tensor{du, dk, dd}
				}},
				kernelCase{name: "CausalConv/" + name, rtol: rtolF32, run: func(in *inputs) []*tensor.Tensor {
					u, k, d := mk(in)
					y := in.dev.Zeros(u.Shape()...)
					in.dev.CausalConv(y, u, k, d)
					return []*tensor.Tensor{y}
				}},
				kernelCase{name: "CausalConvBackward/" + name, rtol: rtolF32, run: func(in *inputs) []*tensor.Tensor {
					u, k, d := mk(in)
					dy, du, dk := in.t(u.Shape()...), in.t(u.Shape()...), in.t(k.Shape()...)
					var dd *tensor.Tensor
					if skip {
						dd = in.t(sz.h)
					}
					in.dev.CausalConvBackward(du, dk, dd, dy, u, k, d)
					return []*tensor.Tensor{du, dk, dd}
				}},
			)
		}
	}
	return cases
}

func TestSSMAgainstCPU(t *testing.T) { runCases(t, NewInterpreted(), ssmCases()) }

// ssmCases are the SSM methods' cases.
func ssmCases() []kernelCase {
	const h, n, l = 3, 4, 11
	diag := func(in *inputs) []*tensor.Tensor {
		logDt := in.dev.FromHost([]float32{-3, -4.5, -2.2}, h)
		invA := in.t(h, n)
		aImag := in.t(h, n)
		return []*tensor.Tensor{logDt, invA, aImag, in.t(h, n, 2), in.t(1, h, n, 2)}
	}
	var cases []kernelCase
	for _, disc := range []tensor.Discretization{tensor.ZOH, tensor.Bilinear} {
		cases = append(cases,
			kernelCase{name: "DiagSSMKernel/" + disc.String(), rtol: rtolF32, run: func(in *inputs) []*tensor.Tensor {
				p := diag(in)
				k := in.dev.Zeros(h, l)
				in.dev.DiagSSMKernel(k, p[0], p[1], p[2], p[3], p[4], disc)
				return []*tensor.Tensor{k}
			}},
			kernelCase{name: "DiagSSMKernelBackward/" + disc.String(), rtol: rtolF32, run: func(in *inputs) []*tensor.Tensor {
				p := diag(in)
				g := []*tensor.Tensor{in.t(h), in.t(h, n), in.t(h, n), in.t(h, n, 2), in.t(1, h, n, 2)}
				in.dev.DiagSSMKernelBackward(in.t(h, l), p[0], p[1], p[2], p[3], p[4], disc, g[0], g[1], g[2], g[3], g[4])
				return g
			}},
		)
	}
	cases = append(cases,
		// More modes than a block has threads: the kernel takes them in groups.
		kernelCase{name: "DiagSSMKernel/N=257", rtol: rtolF32, run: func(in *inputs) []*tensor.Tensor {
			const modes = 257
			logDt := in.dev.FromHost([]float32{-3}, 1)
			p := []*tensor.Tensor{logDt, in.t(1, modes), in.t(1, modes), in.t(1, modes, 2), in.t(1, modes, 2)}
			k := in.dev.Zeros(1, 6)
			in.dev.DiagSSMKernel(k, p[0], p[1], p[2], p[3], p[4], tensor.ZOH)
			g := []*tensor.Tensor{in.t(1), in.t(1, modes), in.t(1, modes), in.t(1, modes, 2), in.t(1, modes, 2)}
			in.dev.DiagSSMKernelBackward(in.t(1, 6), p[0], p[1], p[2], p[3], p[4], tensor.ZOH, g[0], g[1], g[2], g[3], g[4])
			return append([]*tensor.Tensor{k}, g...)
		}},
		kernelCase{name: "ShiftSSMKernel", rtol: rtolF32, run: func(in *inputs) []*tensor.Tensor {
			b, c := in.t(h, 8), in.t(1, h, 8)
			k := in.dev.Zeros(h, 5)
			in.dev.ShiftSSMKernel(k, b, c)
			return []*tensor.Tensor{k}
		}},
		kernelCase{name: "ShiftSSMKernelBackward", rtol: rtolF32, run: func(in *inputs) []*tensor.Tensor {
			b, c := in.t(h, 8), in.t(1, h, 8)
			db, dc := in.t(h, 8), in.t(1, h, 8)
			in.dev.ShiftSSMKernelBackward(in.t(h, 5), b, c, db, dc)
			return []*tensor.Tensor{db, dc}
		}},
	)
	return cases
}

func TestOptimAgainstCPU(t *testing.T) { runCases(t, NewInterpreted(), optimCases()) }

// optimCases are the optim methods' cases.
func optimCases() []kernelCase {
	var cases []kernelCase
	for _, n := range []int{1, 7, 1027} {
		cases = append(cases,
			kernelCase{name: fmt.Sprintf("AdamW/%d", n), rtol: rtolF32, run: func(in *inputs) []*tensor.Tensor {
				p, g, m, v := in.t(n), in.t(n), in.t(n), in.pos(n)
				for step := 1; step <= 3; step++ {
					in.dev.AdamW(p, g, m, v, tensor.AdamWStep{LR: 1e-2, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.1, GradScale: 0.7, Step: step})
				}
				return []*tensor.Tensor{p, m, v}
			}},
			kernelCase{name: fmt.Sprintf("SGD/%d", n), rtol: rtolF32, run: func(in *inputs) []*tensor.Tensor {
				p, g, b := in.t(n), in.t(n), in.t(n)
				in.dev.SGD(p, g, b, 0.1, 0.9, 0.01, 0.5)
				return []*tensor.Tensor{p, b}
			}},
		)
	}
	return cases
}

func TestSquaredNormAgainstCPU(t *testing.T) { testSquaredNorm(t, NewInterpreted(), 1, 31, 4097, 9000) }

func testSquaredNorm(t *testing.T, dev *Device, sizes ...int) {
	for _, n := range sizes {
		x := newInputs(tensor.DefaultCPU(), uint64(n)).t(n)
		want := tensor.DefaultCPU().SquaredNorm(x)
		got := dev.SquaredNorm(x.To(dev))
		// Positive terms: float32 partial sums per block keep the error near 1e-6.
		if math.Abs(got-want) > 1e-5*want {
			t.Errorf("SquaredNorm(%d) = %v, want %v", n, got, want)
		}
	}
	if fb := dev.HostFallbacks(); len(fb) > 0 {
		t.Errorf("SquaredNorm fell back: %v", fb)
	}
}
