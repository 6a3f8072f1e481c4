package gpu

import (
	"fmt"
	"math"
	"testing"

	"github.com/hungry-ssm/hungry/ptx/kernels"
	"github.com/hungry-ssm/hungry/tensor"
)

// h3Case is one shape of the fused H3 convolution tests.
type h3Case struct{ b, l, h, dh int }

func (c h3Case) String() string { return fmt.Sprintf("B=%d L=%d H=%d dh=%d", c.b, c.l, c.h, c.dh) }

// h3ConvTol bounds the fp32 kernels' relative error (2-norm) against float64: float32
// FFT round trips of length up to 16384 err by about log2(N)·2⁻²⁴ relative to the
// transformed sequence's norm, a few 1e-7 (the CPU's measure the same); 1e-5 is the
// issue's bound for fp32 math.
const h3ConvTol = 1e-5

// relErr64 is ‖got − want‖₂ / ‖want‖₂.
func relErr64(got []float32, want []float64) float64 {
	var num, den float64
	for i, w := range want {
		e := float64(got[i]) - w
		num += e * e
		den += w * w
	}
	return math.Sqrt(num / den)
}

// h3ConvErrors runs dev's fused kernels on random inputs of shape c and returns the
// relative error of the output and of each gradient against tensor.H3ConvReference:
// every gradient alone from zero, then all of them added to random ones.
func h3ConvErrors(t *testing.T, dev tensor.Device, c h3Case, seed uint64) map[string]float64 {
	t.Helper()
	rng := tensor.NewRNG(seed)
	cpu := tensor.DefaultCPU()
	heads, bins := c.h/c.dh, tensor.H3SpectrumBins(c.l)
	host := func(std float32, shape ...int) *tensor.Tensor { return tensor.RandNormal(cpu, rng, std, shape...) }
	kt, v, q, dy := host(1, c.b, c.l, c.h), host(1, c.b, c.l, c.h), host(1, c.b, c.l, c.h), host(1, c.b, c.l, c.h)
	k, d := host(1/float32(math.Sqrt(float64(c.l))), heads, c.l), host(1, heads)
	ref := tensor.H3ConvReference(kt.Host(), v.Host(), q.Host(), k.Host(), d.Host(), dy.Host(), c.b, c.l, c.h, c.dh, c.l)
	on := func(x *tensor.Tensor) *tensor.Tensor { return dev.FromHost(x.Host(), x.Shape()...) }
	gkt, gv, gq, gdy, gk, gd := on(kt), on(v), on(q), on(dy), on(k), on(d)

	// Both outputs start out as garbage: autograd takes them from Device.Empty, so the
	// kernels must write every element.
	khat := dev.Zeros(heads, bins, 2)
	dev.Fill(khat, float32(math.NaN()))
	dev.H3Spectrum(khat, gk)
	y := on(host(1, c.b, c.l, c.h)) // overwritten, not added to
	dev.H3Conv(y, gkt, gv, gq, gd, khat, c.dh)
	errs := map[string]float64{"y": relErr64(y.Host(), ref.Y)}

	seq := []int{c.b, c.l, c.h}
	want := map[string][]float64{"dk̃": ref.DKt, "dv": ref.DV, "dq": ref.DQ, "dd": ref.DD}
	shapes := map[string][]int{"dk̃": seq, "dv": seq, "dq": seq, "dd": {heads}}
	names := []string{"dk̃", "dv", "dq", "dd"}
	backward := func(g map[string]*tensor.Tensor, dkhat *tensor.Tensor) {
		dev.H3ConvBackward(g["dk̃"], g["dv"], g["dq"], g["dd"], dkhat, gdy, gkt, gv, gq, gd, khat, c.dh)
	}
	for _, name := range names {
		g := map[string]*tensor.Tensor{name: dev.Zeros(shapes[name]...)}
		backward(g, nil)
		errs[name+" alone"] = relErr64(g[name].Host(), want[name])
	}
	dkhat := dev.Zeros(heads, bins, 2)
	backward(map[string]*tensor.Tensor{}, dkhat)
	dk := dev.Zeros(heads, c.l)
	dev.H3SpectrumBackward(dk, dkhat)
	errs["dk alone"] = relErr64(dk.Host(), ref.DK)

	g := map[string]*tensor.Tensor{}
	sums := map[string][]float64{}
	for _, name := range append(names, "dk") {
		shape := shapes[name]
		w := want[name]
		if name == "dk" {
			shape, w = []int{heads, c.l}, ref.DK
		}
		base := host(1, shape...)
		g[name] = on(base)
		sums[name] = append([]float64(nil), w...)
		for i, e := range base.Host() {
			sums[name][i] += float64(e)
		}
	}
	dkhat = on(host(1, heads, bins, 2))
	dkhat0 := dkhat.Host()
	backward(g, dkhat)
	// The spectrum gradient went onto a random one: take the random part off through the
	// same inverse transform before comparing the kernel's gradient.
	dev.H3SpectrumBackward(g["dk"], dkhat)
	dev.H3SpectrumBackward(g["dk"], dev.FromHost(negate(dkhat0), heads, bins, 2))
	for name, t := range g {
		errs[name+" together"] = relErr64(t.Host(), sums[name])
	}
	return errs
}

func negate(x []float32) []float32 {
	out := make([]float32, len(x))
	for i, e := range x {
		out[i] = -e
	}
	return out
}

// h3ConvTolTF32 bounds the TF32 kernels' error: each radix-16 stage rounds its inputs
// and the DFT's entries to 10 mantissa bits (2⁻¹¹ relative each), and a sequence of
// 8192 goes through three such stages forward and three inverse; the bound.
const h3ConvTolTF32 = 3e-3

func testH3Conv(t *testing.T, dev tensor.Device, cases []h3Case) {
	testH3ConvTol(t, dev, cases, h3ConvTol)
}

func testH3ConvTol(t *testing.T, dev tensor.Device, cases []h3Case, tol float64) {
	for i, c := range cases {
		errs := h3ConvErrors(t, dev, c, uint64(100+i))
		worst, which := 0.0, ""
		for name, e := range errs {
			if e > worst || math.IsNaN(e) {
				worst, which = e, name
			}
			if !(e <= tol) {
				t.Errorf("%v: %s relative error %.3g > %g", c, name, e, tol)
			}
		}
		t.Logf("%v: worst relative error %.2e (%s)", c, worst, which)
	}
}

// f32Device sets dev's fused convolution to fp32 FFTs and returns it.
func f32Device(dev *Device) *Device {
	dev.SetConvPrecision(ConvF32)
	return dev
}

// TestH3ConvInterpreted runs the fused kernels in the interpreter on awkward shapes.
func TestH3ConvInterpreted(t *testing.T) {
	testH3Conv(t, f32Device(NewInterpreted()), []h3Case{
		{1, 1, 1, 1}, {2, 7, 3, 1}, {2, 100, 4, 1}, {1, 7, 8, 8}, {2, 33, 16, 8}, {1, 20, 6, 2},
	})
}

// TestH3ConvInterpretedTF32 runs the tensor-core variant on lengths with one, two and
// three radix-16 stages and leftover radix-2 ones.
func TestH3ConvInterpretedTF32(t *testing.T) {
	dev := NewInterpreted()
	dev.SetConvPrecision(ConvTF32)
	testH3ConvTol(t, dev, []h3Case{{1, 7, 1, 1}, {2, 16, 3, 1}, {2, 20, 4, 1}, {1, 100, 2, 1}, {1, 33, 8, 8}, {1, 200, 2, 1}, {1, 257, 2, 1}}, h3ConvTolTF32)
}

// h3ConvTolBF16 is the bound for bfloat16 inputs: 7 mantissa bits, 2⁻⁸ relative
// per rounding, through the same stages as TF32.
const h3ConvTolBF16 = 1e-2

// TestH3ConvInterpreted16 runs the 16-bit tensor-core variants (m16n8k16) on the shapes
// of TestH3ConvInterpretedTF32: bf16 at the 1e-2, f16 (10 mantissa bits, as
// TF32) at TF32's bound.
func TestH3ConvInterpreted16(t *testing.T) {
	cases := []h3Case{{1, 7, 1, 1}, {2, 16, 3, 1}, {2, 20, 4, 1}, {1, 100, 2, 1}, {1, 33, 8, 8}, {1, 200, 2, 1}, {1, 257, 2, 1}}
	for _, p := range []struct {
		name string
		prec ConvPrecision
		tol  float64
	}{{"bf16", ConvBF16, h3ConvTolBF16}, {"f16", ConvF16, h3ConvTolTF32}} {
		t.Run(p.name, func(t *testing.T) {
			dev := NewInterpreted()
			dev.SetConvPrecision(p.prec)
			testH3ConvTol(t, dev, cases, p.tol)
		})
	}
}

// TestH3ConvInterpretedLong takes the acceptance lengths up to 8192, whose shared
// memory needs the opt-in; the interpreter takes tens of seconds on them.
func TestH3ConvInterpretedLong(t *testing.T) {
	if testing.Short() {
		t.Skip("long sequences in the interpreter")
	}
	testH3Conv(t, f32Device(NewInterpreted()), []h3Case{
		{1, 1000, 2, 1}, {2, 1024, 1, 1}, {1, 100, 8, 8}, {1, 2048, 8, 8}, {1, 4096, 1, 1}, {1, 8192, 1, 1},
	})
	tf := NewInterpreted()
	tf.SetConvPrecision(ConvTF32)
	testH3ConvTol(t, tf, []h3Case{{1, 1000, 2, 1}, {1, 4096, 1, 1}, {1, 8192, 1, 1}}, h3ConvTolTF32)
	bf := NewInterpreted()
	bf.SetConvPrecision(ConvBF16)
	testH3ConvTol(t, bf, []h3Case{{1, 1000, 2, 1}, {1, 8192, 1, 1}}, h3ConvTolBF16)
}

// TestGPUH3Conv runs the interpreter's cases and the acceptance lengths on a GPU.
func TestGPUH3Conv(t *testing.T) {
	dev := openGPU(t)
	dev.SetConvPrecision(ConvF32)
	cases := []h3Case{
		{1, 1, 1, 1}, {2, 7, 3, 1}, {2, 100, 4, 1}, {1, 7, 8, 8}, {2, 33, 16, 8}, {1, 20, 6, 2},
		{2, 1000, 4, 1}, {2, 1024, 4, 1}, {2, 4096, 4, 1}, {2, 8192, 4, 1},
		{2, 1000, 32, 8}, {2, 4096, 32, 8}, {2, 8192, 32, 8},
	}
	testH3Conv(t, dev, cases)
	dev.SetConvPrecision(ConvTF32)
	testH3ConvTol(t, dev, cases, h3ConvTolTF32)
}

// TestH3ConvLaunches: the H3 convolution is one launch forward and two backward, in TF32
// unless set otherwise, and CausalConv's FFT path runs the fp32 kernels.
func TestH3ConvLaunches(t *testing.T) {
	const b, l, h, dh = 1, 40, 4, 2
	dev := NewInterpreted()
	in := newInputs(dev, 3)
	kt, v, q, dy := in.t(b, l, h), in.t(b, l, h), in.t(b, l, h), in.t(b, l, h)
	k, d := in.t(h/dh, l), in.t(h/dh)
	khat := dev.Zeros(h/dh, tensor.H3SpectrumBins(l), 2)
	dev.H3Spectrum(khat, k)
	dev.H3Conv(dev.Zeros(b, l, h), kt, v, q, d, khat, dh)
	dev.H3ConvBackward(dev.Zeros(b, l, h), dev.Zeros(b, l, h), dev.Zeros(b, l, h), dev.Zeros(h/dh), dev.Zeros(khat.Shape()...),
		dy, kt, v, q, d, khat, dh)
	want := map[string]int{
		kernels.H3SpectrumTf32Kernel.Name: 1, kernels.H3ConvFwdTf32Kernel.Name: 1,
		kernels.H3ConvBwdTf32Kernel.Name: 1, kernels.H3ConvBwdReduceF32Kernel.Name: 1,
	}
	for name, n := range want {
		if got := dev.Launches()[name]; got != n {
			t.Errorf("%s: %d launches, want %d", name, got, n)
		}
	}
	u, kk := in.t(b, 300, h), in.t(h, 300)
	dev.CausalConv(dev.Zeros(b, 300, h), u, kk, nil)
	if n := dev.Launches()[kernels.H3ConvFwdF32Kernel.Name]; n != 1 {
		t.Errorf("CausalConv ran h3_conv_fwd_f32 %d times, want 1", n)
	}
}
