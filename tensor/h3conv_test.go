package tensor

import (
	"fmt"
	"math"
	"testing"
)

type h3Case struct{ b, l, h, dh int }

func (c h3Case) String() string { return fmt.Sprintf("B=%d L=%d H=%d dh=%d", c.b, c.l, c.h, c.dh) }

// h3Cases are awkward sizes: single steps, odd and non-power-of-two lengths, tiles that
// do not divide the channels, heads of 1 and 8.
var h3Cases = []h3Case{
	{1, 1, 1, 1}, {2, 7, 3, 1}, {2, 100, 4, 1}, {1, 1000, 2, 1}, {2, 1024, 4, 1}, {1, 33, 19, 1},
	{1, 1, 8, 8}, {2, 7, 16, 8}, {1, 100, 8, 8}, {2, 1000, 32, 8}, {1, 50, 6, 2},
}

var h3LongCases = []h3Case{{1, 4096, 4, 1}, {2, 8192, 2, 1}, {1, 4096, 8, 8}, {1, 8192, 8, 8}}

// h3Inputs draws the operands of an H3 convolution: unit-variance sequences, kernels
// scaled so each output has about unit variance, and skip weights.
type h3Inputs struct {
	kt, v, q, dy, k, d *Tensor
}

func newH3Inputs(dev Device, rng *RNG, c h3Case) h3Inputs {
	heads := c.h / c.dh
	return h3Inputs{
		kt: RandNormal(dev, rng, 1, c.b, c.l, c.h),
		v:  RandNormal(dev, rng, 1, c.b, c.l, c.h),
		q:  RandNormal(dev, rng, 1, c.b, c.l, c.h),
		dy: RandNormal(dev, rng, 1, c.b, c.l, c.h),
		k:  RandNormal(dev, rng, 1/float32(math.Sqrt(float64(c.l))), heads, c.l),
		d:  RandNormal(dev, rng, 1, heads),
	}
}

func (in h3Inputs) reference(c h3Case) H3ConvRef {
	return H3ConvReference(in.kt.Host(), in.v.Host(), in.q.Host(), in.k.Host(), in.d.Host(), in.dy.Host(), c.b, c.l, c.h, c.dh, c.l)
}

// h3Errors runs dev's fused kernels on in and returns the relative error (2-norm) of
// the output and each gradient against the float64 reference, computed each alone from
// zero and then all together added to non-zero gradients.
func h3Errors(t *testing.T, dev interface {
	Device
	H3ConvKernels
}, rng *RNG, c h3Case, in h3Inputs, ref H3ConvRef) map[string]float64 {
	t.Helper()
	heads := c.h / c.dh
	bins := H3SpectrumBins(c.l)
	khat := dev.Zeros(heads, bins, 2)
	dev.H3Spectrum(khat, in.k)
	y := RandNormal(dev, rng, 1, c.b, c.l, c.h) // overwritten, not added to
	dev.H3Conv(y, in.kt, in.v, in.q, in.d, khat, c.dh)
	errs := map[string]float64{"y": relErr64(y.Host(), ref.Y)}
	shape := []int{c.b, c.l, c.h}
	grad := func(name string, zero bool) *Tensor {
		var g *Tensor
		switch name {
		case "dk̃", "dv", "dq":
			g = dev.Zeros(shape...)
		case "dd":
			g = dev.Zeros(heads)
		case "dK̂":
			g = dev.Zeros(heads, bins, 2)
		}
		if !zero {
			g = RandNormal(dev, rng, 1, g.Shape()...)
		}
		return g
	}
	dk := func(dkhat *Tensor, base *Tensor) []float32 {
		dev.H3SpectrumBackward(base, dkhat)
		return base.Host()
	}
	want := map[string][]float64{"dk̃": ref.DKt, "dv": ref.DV, "dq": ref.DQ, "dd": ref.DD, "dk": ref.DK}
	for _, name := range []string{"dk̃", "dv", "dq", "dd", "dK̂"} {
		gs := map[string]*Tensor{name: grad(name, true)}
		dev.H3ConvBackward(gs["dk̃"], gs["dv"], gs["dq"], gs["dd"], gs["dK̂"], in.dy, in.kt, in.v, in.q, in.d, khat, c.dh)
		if name == "dK̂" {
			errs["dk alone"] = relErr64(dk(gs[name], dev.Zeros(heads, c.l)), ref.DK)
		} else {
			errs[name+" alone"] = relErr64(gs[name].Host(), want[name])
		}
	}
	gs := map[string]*Tensor{}
	sums := map[string][]float64{}
	for _, name := range []string{"dk̃", "dv", "dq", "dd"} {
		gs[name] = grad(name, false)
		sums[name] = append([]float64(nil), want[name]...)
		for i, e := range gs[name].Host() {
			sums[name][i] += float64(e)
		}
	}
	dkhat := dev.Zeros(heads, bins, 2)
	dev.H3ConvBackward(gs["dk̃"], gs["dv"], gs["dq"], gs["dd"], dkhat, in.dy, in.kt, in.v, in.q, in.d, khat, c.dh)
	for name, g := range gs {
		errs[name+" together"] = relErr64(g.Host(), sums[name])
	}
	base := RandNormal(dev, rng, 1, heads, c.l)
	sumK := append([]float64(nil), ref.DK...)
	for i, e := range base.Host() {
		sumK[i] += float64(e)
	}
	errs["dk together"] = relErr64(dk(dkhat, base), sumK)
	return errs
}

// h3ConvTol bounds the relative error of the CPU's fused kernels against float64: the
// same float32 FFT round trips as CausalConv (fftConvTol), with head sums of dh terms
// that add at most a few ulps more.
const h3ConvTol = fftConvTol

func testH3Conv(t *testing.T, cases []h3Case) {
	cpu := DefaultCPU()
	rng := NewRNG(12)
	for _, c := range cases {
		in := newH3Inputs(cpu, rng, c)
		errs := h3Errors(t, cpu, rng, c, in, in.reference(c))
		worst := 0.0
		for name, e := range errs {
			worst = max(worst, e)
			if e > h3ConvTol || math.IsNaN(e) {
				t.Errorf("%v: %s relative error %.3g > %g", c, name, e, h3ConvTol)
			}
		}
		t.Logf("%v: worst relative error %.2e", c, worst)
	}
}

func TestH3ConvMatchesReference(t *testing.T) { testH3Conv(t, h3Cases) }

func TestH3ConvLongMatchesReference(t *testing.T) {
	if testing.Short() {
		t.Skip("long sequences: the float64 reference takes seconds")
	}
	testH3Conv(t, h3LongCases)
}

// TestH3ReferenceMatchesDirect checks the FFT-based reference itself against the
// convolution written as a sum, and its kernel gradient against refConv's.
func TestH3ReferenceMatchesDirect(t *testing.T) {
	cpu := DefaultCPU()
	rng := NewRNG(5)
	c := h3Case{2, 13, 3, 1}
	in := newH3Inputs(cpu, rng, c)
	ref := in.reference(c)
	u := cpu.Zeros(c.b, c.l, c.h)
	cpu.Binary(OpMul, u, in.kt, in.v)
	g := cpu.Zeros(c.b, c.l, c.h)
	cpu.Binary(OpMul, g, in.dy, in.q)
	direct := refConv(u, in.k, in.d, g)
	for i := range direct.y {
		want := direct.y[i] * float64(in.q.data[i])
		if math.Abs(ref.Y[i]-want) > 1e-5*(1+math.Abs(want)) {
			t.Fatalf("y[%d] = %g, direct sum %g", i, ref.Y[i], want)
		}
	}
	for i := range direct.dk {
		if math.Abs(ref.DK[i]-direct.dk[i]) > 1e-5*(1+math.Abs(direct.dk[i])) {
			t.Fatalf("dk[%d] = %g, direct sum %g", i, ref.DK[i], direct.dk[i])
		}
	}
}

func TestH3ConvShapesRejectMismatches(t *testing.T) {
	x := New(2, 5, 4)
	ok := func() (y, kt, v, q, d, khat *Tensor, dh int) {
		return New(2, 5, 4), x, New(2, 5, 4), New(2, 5, 4), New(2), New(2, H3SpectrumBins(5), 2), 2
	}
	for name, mut := range map[string]func(y, kt, v, q, d, khat **Tensor, dh *int){
		"rank":     func(_, kt, _, _, _, _ **Tensor, _ *int) { *kt = New(10, 4) },
		"v shape":  func(_, _, v, _, _, _ **Tensor, _ *int) { *v = New(2, 5, 3) },
		"y shape":  func(y, _, _, _, _, _ **Tensor, _ *int) { *y = New(2, 4, 4) },
		"head dim": func(_, _, _, _, _, _ **Tensor, dh *int) { *dh = 3 },
		"skip":     func(_, _, _, _, d, _ **Tensor, _ *int) { *d = New(4) },
		"bins":     func(_, _, _, _, _, kh **Tensor, _ *int) { *kh = New(2, 17, 2) },
		"too long": func(_, kt, v, q, _, _ **Tensor, _ *int) {
			*kt, *v, *q = New(1, MaxFFTConvLen+1, 4), New(1, MaxFFTConvLen+1, 4), New(1, MaxFFTConvLen+1, 4)
		},
		"zero heads": func(_, _, _, _, _, _ **Tensor, dh *int) { *dh = 0 },
	} {
		y, kt, v, q, d, khat, dh := ok()
		mut(&y, &kt, &v, &q, &d, &khat, &dh)
		func() {
			defer func() {
				if _, isShape := recover().(*ShapeError); !isShape {
					t.Errorf("%s: want a *ShapeError panic", name)
				}
			}()
			H3ConvShapes("H3Conv", y, kt, v, q, d, khat, dh)
		}()
	}
	func() {
		defer func() {
			if _, isShape := recover().(*ShapeError); !isShape {
				t.Error("kernel longer than the spectrum's half: want a *ShapeError panic")
			}
		}()
		H3SpectrumShapes("H3Spectrum", New(2, 5, 2), New(2, 5))
	}()
}
