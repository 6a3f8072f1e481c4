package train_test

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/hungry-ssm/hungry/data"
	"github.com/hungry-ssm/hungry/model"
	"github.com/hungry-ssm/hungry/tensor"
	"github.com/hungry-ssm/hungry/train"
)

func TestParamKind(t *testing.T) {
	for name, want := range map[string]int{
		"backbone.embeddings.word_embeddings.weight":              train.KindDecay,
		"backbone.layers.0.mixer.q_proj.weight":                   train.KindDecay,
		"backbone.layers.0.mixer.q_proj.bias":                     train.KindNoDecay,
		"backbone.layers.0.norm1.weight":                          train.KindNoDecay,
		"backbone.ln_f.weight":                                    train.KindNoDecay,
		"backbone.layers.0.mixer.ssm_k_D":                         train.KindNoDecay,
		"backbone.layers.0.mixer.D":                               train.KindNoDecay,
		"backbone.layers.0.mixer.kernel.kernel.log_dt":            train.KindSSMKernel,
		"backbone.layers.0.mixer.kernel.kernel.inv_A_real":        train.KindSSMKernel,
		"backbone.layers.0.mixer.kernel.kernel.A_imag":            train.KindSSMKernel,
		"backbone.layers.0.mixer.kernel.kernel.B":                 train.KindSSMKernel,
		"backbone.layers.0.mixer.ssm_k_kernel.kernel.B":           train.KindSSMKernel,
		"backbone.layers.1.mixer.Wqkv.weight":                     train.KindDecay,
		"backbone.embeddings.position_embeddings.weight":          train.KindDecay,
		"backbone.layers.1.mlp.fc2.weight":                        train.KindDecay,
		"backbone.layers.0.mixer.kernel.kernel.C":                 train.KindDecay,
		"backbone.layers.0.mixer.ssm_k_kernel.kernel.C":           train.KindDecay,
		"backbone.layers.0.mixer.output_linear.weight":            train.KindDecay,
		"backbone.layers.0.mixer.output_linear.bias":              train.KindNoDecay,
		"backbone.layers.0.norm2.bias":                            train.KindNoDecay,
		"backbone.layers.0.mixer.kernel.kernel.log_dt.extra_copy": train.KindDecay,
	} {
		if got := train.ParamKind(name); got != want {
			t.Errorf("ParamKind(%q) = %d, want %d", name, got, want)
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
