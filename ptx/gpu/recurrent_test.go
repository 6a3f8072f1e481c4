package gpu

import (
	"fmt"
	"math"
	"math/cmplx"
	"testing"

	"github.com/hungry-ssm/hungry/model"
	"github.com/hungry-ssm/hungry/sample"
	"github.com/hungry-ssm/hungry/tensor"
)

// rtolH3Step bounds the device's float32 recurrent step against the CPU's float64 one,
// judged against the mean |o|: a few float32 roundings per step in the state and in dA
// (2⁻²⁴ each), summed over 32 modes and a dozen steps, stay below 1e-5.
const rtolH3Step = 1e-5

// randomRecurrence is an H3 recurrence with stable modes (|dA| ≤ 0.95) and all
// parameters nonzero, so that no part of the step can pass by doing nothing.
func randomRecurrence(rng *tensor.RNG, dim, headDim, taps, modes int) *tensor.H3Recurrence {
	heads := dim / headDim
	u := func(n int, lo, hi float64) []float64 {
		out := make([]float64, n)
		for i := range out {
			out[i] = lo + (hi-lo)*rng.Float64()
		}
		return out
	}
	r := &tensor.H3Recurrence{Dim: dim, HeadDim: headDim, ShiftB: u(dim*taps, -1, 1), ShiftC: u(dim*taps, -0.2, 0.2),
		ShiftD: u(dim, -1, 1), Skip: u(heads, -1, 1)}
	mag, phase, wr, wi := u(heads*modes, 0.5, 0.95), u(heads*modes, -math.Pi, math.Pi), u(heads*modes, -0.1, 0.1), u(heads*modes, -0.1, 0.1)
	for i := range mag {
		r.DA = append(r.DA, cmplx.Rect(mag[i], phase[i]))
		r.W = append(r.W, complex(wr[i], wi[i]))
	}
	return r
}

// shiftOutput is the shift SSM's output k̃ (batch, L, d) of k, as a convolution in
// float64: what the convolutional pass hands H3Seed.
func shiftOutput(r *tensor.H3Recurrence, k []float32, batch, l int) []float32 {
	d, n := r.Dim, r.Taps()
	out := make([]float32, len(k))
	for b := 0; b < batch; b++ {
		for t := 0; t < l; t++ {
			for c := 0; c < d; c++ {
				acc := r.ShiftD[c] * float64(k[(b*l+t)*d+c])
				for i := 0; i <= t && i < n; i++ {
					tap := 0.0
					for j := 0; j+i < n; j++ {
						tap += r.ShiftB[c*n+j] * r.ShiftC[c*n+j+i]
					}
					acc += tap * float64(k[(b*l+t-i)*d+c])
				}
				out[(b*l+t)*d+c] = float32(acc)
			}
		}
	}
	return out
}

// runH3Steps seeds a state on dev with a random prefix and steps it, returning every
// step's output.
func runH3Steps(dev tensor.Device, r *tensor.H3Recurrence, batch, prefix, steps int, seed uint64) []float32 {
	in := newInputs(dev, seed)
	st := dev.NewH3State(r, batch)
	k := in.vals(batch * prefix * r.Dim)
	dev.H3Seed(st, dev.FromHost(k, batch, prefix, r.Dim), dev.FromHost(shiftOutput(r, k, batch, prefix), batch, prefix, r.Dim),
		in.t(batch, prefix, r.Dim))
	var out []float32
	for range steps {
		o := dev.Zeros(batch, r.Dim)
		dev.H3Step(st, o, in.t(batch, r.Dim), in.t(batch, r.Dim), in.t(batch, r.Dim))
		out = append(out, o.Host()...)
	}
	return out
}

func TestH3StepAgainstCPU(t *testing.T) {
	for _, c := range []struct {
		batch, dim, headDim, taps, modes, prefix int
		fallback                                 string
	}{
		{1, 1, 1, 64, 32, 1, ""},
		{2, 7, 1, 64, 32, 5, ""},
		{3, 257, 1, 64, 32, 70, ""}, // more channels than a block has threads, a prefix past the shift window
		{2, 6, 3, 5, 3, 4, "H3Step(head_dim>1)"},
		{1, 3, 1, 8, 4, 2, "H3Step(d_state≠64)"},
	} {
		t.Run(fmt.Sprintf("%+v", c), func(t *testing.T) {
			r := randomRecurrence(tensor.NewRNG(uint64(c.dim)), c.dim, c.headDim, c.taps, c.modes)
			want := runH3Steps(tensor.DefaultCPU(), r, c.batch, c.prefix, 4, 9)
			dev := NewInterpreted()
			got := runH3Steps(dev, r, c.batch, c.prefix, 4, 9)
			closeTo(t, "o", got, want, nil, rtolH3Step)
			fb := dev.HostFallbacks()
			if c.fallback == "" && len(fb) > 0 {
				t.Errorf("host fallbacks %v, want none", fb)
			}
			if c.fallback != "" && fb[c.fallback] == 0 {
				t.Errorf("host fallbacks %v, want %s", fb, c.fallback)
			}
			if l := dev.Launches()["h3_step_f32"]; c.fallback == "" && l != c.prefix+4 {
				t.Errorf("%d h3_step launches, want %d (one per position)", l, c.prefix+4)
			}
		})
	}
}

func TestH3StateRejectsMisuse(t *testing.T) {
	dev := NewInterpreted()
	r := randomRecurrence(tensor.NewRNG(1), 4, 1, 64, 32)
	if err := tensor.Catch(func() { dev.NewH3State(r, 0) }); err == nil {
		t.Error("an empty batch was accepted")
	}
	st := dev.NewH3State(r, 2)
	if err := tensor.Catch(func() { dev.H3Step(st, dev.Zeros(2, 4), dev.Zeros(2, 4), dev.Zeros(1, 4), dev.Zeros(2, 4)) }); err == nil {
		t.Error("a key of the wrong shape was accepted")
	}
	cpuState := tensor.DefaultCPU().NewH3State(r, 2)
	x := dev.Zeros(2, 4)
	if err := tensor.Catch(func() { dev.H3Step(cpuState, x, x, x, x) }); err == nil {
		t.Error("a CPU state was accepted")
	}
}

// TestGenerationOnInterpreter generates greedily with a hybrid model (an H3 layer at
// d_state 64, the h3_step kernel's size, and an attention layer with learned positions)
// on the CPU and on the interpreted GPU. The tokens must agree, and each generated token
// may move only its id to the device and its logits row back.
func TestGenerationOnInterpreter(t *testing.T) {
	const batch, prompt, steps = 2, 5, 6
	cfg := model.DefaultConfig()
	cfg.DModel, cfg.NLayer, cfg.DInner, cfg.VocabSize = 16, 2, 32, 32
	cfg.AttnLayerIdx, cfg.AttnNHeads, cfg.MaxPositionEmbeddings = []int{1}, 2, 16
	dev := NewInterpreted()
	generate := func(d tensor.Device) (tokens []int32, logits [][]float32) {
		m, err := model.New(cfg, d, 3)
		if err != nil {
			t.Fatal(err)
		}
		st, err := m.NewState(batch)
		if err != nil {
			t.Fatal(err)
		}
		ids := make([]int32, batch*prompt)
		rng := tensor.NewRNG(4)
		for i := range ids {
			ids[i] = int32(rng.IntN(cfg.VocabSize))
		}
		pre, err := st.Prefill(ids, prompt)
		if err != nil {
			t.Fatal(err)
		}
		v := cfg.VocabSize
		host := pre.Host()
		last := make([]float32, batch*v)
		for b := 0; b < batch; b++ {
			copy(last[b*v:], host[(b*prompt+prompt-1)*v:(b*prompt+prompt)*v])
		}
		next := make([]int32, batch)
		for range steps {
			logits = append(logits, last)
			for b := range next {
				next[b] = sample.Next(last[b*v:(b+1)*v], sample.Options{Greedy: true}, nil)
			}
			tokens = append(tokens, next...)
			if dev == d {
				dev.ResetCounters()
			}
			out, err := st.Step(next)
			if err != nil {
				t.Fatal(err)
			}
			last = out.Host()
			if dev == d {
				checkStepTraffic(t, dev, batch, v)
			}
		}
		return tokens, logits
	}
	want, wantLogits := generate(tensor.DefaultCPU())
	got, gotLogits := generate(dev)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("greedy tokens on %s: %v, on the CPU: %v", dev.Name(), got, want)
	}
	worst := 0.0
	for i := range wantLogits {
		worst = math.Max(worst, relErr(gotLogits[i], wantLogits[i]))
	}
	t.Logf("greedy tokens agree: %v; worst logits error %.2e relative", got, worst)
	// The logits go through a dozen TF32 products, as in the training step.
	if !(worst <= rtolStepLoss) {
		t.Errorf("logits differ from the CPU's by %.3g > %g", worst, rtolStepLoss)
	}
}

// checkStepTraffic requires one generated token to have moved its ids to the device and
// its logits back, nothing else, and to have run on the device alone.
func checkStepTraffic(t *testing.T, dev *Device, batch, vocab int) {
	t.Helper()
	want := Transfers{ToDevice: 1, ToHost: 1, BytesToDevice: 4 * int64(batch), BytesToHost: 4 * int64(batch*vocab)}
	if got := dev.Transfers(); got != want {
		t.Errorf("one token moved %+v between host and device, want %+v", got, want)
	}
	if fb := dev.HostFallbacks(); len(fb) > 0 {
		t.Errorf("one token fell back to the host: %v", fb)
	}
	if n := dev.Launches()["h3_step_f32"]; n != 1 {
		t.Errorf("one token launched h3_step %d times, want 1", n)
	}
}
