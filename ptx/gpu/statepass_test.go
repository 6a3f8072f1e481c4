package gpu

import (
	"fmt"
	"math"
	"os"
	"testing"

	"github.com/hungry-ssm/hungry/autograd"
	"github.com/hungry-ssm/hungry/model"
	"github.com/hungry-ssm/hungry/tensor"
)

// repeatRows repeats each row of x (H, …) over rep consecutive rows, as the H3 mixer
// repeats a head's kernel and skip weight over its head_dim² channels.
func repeatRows(g *autograd.Graph, x *autograd.Var, rep int) *autograd.Var {
	s := x.Shape()
	r := autograd.Add(g, autograd.Constant(x.Device().Zeros(append([]int{rep}, s...)...)), x)
	if len(s) == 1 {
		return autograd.Reshape(g, autograd.Transpose(g, r), s[0]*rep)
	}
	return autograd.Reshape(g, autograd.Permute(g, r, 1, 0, 2), s[0]*rep, s[1])
}

// chunkedRun returns the output and the gradients of u, D and the SSM's parameters of
// the convolution of u with the diagonal SSM's kernel on dev: single-shot for chunk 0,
// with state passing otherwise.
func chunkedRun(t *testing.T, dev tensor.Device, host []*tensor.Tensor, seed *tensor.Tensor, disc tensor.Discretization, rep, chunk int) [][]float32 {
	t.Helper()
	vs := make([]*autograd.Var, len(host))
	for i, h := range host {
		vs[i] = autograd.NewParam(fmt.Sprint(i), dev.FromHost(h.Data(), h.Shape()...))
	}
	u, d := vs[0], vs[1]
	s := autograd.DiagSSM{LogDt: vs[2], InvAReal: vs[3], AImag: vs[4], B: vs[5], C: vs[6], Disc: disc}
	g := autograd.NewGraph()
	l := u.Shape()[1]
	var y *autograd.Var
	if chunk == 0 {
		y = autograd.CausalConv(g, u, repeatRows(g, autograd.DiagSSMKernel(g, s.LogDt, s.InvAReal, s.AImag, s.B, s.C, l, disc), rep), repeatRows(g, d, rep))
	} else {
		k := repeatRows(g, autograd.DiagSSMKernel(g, s.LogDt, s.InvAReal, s.AImag, s.B, s.C, chunk, disc), rep)
		y = autograd.ChunkedConv(g, u, k, repeatRows(g, d, rep), s)
	}
	if err := g.BackwardWith(y, dev.FromHost(seed.Data(), seed.Shape()...)); err != nil {
		t.Fatal(err)
	}
	out := [][]float32{y.Value.Host()}
	for _, v := range vs {
		out = append(out, v.GradTensor().Host())
	}
	return out
}

// TestChunkedConvInterpreted is the ptxsim check: state passing on the
// interpreted device, L = 1,024 in chunks of 256, against its single-shot convolution
// (and the CPU's), outputs and every gradient, zoh and bilinear, head_dim 1, 2 and 8. The
// chunks' FFT convolutions run as PTX; the state kernels on the host (HostFallbacks).
func TestChunkedConvInterpreted(t *testing.T) {
	const l, chunk, modes = 1024, 256, 8
	rng := tensor.NewRNG(51)
	cpu := tensor.DefaultCPU()
	dev := NewInterpreted()
	// head_dim 8 (64 channels a head) takes a minute of interpretation: with
	// HUNGRY_LONG_TESTS=1 only; head_dim 2 covers the repeated heads otherwise.
	dims := []int{1, 2}
	if os.Getenv("HUNGRY_LONG_TESTS") != "" {
		dims = append(dims, 8)
	}
	for _, disc := range []tensor.Discretization{tensor.ZOH, tensor.Bilinear} {
		for _, hd := range dims {
			heads := 3
			if hd > 1 {
				heads = 1
			}
			rep := hd * hd
			logDt := make([]float32, heads)
			for i := range logDt {
				logDt[i] = float32(math.Log(1e-3) + rng.Float64()*math.Log(100))
			}
			aImag := make([]float32, heads*modes)
			for i := range aImag {
				aImag[i] = float32(math.Pi * float64(i%modes))
			}
			host := []*tensor.Tensor{
				tensor.RandNormal(cpu, rng, 1, 1, l, heads*rep),
				tensor.RandNormal(cpu, rng, 1, heads),
				tensor.FromSlice(logDt, heads),
				tensor.FromSlice(rng.Normal(heads*modes, float32(math.Log(0.5)), 0.3), heads, modes),
				tensor.FromSlice(aImag, heads, modes),
				tensor.FromSlice(rng.Normal(heads*modes*2, 0.7, 0.3), heads, modes, 2),
				tensor.RandNormal(cpu, rng, 0.7, 1, heads, modes, 2),
			}
			seed := tensor.RandNormal(cpu, rng, 1, 1, l, heads*rep)
			cpuRef := chunkedRun(t, cpu, host, seed, disc, rep, 0)
			want := chunkedRun(t, dev, host, seed, disc, rep, 0)
			got := chunkedRun(t, dev, host, seed, disc, rep, chunk)
			names := []string{"y", "du", "dD", "dlog_dt", "dinv_A_real", "dA_imag", "dB", "dC"}
			rel := func(a, b []float32) float64 {
				num, den := 0.0, 0.0
				for j := range b {
					num = math.Max(num, math.Abs(float64(a[j])-float64(b[j])))
					den = math.Max(den, math.Abs(float64(b[j])))
				}
				return num / den
			}
			worst, worstCPU := 0.0, 0.0
			for i := range want {
				e, ec := rel(got[i], want[i]), rel(got[i], cpuRef[i])
				worst, worstCPU = math.Max(worst, e), math.Max(worstCPU, ec)
				if !(e <= 1e-5) {
					t.Errorf("%v head_dim %d: %s differs from the single-shot by %.3g relative", disc, hd, names[i], e)
				}
				// The devices' own single-shot dlog_dt, a sum that cancels, already
				// differ by about 1e-5 in float32.
				if !(ec <= 1e-4) {
					t.Errorf("%v head_dim %d: %s differs from the CPU's by %.3g relative", disc, hd, names[i], ec)
				}
			}
			t.Logf("%v head_dim %d: largest relative difference %.3g from the single-shot, %.3g from the CPU's", disc, hd, worst, worstCPU)
		}
	}
}

// TestPrefillLastInterpreted prefills a pure H3 model chunk by chunk on the interpreted
// device, hands the carried states to its recurrent step kernel (SetH3Diag, head_dim 1
// and the outer-product layout of head_dim 2) and compares the steps' logits with the
// CPU's convolutional ones.
func TestPrefillLastInterpreted(t *testing.T) {
	const l, prefill = 140, 130
	for _, hd := range []int{1, 2} {
		cfg := model.DefaultConfig()
		cfg.DModel, cfg.NLayer, cfg.DInner, cfg.VocabSize, cfg.HeadDim = 8, 1, 16, 11, hd
		cpuM, err := model.New(cfg, tensor.DefaultCPU(), 3)
		if err != nil {
			t.Fatal(err)
		}
		dev := NewInterpreted()
		gpuM, err := model.New(cfg, dev, 3)
		if err != nil {
			t.Fatal(err)
		}
		gpuM.SetChunk(64)
		ids := make([]int32, l)
		for i := range ids {
			ids[i] = int32((i*7 + i*i) % cfg.VocabSize)
		}
		conv, err := cpuM.Logits(ids, 1, l)
		if err != nil {
			t.Fatal(err)
		}
		want := conv.Data()
		v := cfg.VocabSize
		st, err := gpuM.NewState(1)
		if err != nil {
			t.Fatal(err)
		}
		last, err := st.PrefillLast(ids[:prefill])
		if err != nil {
			t.Fatal(err)
		}
		worst := 0.0
		compare := func(pos int, got []float32) {
			for j := 0; j < v; j++ {
				worst = math.Max(worst, math.Abs(float64(got[j])-float64(want[pos*v+j])))
			}
		}
		compare(prefill-1, last.Host())
		for p := prefill; p < l; p++ {
			out, err := st.Step(ids[p : p+1])
			if err != nil {
				t.Fatal(err)
			}
			compare(p, out.Host())
		}
		t.Logf("head_dim %d: worst logit difference %.3g", hd, worst)
		if !(worst <= 1e-4) {
			t.Errorf("head_dim %d: logits differ by %.3g", hd, worst)
		}
	}
}
