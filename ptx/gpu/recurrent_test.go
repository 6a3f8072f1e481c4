package gpu

import (
	"fmt"
	"math"
	"math/cmplx"
	"testing"

	"github.com/hungry-ssm/hungry/model"
	"github.com/hungry-ssm/hungry/ptx/kernels"
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
		{2, 6, 3, 64, 32, 4, ""},    // two heads: the launch over the outer products
		{1, 16, 8, 64, 32, 3, ""},   // the golden multi-head model's head_dim
		{2, 6, 3, 5, 3, 4, "H3Step(d_state≠64)"},
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
			perPosition := 1
			if c.headDim > 1 {
				perPosition = 2
			}
			if l := dev.Launches()[kernels.H3StepF32Kernel.Name]; c.fallback == "" && l != perPosition*(c.prefix+4) {
				t.Errorf("%d h3_step launches, want %d per position", l, perPosition)
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

// rtolGenLogits bounds the device's logits against the CPU's, per element against
// |want| plus the row's mean |want| (relErr): about a dozen chained TF32 products, each
// up to rtolTF32 of its Σ|a||b|, with weights perturbed to 0.3 so that the terms cancel
// more than at the initial scale (measured: 2.9e-3).
const rtolGenLogits = 1e-2

// TestGenerationOnInterpreter generates greedily with hybrid models (an H3 layer at
// d_state 64, the h3_step kernel's size, and an attention layer with learned positions)
// on the interpreted GPU, and follows the same tokens on the CPU. Wherever the CPU's
// choice is not a tie within rtolGenLogits the two choose the same token, and each
// generated token moves only its ids to the device and its logits rows back.
func TestGenerationOnInterpreter(t *testing.T) {
	for _, headDim := range []int{1, 4} {
		t.Run(fmt.Sprintf("head_dim %d", headDim), func(t *testing.T) { testGeneration(t, NewInterpreted(), headDim) })
	}
}

// TestGPUGeneration is TestGenerationOnInterpreter on a real GPU.
func TestGPUGeneration(t *testing.T) {
	dev := openGPU(t)
	for _, headDim := range []int{1, 4} {
		t.Run(fmt.Sprintf("head_dim %d", headDim), func(t *testing.T) { testGeneration(t, dev, headDim) })
	}
}

// generator is one device's model and state in testGeneration.
type generator struct {
	st   *model.State
	last []float32 // the logits (batch, vocab) that choose the next tokens
}

func newGenerator(t *testing.T, dev tensor.Device, cfg model.Config, ids []int32, batch, prompt int) *generator {
	t.Helper()
	m, err := model.New(cfg, dev, 3)
	if err != nil {
		t.Fatal(err)
	}
	// At its initial scale the untrained model keeps choosing one token; perturbed
	// weights make every choice depend on the whole state.
	noise := tensor.NewRNG(8)
	for _, p := range m.Params() {
		vals := p.Value.Host()
		for i := range vals {
			vals[i] += float32(0.3 * noise.NormFloat64())
		}
		dev.Copy(p.Value, dev.FromHost(vals, p.Value.Shape()...))
	}
	st, err := m.NewState(batch)
	if err != nil {
		t.Fatal(err)
	}
	pre, err := st.Prefill(ids, prompt)
	if err != nil {
		t.Fatal(err)
	}
	v := cfg.VocabSize
	host := pre.Host()
	g := &generator{st: st, last: make([]float32, batch*v)}
	for b := 0; b < batch; b++ {
		copy(g.last[b*v:], host[(b*prompt+prompt-1)*v:(b*prompt+prompt)*v])
	}
	return g
}

func (g *generator) step(t *testing.T, tokens []int32) {
	t.Helper()
	out, err := g.st.Step(tokens)
	if err != nil {
		t.Fatal(err)
	}
	g.last = out.Host()
}

// greedyMargin returns the largest logit's index, the gap to the runner-up, and how far
// apart two logits may appear by rtol alone.
func greedyMargin(row []float32, rtol float64) (best int, gap, noise float64) {
	mean := 0.0
	for _, x := range row {
		mean += math.Abs(float64(x))
	}
	mean /= float64(len(row))
	best = int(sample.Next(row, sample.Options{Greedy: true}, nil))
	second := math.Inf(-1)
	for i, x := range row {
		if i != best && float64(x) > second {
			second = float64(x)
		}
	}
	top := float64(row[best])
	return best, top - second, rtol * (math.Abs(top) + math.Abs(second) + 2*mean)
}

func testGeneration(t *testing.T, dev *Device, headDim int) {
	const batch, prompt, steps = 2, 5, 8
	cfg := model.DefaultConfig()
	cfg.DModel, cfg.NLayer, cfg.DInner, cfg.VocabSize, cfg.HeadDim = 16, 2, 32, 32, headDim
	cfg.AttnLayerIdx, cfg.AttnNHeads, cfg.MaxPositionEmbeddings = []int{1}, 2, 16
	ids := make([]int32, batch*prompt)
	rng := tensor.NewRNG(4)
	for i := range ids {
		ids[i] = int32(rng.IntN(cfg.VocabSize))
	}
	gpu := newGenerator(t, dev, cfg, ids, batch, prompt)
	cpu := newGenerator(t, tensor.DefaultCPU(), cfg, ids, batch, prompt)
	v := cfg.VocabSize
	var tokens []int32
	worst, ties, same := 0.0, 0, 0
	next := make([]int32, batch)
	for range steps {
		worst = math.Max(worst, relErr(gpu.last, cpu.last))
		for b := range next {
			got, _, _ := greedyMargin(gpu.last[b*v:(b+1)*v], 0)
			want, gap, noise := greedyMargin(cpu.last[b*v:(b+1)*v], rtolGenLogits)
			if got == want {
				same++
			}
			switch {
			case gap <= noise:
				ties++
			case got != want:
				t.Errorf("token %d of sequence %d: %s chose %d, the CPU %d (ahead by %.3g)", len(tokens)/batch, b, dev.Name(), got, want, gap)
			}
			next[b] = int32(got)
		}
		tokens = append(tokens, next...)
		dev.ResetCounters()
		gpu.step(t, next)
		checkStepTraffic(t, dev, batch, v, min(headDim, 2))
		cpu.step(t, next)
	}
	t.Logf("tokens %v: the CPU's choice in %d of %d, %d within the tolerance of a tie; worst logits error %.2e relative",
		tokens, same, len(tokens), ties, worst)
	if !(worst <= rtolGenLogits) {
		t.Errorf("logits differ from the CPU's by %.3g > %g", worst, rtolGenLogits)
	}
	// Every choice but a few must be decided, or the comparison says little.
	if ties > len(tokens)/4 {
		t.Errorf("%d of %d choices are ties within the tolerance", ties, len(tokens))
	}
}

// checkStepTraffic requires one generated token to have moved its ids to the device and
// its logits back, nothing else, and to have run on the device alone with h3Launches
// launches of h3_step.
func checkStepTraffic(t *testing.T, dev *Device, batch, vocab, h3Launches int) {
	t.Helper()
	want := Transfers{ToDevice: 1, ToHost: 1, BytesToDevice: 4 * int64(batch), BytesToHost: 4 * int64(batch*vocab)}
	if got := dev.Transfers(); got != want {
		t.Errorf("one token moved %+v between host and device, want %+v", got, want)
	}
	if fb := dev.HostFallbacks(); len(fb) > 0 {
		t.Errorf("one token fell back to the host: %v", fb)
	}
	if n := dev.Launches()[kernels.H3StepF32Kernel.Name]; n != h3Launches {
		t.Errorf("one token launched h3_step %d times, want %d", n, h3Launches)
	}
}

// copyBlocksCases are CopyBlocks' cases against the CPU, also run by the collection test.
func copyBlocksCases() []kernelCase {
	var cases []kernelCase
	for _, c := range []struct{ n, size, dstStride, srcStride int }{
		{1, 1, 1, 1}, {3, 7, 7, 7}, {5, 7, 1000, 7}, {4, 3, 11, 1000}, {2, 5, 9, 0},
	} {
		cases = append(cases, kernelCase{name: fmt.Sprintf("%+v", c), rtol: 0, run: func(in *inputs) []*tensor.Tensor {
			dst := in.t((c.n-1)*c.dstStride + c.size)
			src := in.t((c.n-1)*c.srcStride + c.size)
			// A view at an offset, as a cache's next position is.
			in.dev.CopyBlocks(dst.Slice(1, dst.Numel()), src, c.n, c.size-1, c.dstStride, c.srcStride)
			return []*tensor.Tensor{dst}
		}})
	}
	return cases
}

func TestCopyBlocksAgainstCPU(t *testing.T) {
	dev := NewInterpreted()
	runCases(t, dev, copyBlocksCases())
	dst, src := dev.Zeros(40), dev.Zeros(12)
	dev.ResetCounters()
	dev.CopyBlocks(dst, src, 3, 4, 10, 4)
	if tr := dev.Transfers(); tr != (Transfers{}) {
		t.Errorf("CopyBlocks made host copies %+v; it should copy on the device", tr)
	}
}
