// Package train runs the training loop: batches in, loss out, gradients, clipping and an
// optimizer step, with periodic validation, atomic checkpoints, exact resumption and a
// stop on the first non-finite loss or gradient. The loop reports what it does as events
// (Event) and draws nothing; Folder is the layout of a run's folder, which it alone
// writes.
package train

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/hungry-ssm/hungry/autograd"
	"github.com/hungry-ssm/hungry/data"
	"github.com/hungry-ssm/hungry/optim"
	"github.com/hungry-ssm/hungry/tensor"
)

// Model is what the loop trains: a causal language model over token ids.
type Model interface {
	// Forward returns logits (batch, seqLen, vocab) for ids laid out batch-major.
	Forward(g *autograd.Graph, ids []int32, batch, seqLen int, train bool, rng *tensor.RNG) *autograd.Var
	// Params are the trainable parameters with their checkpoint names.
	Params() []*autograd.Var
}

// Batches yields training batches and can save and restore its position exactly
// (*data.Sampler does).
type Batches interface {
	Next() data.Batch
	MarshalBinary() ([]byte, error)
	UnmarshalBinary([]byte) error
}

// Options configure a run. Zero values take the defaults noted.
type Options struct {
	Batch, Context int
	// Accum micro-batches are summed into one update (default 1).
	Accum int
	// Steps bounds the run; when zero, Time does, and the schedule's length is estimated
	// from the speed of the first steps.
	Steps int
	Time  time.Duration
	// LR is the peak learning rate; SSMLR caps it for the SSM kernel parameters.
	LR, SSMLR   float64
	WeightDecay float64
	// Warmup is the fraction of the steps spent warming up (default 0.02).
	Warmup float64
	// MinLRRatio is where the cosine decay ends, relative to the peak (default 0.1).
	MinLRRatio float64
	// Clip is the global gradient-norm bound (default 1; negative disables).
	Clip float64
	// EvalEvery and CheckpointEvery are in steps (0: only at the end).
	EvalEvery, CheckpointEvery int
	// EvalBatches bounds each validation pass during training (0: the whole split); the
	// final pass always covers the whole split.
	EvalBatches int
	// LogEvery is how often a metrics line is written (default 10 steps).
	LogEvery int
	Seed     uint64
	// Optimizer is "adamw" (default) or "sgd".
	Optimizer string
}

// DefaultOptions are the settings `hungry train` uses when no flag says otherwise: ten
// minutes of training on batches of 16 windows of 256 tokens.
func DefaultOptions() Options {
	return Options{
		Batch: 16, Context: 256, Accum: 1, Time: 10 * time.Minute, LR: 3e-3, WeightDecay: 0.1,
		Optimizer: "adamw", EvalEvery: 200, EvalBatches: 8, CheckpointEvery: 100, LogEvery: 10, Seed: 1,
	}
}

func (o *Options) defaults() {
	if o.Accum <= 0 {
		o.Accum = 1
	}
	if o.Warmup == 0 {
		o.Warmup = 0.02
	}
	if o.MinLRRatio == 0 {
		o.MinLRRatio = 0.1
	}
	if o.Clip == 0 {
		o.Clip = 1
	}
	if o.LogEvery <= 0 {
		o.LogEvery = 10
	}
	if o.SSMLR == 0 {
		o.SSMLR = min(o.LR, 1e-3)
	}
	if o.Optimizer == "" {
		o.Optimizer = "adamw"
	}
}

// Validate reports options that cannot work.
func (o Options) Validate() error {
	switch {
	case o.Batch <= 0:
		return fmt.Errorf("batch size must be positive, got %d", o.Batch)
	case o.Context <= 0:
		return fmt.Errorf("context must be positive, got %d", o.Context)
	case o.Steps < 0:
		return fmt.Errorf("steps must not be negative, got %d", o.Steps)
	case o.Steps == 0 && o.Time <= 0:
		return fmt.Errorf("give a step count or a positive time budget")
	case o.LR <= 0 || math.IsNaN(o.LR):
		return fmt.Errorf("learning rate must be positive, got %g", o.LR)
	case o.Optimizer != "" && o.Optimizer != "adamw" && o.Optimizer != "sgd":
		return fmt.Errorf("unknown optimizer %q (adamw or sgd)", o.Optimizer)
	}
	return nil
}

// ParamGroups splits parameters the way the paper's code does, by the class their layer
// gave them: weight decay on matrices and embeddings only; none on biases, LayerNorm
// weights and the SSM parameters A, B, dt and D; and the SSM kernel parameters (A, B, dt)
// at ssmLR, min(lr, 1e-3) by default.
func ParamGroups(params []*autograd.Var, lr, ssmLR, wd float64) []optim.Group {
	decay := optim.Group{Name: "decay", LR: lr, WeightDecay: wd}
	plain := optim.Group{Name: "no_decay", LR: lr}
	ssm := optim.Group{Name: "ssm", LR: ssmLR}
	for _, p := range params {
		switch p.Class {
		case autograd.ClassSSM:
			ssm.Params = append(ssm.Params, p)
		case autograd.ClassNoDecay:
			plain.Params = append(plain.Params, p)
		default:
			decay.Params = append(decay.Params, p)
		}
	}
	return []optim.Group{decay, plain, ssm}
}

// NonFiniteError reports the first NaN or Inf seen, with the step and the tensor.
type NonFiniteError struct {
	Step   int
	Tensor string
	Value  float64
}

func (e *NonFiniteError) Error() string {
	return fmt.Sprintf("step %d: %s is %v; stopping (lower the learning rate or check the data)", e.Step, e.Tensor, e.Value)
}

// ErrInterrupted is returned when the context is cancelled (Ctrl-C, SIGTERM) after the
// checkpoint was written.
var ErrInterrupted = errors.New("training interrupted; checkpoint saved")

// StepResult is what one optimizer step produced.
type StepResult struct {
	Loss, GradNorm, LR float64
}

// Stepper performs optimizer steps on a model: the inner part of the loop, usable on its
// own (the synthetic-task trainer uses it too).
type Stepper struct {
	Model    Model
	Opt      optim.Optimizer
	Schedule optim.WarmupCosine
	Clip     float64
	Accum    int
	DropRNG  *tensor.RNG
	Step     int
	// graph records every micro-batch; its arena keeps a step's activations and
	// gradients for the next step, so steps after the first allocate none of them. It is
	// released when the next micro-batch starts, not when one ends: what the model
	// computed in the last one (its logits, say) stays readable until the next Run.
	graph *autograd.Graph
	// LRFactor, when set, replaces Schedule: it gives the multiplier of the peak learning
	// rate for the 1-based step, and is called once the step's gradient is computed (a
	// time-bounded run reads the clock in it).
	LRFactor func(step int) float64
	// params caches Model.Params for the model it was taken from: building the list
	// allocates, and a step walks it twice.
	params   []*autograd.Var
	paramsOf Model
}

// stepParams is the model's parameter list, rebuilt only when Model was replaced.
func (s *Stepper) stepParams() []*autograd.Var {
	if s.params == nil || s.paramsOf != s.Model {
		s.params, s.paramsOf = s.Model.Params(), s.Model
	}
	return s.params
}

// NewStepper builds the optimizer for m from opts.
func NewStepper(m Model, opts Options, totalSteps int) *Stepper {
	opts.defaults()
	groups := ParamGroups(m.Params(), opts.LR, opts.SSMLR, opts.WeightDecay)
	var opt optim.Optimizer
	if opts.Optimizer == "sgd" {
		opt = optim.NewSGD(groups, 0.9)
	} else {
		opt = optim.NewAdamW(groups)
	}
	return &Stepper{
		Model: m, Opt: opt, Clip: opts.Clip, Accum: opts.Accum,
		Schedule: optim.WarmupCosine{Warmup: int(math.Ceil(opts.Warmup * float64(totalSteps))), Total: totalSteps, MinRatio: opts.MinLRRatio},
		DropRNG:  tensor.NewRNG(opts.Seed ^ 0xd20f),
	}
}

// Run does one optimizer step over Accum micro-batches drawn from next.
func (s *Stepper) Run(next func() data.Batch) (StepResult, error) {
	step := s.Step + 1
	total := 0.0
	if s.graph == nil {
		s.graph = autograd.NewGraphIn(stepArena(s.Model))
	}
	for i := 0; i < s.Accum; i++ {
		b := next()
		g := s.graph
		g.Release()
		var loss *autograd.Var
		err := tensor.Catch(func() {
			logits := s.Model.Forward(g, b.Inputs, b.Rows, b.Context, true, s.DropRNG)
			loss = autograd.CrossEntropy(g, logits, b.Targets, data.IgnoreIndex)
		})
		if err != nil {
			return StepResult{}, err
		}
		l := float64(loss.Value.Item())
		if math.IsNaN(l) || math.IsInf(l, 0) {
			return StepResult{}, &NonFiniteError{Step: step, Tensor: "the loss", Value: l}
		}
		total += l
		if err := g.Backward(loss); err != nil {
			return StepResult{}, err
		}
	}
	sq := 0.0
	for _, p := range s.stepParams() {
		if p.Grad == nil {
			continue
		}
		n := p.Device().SquaredNorm(p.Grad)
		if math.IsNaN(n) || math.IsInf(n, 0) {
			return StepResult{}, &NonFiniteError{Step: step, Tensor: "the gradient of " + p.Name, Value: n}
		}
		sq += n
	}
	// The accumulated gradient is a sum over micro-batches; the update uses their mean.
	norm := math.Sqrt(sq) / float64(s.Accum)
	scale := optim.ClipScale(norm, s.Clip) / float64(s.Accum)
	factor := s.Schedule.Factor(step)
	if s.LRFactor != nil {
		factor = s.LRFactor(step)
	}
	s.Opt.Step(factor, scale)
	for _, p := range s.stepParams() {
		p.ZeroGrad()
	}
	s.Step = step
	return StepResult{Loss: total / float64(s.Accum), GradNorm: norm, LR: factor * s.Opt.Groups()[0].LR}, nil
}

// stepArena is an arena for m's step when m's parameters live on a CPU (nil otherwise: a
// GPU device allocates for itself).
func stepArena(m Model) *tensor.Arena {
	for _, p := range m.Params() {
		if cpu, ok := p.Device().(*tensor.CPU); ok {
			return tensor.NewArena(cpu)
		}
		return nil
	}
	return nil
}

// EvalResult summarises a validation pass.
type EvalResult struct {
	Tokens int
	// NLL is the mean negative log-likelihood in nats per token.
	NLL float64
	// BPB is bits per byte of text: total nats / ln 2 / bytes covered by the targets.
	BPB float64
	// Batches is the number of batches scored, of TotalBatches asked for: fewer only when
	// a time-bounded run's closing pass met the end of the budget.
	Batches, TotalBatches int
}

// PPL is the perplexity exp(NLL).
func (r EvalResult) PPL() float64 { return math.Exp(r.NLL) }

// Evaluate scores m on the validation windows, at most maxBatches batches of them (0:
// all). tokenBytes gives each token's length in bytes for bits per byte (nil: one byte
// per token); counting the bytes of the scored tokens keeps the figure right when only
// part of the split is scored.
func Evaluate(m Model, val *data.Validation, tokenBytes func(int32) int, maxBatches int) (EvalResult, error) {
	return EvaluateContext(context.Background(), m, val, tokenBytes, maxBatches)
}

// EvaluateContext is Evaluate that stops between batches, with ctx's error, once ctx is
// cancelled: a closing pass over a large split takes long enough for a Ctrl-C to matter.
func EvaluateContext(ctx context.Context, m Model, val *data.Validation, tokenBytes func(int32) int, maxBatches int) (EvalResult, error) {
	return evaluate(ctx, m, val, tokenBytes, maxBatches, nil)
}

// evaluate is EvaluateContext that also ends early, after at least one batch, once
// timeUp says so.
func evaluate(ctx context.Context, m Model, val *data.Validation, tokenBytes func(int32) int, maxBatches int, timeUp func() bool) (EvalResult, error) {
	var res EvalResult
	n := val.NumBatches()
	if maxBatches > 0 {
		n = min(n, maxBatches)
	}
	res.TotalBatches = n
	totalNLL, bytes := 0.0, 0
	for i := 0; i < n; i++ {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		if i > 0 && timeUp != nil && timeUp() {
			break
		}
		res.Batches++
		b, err := val.Batch(i)
		if err != nil {
			return res, err
		}
		counted := 0
		for _, t := range b.Targets {
			if t == data.IgnoreIndex {
				continue
			}
			counted++
			if tokenBytes == nil {
				bytes++
			} else {
				bytes += tokenBytes(t)
			}
		}
		var loss *autograd.Var
		err = tensor.Catch(func() {
			g := autograd.NoGrad()
			logits := m.Forward(g, b.Inputs, b.Rows, b.Context, false, nil)
			loss = autograd.CrossEntropy(g, logits, b.Targets, data.IgnoreIndex)
		})
		if err != nil {
			return res, err
		}
		totalNLL += float64(loss.Value.Item()) * float64(counted)
		res.Tokens += counted
	}
	if res.Tokens == 0 {
		return res, fmt.Errorf("validation scored no tokens")
	}
	res.NLL = totalNLL / float64(res.Tokens)
	res.BPB = totalNLL / math.Ln2 / float64(max(bytes, 1))
	return res, nil
}
