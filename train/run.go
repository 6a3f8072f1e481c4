package train

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/hungry-ssm/hungry/autograd"
	"github.com/hungry-ssm/hungry/data"
	"github.com/hungry-ssm/hungry/tensor"
)

// Run is one training run in the folder Dir (laid out as Folder says).
type Run struct {
	Dir     string
	Model   Model
	Batches Batches
	// Val holds the validation windows; TokenBytes gives each token's length in bytes
	// (nil: one byte per token) for bits per byte.
	Val        *data.Validation
	TokenBytes func(int32) int
	Opts       Options
	// SaveModel writes the model's own files (config, weights, tokenizer) plainly into a
	// checkpoint's folder, which WriteDirAtomic then swaps in whole.
	SaveModel func(dir string) error
	// Events, when set, receives the loop's progress (see Event) on the loop's goroutine.
	Events func(Event)
}

// Summary is what a run achieved.
type Summary struct {
	Steps        int
	Tokens       int64
	Elapsed      time.Duration
	TokensPerSec float64
	LastLoss     float64
	Val          EvalResult
}

// Train runs until the step or time budget is spent, the context is cancelled (then it
// saves a checkpoint and returns ErrInterrupted) or something fails. With resume set it
// continues from the run's checkpoint, which must come from the same model.
func (r *Run) Train(ctx context.Context, resume bool) (Summary, error) {
	l, err := r.begin(resume)
	if err != nil {
		return Summary{}, err
	}
	l.emit(Started{Step: l.stepper.Step, TotalSteps: l.st.TotalSteps, Resumed: resume})
	stopByTime := l.opts.Steps == 0 && l.opts.Time > 0
	var last StepResult
	for l.stepper.Step < l.st.TotalSteps {
		if ctx.Err() != nil {
			return Summary{}, l.interrupt()
		}
		if stopByTime && l.elapsed()+l.finalEval >= l.opts.Time {
			break
		}
		if last, err = l.step(); err != nil {
			return Summary{}, err
		}
	}
	l.emit(Stopped{Step: l.stepper.Step, TotalSteps: l.st.TotalSteps})
	return l.finish(last)
}

// loop is the state one call of Train carries from step to step.
type loop struct {
	*Run
	folder  Folder
	opts    Options
	st      trainerState
	stepper *Stepper
	// The run's training time is prior (from before a resumption) plus the time since start.
	start time.Time
	prior time.Duration
	// finalEval estimates the closing validation pass over the whole split from the last
	// partial one, so a time-bounded run ends, evaluation included, within its budget.
	finalEval time.Duration
	// winStart and winTokens measure the speed since the last metrics line.
	winStart  time.Time
	winTokens int64
}

// begin prepares the loop: from the run's checkpoint when resuming, otherwise from
// scratch, timing a step first when the schedule's length must come from a time budget.
func (r *Run) begin(resume bool) (*loop, error) {
	opts := r.Opts
	opts.defaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(r.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("cannot create the run folder: %w", err)
	}
	l := &loop{Run: r, folder: Folder(r.Dir)}
	if resume {
		dir, err := l.folder.LatestCheckpoint()
		if err != nil {
			return nil, err
		}
		if l.st, err = readTrainerState(dir); err != nil {
			return nil, err
		}
		l.stepper = NewStepper(r.Model, l.st.Options, l.st.TotalSteps)
		if err := restore(dir, l.st, l.stepper, r.Batches); err != nil {
			return nil, err
		}
		opts = l.st.Options
		if err := truncateMetrics(l.folder.Metrics(), l.st.Step); err != nil {
			return nil, err
		}
	} else {
		_ = os.Remove(l.folder.Metrics())
		l.st.Options, l.st.TotalSteps = opts, opts.Steps
		if l.st.TotalSteps == 0 {
			per, err := r.timeStep(opts)
			if err != nil {
				return nil, err
			}
			// Leave a tenth of the budget for validation passes and checkpoints.
			l.st.TotalSteps = max(1, int(0.9*opts.Time.Seconds()/per.Seconds()))
		}
		l.stepper = NewStepper(r.Model, opts, l.st.TotalSteps)
	}
	l.opts = opts
	l.prior = time.Duration(l.st.ElapsedSec * float64(time.Second))
	l.start, l.winStart = time.Now(), time.Now()
	return l, nil
}

func (l *loop) elapsed() time.Duration { return l.prior + time.Since(l.start) }

func (l *loop) emit(e Event) {
	if l.Events != nil {
		l.Events(e)
	}
}

// step runs one optimizer step, then writes the metrics line and the checkpoint that are
// due.
func (l *loop) step() (StepResult, error) {
	res, err := l.stepper.Run(l.Batches.Next)
	if err != nil {
		return res, err
	}
	tokens := int64(l.opts.Batch * l.opts.Context * l.opts.Accum)
	l.st.Tokens += tokens
	l.winTokens += tokens
	step := l.stepper.Step
	l.emit(Stepped{Step: step, TotalSteps: l.st.TotalSteps, Result: res, Tokens: l.st.Tokens})
	if step%l.opts.LogEvery == 0 || step == l.st.TotalSteps {
		if err := l.log(res); err != nil {
			return res, err
		}
	}
	if l.opts.CheckpointEvery > 0 && step%l.opts.CheckpointEvery == 0 {
		if err := l.save(false); err != nil {
			return res, fmt.Errorf("checkpoint at step %d: %w", step, err)
		}
	}
	return res, nil
}

// log writes a metrics line, with a partial validation pass on evaluation steps (the
// last step's full one comes in finish).
func (l *loop) log(res StepResult) error {
	step := l.stepper.Step
	rec := Record{Step: step, Tokens: l.st.Tokens, Loss: res.Loss, LR: res.LR, GradNorm: res.GradNorm,
		TokensPerSec: float64(l.winTokens) / time.Since(l.winStart).Seconds(), ElapsedSec: l.elapsed().Seconds()}
	if l.opts.EvalEvery > 0 && step%l.opts.EvalEvery == 0 && step != l.st.TotalSteps {
		ev, err := l.evaluatePartial()
		if err != nil {
			return err
		}
		rec.ValLoss, rec.ValPPL, rec.ValBPB = ev.NLL, ev.PPL(), ev.BPB
	}
	if err := appendRecord(l.folder.Metrics(), rec); err != nil {
		return err
	}
	l.emit(Logged{Record: rec, TotalSteps: l.st.TotalSteps, Elapsed: l.elapsed()})
	l.winStart, l.winTokens = time.Now(), 0
	return nil
}

// evaluatePartial scores at most EvalBatches validation batches and scales the time it
// took to the whole split for finalEval.
func (l *loop) evaluatePartial() (EvalResult, error) {
	t0 := time.Now()
	ev, err := Evaluate(l.Model, l.Val, l.TokenBytes, l.opts.EvalBatches)
	if n := l.Val.NumBatches(); l.opts.EvalBatches > 0 && l.opts.EvalBatches < n {
		l.finalEval = time.Since(t0) * time.Duration(n) / time.Duration(l.opts.EvalBatches)
	} else {
		l.finalEval = time.Since(t0)
	}
	return ev, err
}

// save writes a checkpoint of the current step.
func (l *loop) save(interrupted bool) error {
	l.st.Step = l.stepper.Step
	l.st.ElapsedSec = l.elapsed().Seconds()
	if err := l.folder.saveCheckpoint(l.st, l.stepper, l.Batches, l.SaveModel); err != nil {
		return err
	}
	l.emit(Saved{Step: l.st.Step, Dir: l.folder.Checkpoint(), Interrupted: interrupted})
	return nil
}

// interrupt checkpoints a cancelled run.
func (l *loop) interrupt() error {
	if err := l.save(true); err != nil {
		return fmt.Errorf("interrupted, and the checkpoint failed: %w", err)
	}
	return ErrInterrupted
}

// finish scores the whole validation split, logs it and writes the final checkpoint.
func (l *loop) finish(last StepResult) (Summary, error) {
	ev, err := Evaluate(l.Model, l.Val, l.TokenBytes, 0)
	if err != nil {
		return Summary{}, err
	}
	final := Record{Step: l.stepper.Step, Tokens: l.st.Tokens, ElapsedSec: l.elapsed().Seconds(), ValLoss: ev.NLL, ValPPL: ev.PPL(), ValBPB: ev.BPB}
	if err := appendRecord(l.folder.Metrics(), final); err != nil {
		return Summary{}, err
	}
	l.emit(Logged{Record: final, TotalSteps: l.st.TotalSteps, Elapsed: l.elapsed(), Final: true})
	if err := l.save(false); err != nil {
		return Summary{}, fmt.Errorf("final checkpoint: %w", err)
	}
	el := l.elapsed()
	return Summary{Steps: l.stepper.Step, Tokens: l.st.Tokens, Elapsed: el,
		TokensPerSec: float64(l.st.Tokens) / el.Seconds(), LastLoss: last.Loss, Val: ev}, nil
}

// timeStep measures one forward and backward pass on a dummy batch, after one untimed
// pass that warms caches and allocators; it leaves no gradient and draws no randomness.
func (r *Run) timeStep(opts Options) (time.Duration, error) {
	ids := make([]int32, opts.Batch*opts.Context)
	var per time.Duration
	for i := 0; i < 2; i++ {
		t0 := time.Now()
		err := tensor.Catch(func() {
			g := autograd.NewGraph()
			logits := r.Model.Forward(g, ids, opts.Batch, opts.Context, false, nil)
			loss := autograd.CrossEntropy(g, logits, ids, -100)
			if err := g.Backward(loss); err != nil {
				panic(err)
			}
		})
		if err != nil {
			return 0, err
		}
		per = time.Since(t0)
	}
	for _, p := range r.Model.Params() {
		p.ZeroGrad()
	}
	return per * time.Duration(opts.Accum), nil
}
