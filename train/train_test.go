package train_test

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/hungry-ssm/hungry/autograd"
	"github.com/hungry-ssm/hungry/data"
	"github.com/hungry-ssm/hungry/model"
	"github.com/hungry-ssm/hungry/optim"
	"github.com/hungry-ssm/hungry/tensor"
	"github.com/hungry-ssm/hungry/train"
)

// nameKind is how parameters were grouped before layers tagged them: by their official
// checkpoint names. It stays here as the reference the tags must reproduce.
func nameKind(name string) autograd.ParamClass {
	hasSuffix := func(suffixes ...string) bool {
		for _, x := range suffixes {
			if strings.HasSuffix(name, x) {
				return true
			}
		}
		return false
	}
	switch {
	case hasSuffix(".kernel.kernel.log_dt", ".kernel.kernel.inv_A_real", ".kernel.kernel.A_imag",
		".kernel.kernel.B", "ssm_k_kernel.kernel.B"):
		return autograd.ClassSSM
	case hasSuffix(".bias", ".ssm_k_D", ".D") || strings.Contains(name, "norm") || strings.Contains(name, "ln_f"):
		return autograd.ClassNoDecay
	}
	return autograd.ClassDecay
}

// TestParamGroupsMatchTheNameRules builds a model of every family and checks that the
// classes its layers gave the parameters make the same optimizer groups, in the same
// order, as the name rules did.
func TestParamGroupsMatchTheNameRules(t *testing.T) {
	for _, tc := range paramGroupConfigs() {
		m, err := model.New(tc.cfg, tensor.NewCPU(1), 1)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		got := train.ParamGroups(m.Params(), 3e-3, 1e-3, 0.1)
		want := []optim.Group{{Name: "decay", LR: 3e-3, WeightDecay: 0.1}, {Name: "no_decay", LR: 3e-3}, {Name: "ssm", LR: 1e-3}}
		for _, p := range m.Params() {
			k := nameKind(p.Name)
			want[k].Params = append(want[k].Params, p)
		}
		if len(got) != len(want) {
			t.Fatalf("%s: %d groups, want %d", tc.name, len(got), len(want))
		}
		seen := map[autograd.ParamClass]bool{}
		for i := range want {
			g, w := got[i], want[i]
			if g.Name != w.Name || g.LR != w.LR || g.WeightDecay != w.WeightDecay {
				t.Errorf("%s: group %d is %s (lr %g, wd %g), want %s (lr %g, wd %g)", tc.name, i, g.Name, g.LR, g.WeightDecay, w.Name, w.LR, w.WeightDecay)
			}
			seen[autograd.ParamClass(i)] = len(w.Params) > 0
			if len(g.Params) != len(w.Params) {
				t.Errorf("%s: group %s has %d parameters, want %d", tc.name, w.Name, len(g.Params), len(w.Params))
				continue
			}
			for j := range w.Params {
				if g.Params[j] != w.Params[j] {
					t.Errorf("%s: group %s holds %s at %d, want %s", tc.name, w.Name, g.Params[j].Name, j, w.Params[j].Name)
				}
			}
		}
		// Every family has matrices and biases; the SSM group is empty only without SSMs.
		if !seen[autograd.ClassDecay] || !seen[autograd.ClassNoDecay] || seen[autograd.ClassSSM] != tc.ssm {
			t.Errorf("%s: groups filled %v; the comparison would not catch a misfiled class", tc.name, seen)
		}
	}
}

func TestOptionsValidate(t *testing.T) {
	ok := train.Options{Batch: 2, Context: 8, Steps: 10, LR: 1e-3}
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid options rejected: %v", err)
	}
	timed := ok
	timed.Steps, timed.Time = 0, time.Minute
	if err := timed.Validate(); err != nil {
		t.Errorf("a time budget without steps was rejected: %v", err)
	}
	for _, tc := range []struct {
		edit func(*train.Options)
		want string
	}{
		{func(o *train.Options) { o.Batch = 0 }, "batch size"},
		{func(o *train.Options) { o.Context = -1 }, "context"},
		{func(o *train.Options) { o.Steps = -1 }, "steps"},
		{func(o *train.Options) { o.Steps = 0 }, "time budget"},
		{func(o *train.Options) { o.LR = 0 }, "learning rate"},
		{func(o *train.Options) { o.LR = math.NaN() }, "learning rate"},
		{func(o *train.Options) { o.Optimizer = "lion" }, "unknown optimizer"},
	} {
		o := ok
		tc.edit(&o)
		if err := o.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: got %v, want an error containing %q", o, err, tc.want)
		}
	}
}

// tinyModel is a 2-layer H3 model small enough for dozens of steps in a test.
func tinyModel(t *testing.T, seed uint64) *model.LM {
	t.Helper()
	cfg := model.DefaultConfig()
	cfg.DModel, cfg.NLayer, cfg.DInner, cfg.VocabSize, cfg.DState = 8, 2, 16, 7, 8
	m, err := model.New(cfg, tensor.NewCPU(1), seed)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func fixedBatch() data.Batch {
	const rows, context = 3, 6
	b := data.Batch{Rows: rows, Context: context, Inputs: make([]int32, rows*context), Targets: make([]int32, rows*context)}
	for i := range b.Inputs {
		b.Inputs[i] = int32(i*5+1) % 7
		b.Targets[i] = int32(i*3+2) % 7
	}
	return b
}

// TestStepperLearnsDeterministically trains two models from the same seed on one fixed
// batch: their losses must agree bit for bit (dropout included), and the loss must fall
// well below its start.
func TestStepperLearnsDeterministically(t *testing.T) {
	b := fixedBatch()
	opts := train.Options{Batch: b.Rows, Context: b.Context, Steps: 100, LR: 1e-2, Warmup: 0.1, Seed: 4}
	var losses [2][]float64
	for run := range losses {
		s := train.NewStepper(tinyModel(t, 9), opts, opts.Steps)
		for i := 0; i < opts.Steps; i++ {
			r, err := s.Run(func() data.Batch { return b })
			if err != nil {
				t.Fatal(err)
			}
			losses[run] = append(losses[run], r.Loss)
		}
		if s.Step != opts.Steps {
			t.Errorf("stepper counted %d steps, want %d", s.Step, opts.Steps)
		}
	}
	for i := range losses[0] {
		if losses[0][i] != losses[1][i] {
			t.Fatalf("step %d: losses %v and %v from the same seed", i+1, losses[0][i], losses[1][i])
		}
	}
	first, last := losses[0][0], losses[0][len(losses[0])-1]
	// The start is near ln 7 = 1.95 (uniform over the vocabulary). Each target is a
	// function of its input token (both cycle with period 7), which a small model learns.
	if !(last < 0.5*first) {
		t.Errorf("loss went from %.3f to %.3f in %d steps; want it at least halved", first, last, opts.Steps)
	}
}

func TestStepperStopsOnNonFiniteLoss(t *testing.T) {
	m := tinyModel(t, 2)
	m.Params()[0].Value.Data()[0] = float32(math.NaN())
	b := fixedBatch()
	s := train.NewStepper(m, train.Options{Batch: b.Rows, Context: b.Context, Steps: 1, LR: 1e-3}, 1)
	_, err := s.Run(func() data.Batch { return b })
	var nf *train.NonFiniteError
	if !errors.As(err, &nf) || nf.Step != 1 {
		t.Fatalf("got %v, want a NonFiniteError at step 1", err)
	}
	if s.Step != 0 {
		t.Errorf("a failed step was counted (step %d)", s.Step)
	}
}

// TestEvaluateBitsPerByte checks the units: with one byte per token bits per byte is the
// NLL over ln 2, two bytes per token halve it, and scoring only part of the split
// counts only that part's tokens.
func TestEvaluateBitsPerByte(t *testing.T) {
	m := tinyModel(t, 3)
	tokens := make([]int32, 200)
	for i := range tokens {
		tokens[i] = int32(i*i+3) % 7
	}
	val, err := data.NewValidation(tokens, 2, 16)
	if err != nil {
		t.Fatal(err)
	}
	one, err := train.Evaluate(m, val, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	if one.Tokens != val.Targets() {
		t.Errorf("scored %d tokens, the split has %d targets", one.Tokens, val.Targets())
	}
	if want := one.NLL / math.Ln2; math.Abs(one.BPB-want) > 1e-12*want {
		t.Errorf("bits per byte %.9f, want NLL/ln2 = %.9f", one.BPB, want)
	}
	if !(one.NLL > 1 && one.NLL < 3) || math.Abs(one.PPL()-math.Exp(one.NLL)) > 1e-9 {
		t.Errorf("NLL %.3f (PPL %.3f) for an untrained model over 7 tokens; want about ln 7", one.NLL, one.PPL())
	}
	two, err := train.Evaluate(m, val, func(int32) int { return 2 }, 0)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(two.BPB-one.BPB/2) > 1e-12*one.BPB {
		t.Errorf("two bytes per token: %.9f bits per byte, want half of %.9f", two.BPB, one.BPB)
	}
	part, err := train.Evaluate(m, val, nil, 1)
	if err != nil {
		t.Fatal(err)
	}
	if part.Tokens >= one.Tokens || part.Tokens == 0 {
		t.Errorf("one batch scored %d of %d tokens", part.Tokens, one.Tokens)
	}
}

type paramGroupConfig struct {
	name string
	cfg  model.Config
	ssm  bool // whether the model has SSM kernel parameters
}

// paramGroupConfigs are small models of every family, with the variations that add
// parameters: untied head, learned positions, multi-head H3.
func paramGroupConfigs() []paramGroupConfig {
	base := model.DefaultConfig()
	base.DModel, base.NLayer, base.DInner, base.VocabSize, base.DState, base.AttnNHeads = 8, 3, 16, 11, 8, 2
	h3 := base
	multi := base
	multi.HeadDim = 2
	untied := base
	untied.TieWordEmbeddings = false
	hybrid := base
	hybrid.AttnLayerIdx = []int{1}
	transformer := base
	transformer.AttnLayerIdx, transformer.MaxPositionEmbeddings = []int{0, 1, 2}, 16
	s4d := base
	s4d.Mixer = model.MixerS4D
	shift := base
	shift.Mixer = model.MixerShift
	return []paramGroupConfig{
		{"h3", h3, true}, {"h3 head_dim 2", multi, true}, {"h3 untied", untied, true},
		{"hybrid", hybrid, true}, {"transformer", transformer, false},
		{"s4d", s4d, true}, {"shift", shift, true},
	}
}
