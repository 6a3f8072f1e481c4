package autograd

import (
	"fmt"
	"math"
	"os"
	"testing"

	"github.com/hungry-ssm/hungry/tensor"
)

// repeatHeads repeats each row of k (H, …) over rep consecutive rows, as the H3 mixer
// repeats a head's kernel and skip weight over its head_dim² channels.
func repeatHeads(g *Graph, k *Var, rep int) *Var {
	s := k.Shape()
	zeros := Constant(tensor.DefaultCPU().Zeros(append([]int{rep}, s...)...))
	r := Add(g, zeros, k)
	if len(s) == 1 {
		return Reshape(g, Transpose(g, r), s[0]*rep)
	}
	return Reshape(g, Permute(g, r, 1, 0, 2), s[0]*rep, s[1])
}

// statePassCase is a diagonal SSM with its input and the gradient seeded at the output.
type statePassCase struct {
	ssm   DiagSSM
	d     *Var
	u     *Var
	seed  *tensor.Tensor
	rep   int
	modes int
}

func newStatePassCase(rng *tensor.RNG, disc tensor.Discretization, batch, l, heads, rep, modes int) *statePassCase {
	dev := tensor.DefaultCPU()
	logDt := make([]float32, heads)
	for i := range logDt {
		// Steps from 1e-3 to 1e-1 as the layer draws them: the slowest modes still carry
		// a visible part of the first chunk into the last.
		logDt[i] = float32(math.Log(1e-3) + rng.Float64()*math.Log(100))
	}
	aImag := make([]float32, heads*modes)
	for i := range aImag {
		aImag[i] = float32(math.Pi*float64(i%modes)) + 0.1*float32(rng.NormFloat64())
	}
	c := dev.Zeros(1, heads, modes, 2)
	cp := tensor.RandNormal(dev, rng, 0.7, 1, heads, modes, 2)
	dev.Copy(c, cp)
	return &statePassCase{
		ssm: DiagSSM{
			LogDt:    NewParam("log_dt", dev.FromHost(logDt, heads)),
			InvAReal: NewParam("inv_A_real", dev.FromHost(rng.Normal(heads*modes, float32(math.Log(0.5)), 0.3), heads, modes)),
			AImag:    NewParam("A_imag", dev.FromHost(aImag, heads, modes)),
			B:        NewParam("B", dev.FromHost(rng.Normal(heads*modes*2, 0.7, 0.3), heads, modes, 2)),
			C:        NewParam("C", c),
			Disc:     disc,
		},
		d:     NewParam("D", tensor.RandNormal(dev, rng, 1, heads)),
		u:     NewParam("u", tensor.RandNormal(dev, rng, 1, batch, l, heads*rep)),
		seed:  tensor.RandNormal(dev, rng, 1, batch, l, heads*rep),
		rep:   rep,
		modes: modes,
	}
}

func (c *statePassCase) params() []*Var {
	return []*Var{c.u, c.d, c.ssm.LogDt, c.ssm.InvAReal, c.ssm.AImag, c.ssm.B, c.ssm.C}
}

// run returns the output and every gradient, single-shot when chunk is 0.
func (c *statePassCase) run(t *testing.T, chunk int) []*tensor.Tensor {
	t.Helper()
	for _, p := range c.params() {
		p.ZeroGrad()
	}
	g := NewGraph()
	l := c.u.Shape()[1]
	s := c.ssm
	d := repeatHeads(g, c.d, c.rep)
	var y *Var
	if chunk == 0 {
		k := repeatHeads(g, DiagSSMKernel(g, s.LogDt, s.InvAReal, s.AImag, s.B, s.C, l, s.Disc), c.rep)
		y = CausalConv(g, c.u, k, d)
	} else {
		k := repeatHeads(g, DiagSSMKernel(g, s.LogDt, s.InvAReal, s.AImag, s.B, s.C, chunk, s.Disc), c.rep)
		y = ChunkedConv(g, c.u, k, d, s)
	}
	if err := g.BackwardWith(y, c.seed); err != nil {
		t.Fatal(err)
	}
	out := []*tensor.Tensor{y.Value}
	for _, p := range c.params() {
		out = append(out, p.GradTensor())
	}
	return out
}

var statePassNames = []string{"y", "du", "dD", "dlog_dt", "dinv_A_real", "dA_imag", "dB", "dC"}

// relErr is max|a−b| / max|b|: the error relative to the tensor's scale, since single
// entries of a gradient can cancel to near zero.
func relErr(a, b *tensor.Tensor) float64 {
	ad, bd := a.Host(), b.Host()
	num, den := 0.0, 0.0
	for i := range ad {
		num = math.Max(num, math.Abs(float64(ad[i])-float64(bd[i])))
		den = math.Max(den, math.Abs(float64(bd[i])))
	}
	return num / den
}

// compareStatePass checks the chunked convolution against the single-shot one for the
// output and every gradient and returns the largest relative error.
func compareStatePass(t *testing.T, c *statePassCase, chunk int, tol float64) float64 {
	t.Helper()
	want := c.run(t, 0)
	got := c.run(t, chunk)
	worst := 0.0
	for i := range want {
		e := relErr(got[i], want[i])
		worst = math.Max(worst, e)
		if !(e <= tol) {
			t.Errorf("chunk %d: %s differs by %.3g relative (tolerance %g)", chunk, statePassNames[i], e, tol)
		}
	}
	return worst
}

// TestChunkedConvMatchesSingleShot compares outputs and gradients of all parameters with
// the single-shot FFT convolution. 1e-5 relative is the bound; both paths sum in
// float32 FFTs of different lengths, which is where the difference comes from (a few
// 1e-7 of the largest value).
func TestChunkedConvMatchesSingleShot(t *testing.T) {
	rng := tensor.NewRNG(131)
	for _, disc := range []tensor.Discretization{tensor.ZOH, tensor.Bilinear} {
		for _, rep := range []int{1, 4} {
			c := newStatePassCase(rng, disc, 2, 301, 3, rep, 5)
			for _, chunk := range []int{7, 64, 100, 301, 400} {
				t.Run(fmt.Sprintf("%v/rep%d/chunk%d", disc, rep, chunk), func(t *testing.T) {
					compareStatePass(t, c, chunk, 1e-5)
				})
			}
		}
	}
}

// TestChunkedConvGrad checks the chunked op's gradients against finite differences, so
// that they are right on their own and not only equal to the single-shot op's.
func TestChunkedConvGrad(t *testing.T) {
	rng := tensor.NewRNG(132)
	for _, disc := range []tensor.Discretization{tensor.ZOH, tensor.Bilinear} {
		c := newStatePassCase(rng, disc, 2, 11, 2, 4, 3)
		// Large steps so that every parameter moves the output within eleven positions.
		for i := range c.ssm.LogDt.Value.Data() {
			c.ssm.LogDt.Value.Data()[i] = float32(math.Log(0.3))
		}
		err := CheckGrad(func(g *Graph, in []*Var) *Var {
			s := DiagSSM{LogDt: in[2], InvAReal: in[3], AImag: in[4], B: in[5], C: in[6], Disc: disc}
			k := repeatHeads(g, DiagSSMKernel(g, s.LogDt, s.InvAReal, s.AImag, s.B, s.C, 4, disc), c.rep)
			return ChunkedConv(g, in[0], k, repeatHeads(g, in[1], c.rep), s)
		}, c.params(), GradCheckOptions{})
		if err != nil {
			t.Errorf("%v: %v", disc, err)
		}
	}
}

// TestChunkedConvLong is the acceptance check at L = 65,536 with chunks of 8,192
// and 1,000, head_dim 1 and 8, zoh and bilinear. It takes minutes on two cores, so it
// runs only with HUNGRY_LONG_TESTS=1.
func TestChunkedConvLong(t *testing.T) {
	if testing.Short() || os.Getenv("HUNGRY_LONG_TESTS") == "" {
		t.Skip("set HUNGRY_LONG_TESTS=1 to run the L = 65,536 comparison")
	}
	rng := tensor.NewRNG(133)
	for _, disc := range []tensor.Discretization{tensor.ZOH, tensor.Bilinear} {
		for _, hd := range []int{1, 8} {
			// 16 channels of head_dim 1, or 2 heads of 8·8 entries; 32 modes as the
			// default model has.
			heads := 16
			if hd > 1 {
				heads = 2
			}
			c := newStatePassCase(rng, disc, 1, 65536, heads, hd*hd, 32)
			for _, chunk := range []int{8192, 1000} {
				worst := compareStatePass(t, c, chunk, 1e-5)
				t.Logf("%v head_dim %d chunk %d: largest relative difference %.3g", disc, hd, chunk, worst)
			}
		}
	}
}
