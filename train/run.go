package train

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"time"

	"github.com/hungry-ssm/hungry/data"
)

// Run is one training run in the folder Dir (laid out as Folder says). The loop does not
// lock the folder: its caller holds a Claim on it.
type Run struct {
	Dir     string
	Model   Model
	Batches Batches
	// Val holds the validation windows; TokenBytes gives each token's length in bytes
	// (nil: one byte per token) for bits per byte.
	Val        *data.Validation
	TokenBytes func(int32) int
	// Opts are the run's options. When resuming, the options that decide the batches and
	// the updates (Batch, Context, Accum, Seed, LR, SSMLR, WeightDecay, Warmup, MinLRRatio,
	// Clip, Optimizer) must equal the checkpoint's; the cadence (EvalEvery, EvalBatches,
	// CheckpointEvery, LogEvery) is taken from Opts; Steps and Time count only with Extend.
	Opts Options
	// Extend, when resuming, makes Opts.Steps (or Opts.Time when Steps is 0) a new budget
	// counted from the checkpoint, spent on a fresh learning-rate cycle: warmup, then
	// cosine decay (a warm restart). Without it a resumed run finishes the schedule it
	// was stopped in, exactly as if it had never stopped.
	Extend bool
	// SaveModel writes the model's own files (config, weights, tokenizer) plainly into a
	// checkpoint's folder, which WriteDirAtomic then swaps in whole.
	SaveModel func(dir string) error
	// Events, when set, receives the loop's progress (see Event) on the loop's goroutine.
	Events func(Event)
	// Clock, when set, replaces time.Now for every duration the loop measures, so tests
	// can run time budgets on a clock of their own.
	Clock func() time.Time
	// Start, when set, is when this session's training time began counting, before Train
	// was called: the hungry command starts it as it starts, so that a time budget covers
	// loading the data and building the model too.
	Start time.Time
}

// Summary is what a run achieved.
type Summary struct {
	Steps   int
	Tokens  int64
	Elapsed time.Duration
	// EvalTime is the part of Elapsed spent in validation passes; TokensPerSec counts the
	// rest only.
	EvalTime     time.Duration
	TokensPerSec float64
	LastLoss     float64
	Val          EvalResult
}

// Train runs until the step or time budget is spent, the context is cancelled (then it
// saves a checkpoint and returns ErrInterrupted, also during the closing validation
// pass) or something fails. With resume set it continues from the run's checkpoint,
// which must come from the same model.
//
// A time-bounded run (Steps 0) schedules its learning rate on the fraction of the budget
// spent, read from the clock at every step, and stops when the next step, the closing
// validation pass and the final checkpoint would no longer fit: the budget holds,
// evaluation included, however the machine's speed changes during the run.
func (r *Run) Train(ctx context.Context, resume bool) (Summary, error) {
	l, err := r.begin(resume)
	if err != nil {
		return Summary{}, err
	}
	l.emit(Started{Step: l.stepper.Step, TotalSteps: l.st.TotalSteps, Resumed: resume,
		Elapsed: l.elapsed(), End: l.end()})
	var last StepResult
	for !l.done() {
		if ctx.Err() != nil {
			return Summary{}, l.interrupt()
		}
		if last, err = l.step(ctx); err != nil {
			if ctx.Err() != nil {
				return Summary{}, l.interrupt()
			}
			return Summary{}, err
		}
	}
	l.emit(Stopped{Step: l.stepper.Step, TotalSteps: l.st.TotalSteps})
	return l.finish(ctx, last)
}

// loop is the state one call of Train carries from step to step.
type loop struct {
	*Run
	folder  Folder
	opts    Options
	st      trainerState
	stepper *Stepper
	// The run's training time is prior (from before a resumption) plus the time since
	// start; priorEval is the part of prior spent evaluating.
	start            time.Time
	prior, priorEval time.Duration
	// finalEval estimates the closing validation pass over the whole split (from one
	// batch timed at the start, then from each partial pass), stepTime a step (a moving
	// average) and saveTime a checkpoint (the last one): what a time-bounded run keeps
	// back to end within its budget.
	finalEval, stepTime, saveTime time.Duration
	// evalTime is this session's time in validation passes.
	evalTime time.Duration
	// evalRatio is a validation batch's time over a step's (stepTime), the mean of
	// ratioN measurements taken after the first steps, then every tenth of the budget,
	// and at every partial pass (which include the cold first batch, and so err high): the closing pass's estimate then follows the machine's
	// speed through stepTime. On a loaded machine single timings vary twofold, hence the
	// mean. nextRatio is the progress at which to measure again.
	evalRatio, ratioSum float64
	ratioN              int
	nextRatio           float64
	sessionSteps        int
	// winStart and winTokens measure the speed since the last metrics line.
	winStart  time.Time
	winTokens int64
}

func (l *loop) now() time.Time {
	if l.Clock != nil {
		return l.Clock()
	}
	return time.Now()
}

// begin prepares the loop: from the run's checkpoint when resuming, otherwise from
// scratch.
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
		if err := sameUpdates(opts, l.st.Options); err != nil {
			return nil, err
		}
		if r.Extend {
			l.st.SegmentStep, l.st.SegmentSec = l.st.Step, l.st.ElapsedSec
			if opts.Steps > 0 {
				l.st.TotalSteps, l.st.EndSec = l.st.Step+opts.Steps, 0
			} else {
				l.st.TotalSteps, l.st.EndSec = l.st.Step+1, l.st.ElapsedSec+opts.Time.Seconds()
			}
		} else {
			opts.Steps, opts.Time = l.st.Options.Steps, l.st.Options.Time
		}
		l.st.Options = opts
		l.stepper = NewStepper(r.Model, opts, l.st.TotalSteps)
		if err := restore(dir, l.st, l.stepper, r.Batches); err != nil {
			return nil, err
		}
		if err := truncateMetrics(l.folder.Metrics(), l.st.Step); err != nil {
			return nil, err
		}
	} else {
		_ = os.Remove(l.folder.Metrics())
		l.st.Options, l.st.TotalSteps = opts, opts.Steps
		if opts.Steps == 0 {
			l.st.TotalSteps, l.st.EndSec = 1, opts.Time.Seconds()
		}
		l.stepper = NewStepper(r.Model, opts, l.st.TotalSteps)
	}
	l.opts = opts
	l.prior = seconds(l.st.ElapsedSec)
	l.priorEval = seconds(l.st.EvalSec)
	l.start, l.winStart = l.now(), l.now()
	if !r.Start.IsZero() && r.Start.Before(l.start) {
		l.start = r.Start
	}
	l.schedule()
	// One validation batch, timed, sizes the closing pass before any partial one has run.
	if n := l.Val.NumBatches(); n > 0 {
		t0 := l.now()
		if _, err := Evaluate(l.Model, l.Val, l.TokenBytes, 1); err != nil {
			return nil, err
		}
		d := l.now().Sub(t0)
		l.evalTime += d
		l.finalEval = d * time.Duration(n)
	}
	return l, nil
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// sameUpdates reports an option of a resumed run that differs from its checkpoint's and
// would change the batches or the updates.
func sameUpdates(a, b Options) error {
	b.defaults()
	for _, d := range []struct {
		name     string
		got, was any
	}{
		{"batch", a.Batch, b.Batch}, {"context", a.Context, b.Context}, {"accum", a.Accum, b.Accum},
		{"seed", a.Seed, b.Seed}, {"learning rate", a.LR, b.LR}, {"SSM learning rate", a.SSMLR, b.SSMLR},
		{"weight decay", a.WeightDecay, b.WeightDecay}, {"warmup", a.Warmup, b.Warmup},
		{"minimum learning-rate ratio", a.MinLRRatio, b.MinLRRatio}, {"clip", a.Clip, b.Clip},
		{"optimizer", a.Optimizer, b.Optimizer},
	} {
		if d.got != d.was {
			return fmt.Errorf("resume: %s %v differs from the checkpoint's %v", d.name, d.got, d.was)
		}
	}
	return nil
}

// timed reports whether the run is bounded by time rather than by a step count.
func (l *loop) timed() bool { return l.st.EndSec > 0 }

// end is the training time at which a time-bounded run ends (0 for a step-bounded one).
func (l *loop) end() time.Duration { return seconds(l.st.EndSec) }

// target is when a time-bounded run's last step must end: the end less what the closing
// validation pass and the final checkpoint will take.
func (l *loop) target() time.Duration { return l.end() - l.finalEval - l.saveTime }

// schedule sets the stepper's learning-rate schedule for the current segment of the run
// (from its start, or from the resumption that gave it a new budget).
func (l *loop) schedule() {
	o, seg := l.opts, l.st.SegmentStep
	if l.timed() {
		l.stepper.LRFactor = func(int) float64 { return cosineFactor(l.progress(), o.Warmup, o.MinLRRatio) }
		return
	}
	if seg == 0 {
		return // NewStepper's schedule over TotalSteps
	}
	span := l.st.TotalSteps - seg
	l.stepper.Schedule.Warmup = int(math.Ceil(o.Warmup * float64(span)))
	l.stepper.Schedule.Total = span
	sched := l.stepper.Schedule
	l.stepper.LRFactor = func(step int) float64 { return sched.Factor(step - seg) }
}

// progress is the fraction of a time-bounded segment spent, in [0, 1].
func (l *loop) progress() float64 {
	seg := seconds(l.st.SegmentSec)
	span := l.target() - seg
	if span <= 0 {
		return 1
	}
	return min(max(float64(l.elapsed()-seg)/float64(span), 0), 1)
}

// cosineFactor is the warmup-then-cosine multiplier at progress p in [0, 1], the
// time-based counterpart of optim.WarmupCosine.
func cosineFactor(p, warmup, minRatio float64) float64 {
	if p < warmup {
		return p / warmup
	}
	if p >= 1 {
		return minRatio
	}
	q := (p - warmup) / (1 - warmup)
	return minRatio + (1-minRatio)*0.5*(1+math.Cos(math.Pi*q))
}

// done reports whether the budget is spent: the step count, or for a time-bounded run
// the time left once the next step, the closing pass and the final checkpoint are set
// aside (after at least one step).
func (l *loop) done() bool {
	if !l.timed() {
		return l.stepper.Step >= l.st.TotalSteps
	}
	return l.stepper.Step > l.st.SegmentStep && l.elapsed()+l.stepTime >= l.target()
}

func (l *loop) elapsed() time.Duration { return l.prior + l.now().Sub(l.start) }

// remaining estimates the training time left, the closing pass included.
func (l *loop) remaining() time.Duration {
	if l.timed() {
		return max(l.end()-l.elapsed(), 0)
	}
	return time.Duration(l.st.TotalSteps-l.stepper.Step)*l.stepTime + l.finalEval + l.saveTime
}

func (l *loop) emit(e Event) {
	if l.Events != nil {
		l.Events(e)
	}
}

// step runs one optimizer step, then writes the metrics line and the checkpoint that are
// due.
func (l *loop) step(ctx context.Context) (StepResult, error) {
	t0 := l.now()
	res, err := l.stepper.Run(l.Batches.Next)
	if err != nil {
		return res, err
	}
	d := l.now().Sub(t0)
	l.sessionSteps++
	// The first step warms caches and allocators up and is no guide to the others.
	if l.sessionSteps <= 2 {
		l.stepTime = d
	} else {
		l.stepTime = (3*l.stepTime + d) / 4
	}
	if l.timed() {
		if err := l.estimateFinalEval(ctx); err != nil {
			return res, err
		}
	}
	tokens := int64(l.opts.Batch * l.opts.Context * l.opts.Accum)
	l.st.Tokens += tokens
	l.winTokens += tokens
	step := l.stepper.Step
	if l.timed() {
		// The schedule's length follows the speed: steps so far over the fraction spent.
		seg := l.st.SegmentStep
		if p := l.progress(); p > 0 {
			l.st.TotalSteps = max(step, seg+int(math.Round(float64(step-seg)/p)))
		} else {
			l.st.TotalSteps = max(l.st.TotalSteps, step)
		}
	}
	last := !l.timed() && step == l.st.TotalSteps
	l.emit(Stepped{Step: step, TotalSteps: l.st.TotalSteps, Result: res, Tokens: l.st.Tokens,
		Elapsed: l.elapsed(), Remaining: l.remaining()})
	// The first step is logged too: the plot starts from the untrained model's loss.
	if step%l.opts.LogEvery == 0 || last || step == 1 {
		if err := l.log(ctx, res, !last); err != nil {
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

// estimateFinalEval keeps a time-bounded run's estimate of its closing pass current:
// the step time tracks the machine's speed, and a validation batch costs evalRatio
// steps. The ratio comes from one batch timed after the third step, once the first
// steps' warming up is over, and then from the partial passes.
func (l *loop) estimateFinalEval(ctx context.Context) error {
	if l.sessionSteps >= 3 && l.progress() >= l.nextRatio {
		// The batch is scored twice and timed the second time: the first pass after
		// training steps runs cold, as the closing pass's later batches do not.
		var d time.Duration
		for i := 0; i < 2; i++ {
			t0 := l.now()
			if _, err := EvaluateContext(ctx, l.Model, l.Val, l.TokenBytes, 1); err != nil {
				return err
			}
			d = l.now().Sub(t0)
			l.evalTime += d
		}
		l.noteEvalRatio(float64(d) / float64(l.stepTime))
		l.nextRatio = l.progress() + 0.1
	}
	if l.evalRatio > 0 {
		l.finalEval = time.Duration(l.evalRatio * float64(l.stepTime) * float64(l.Val.NumBatches()))
	}
	return nil
}

func (l *loop) noteEvalRatio(r float64) {
	l.ratioSum += r
	l.ratioN++
	l.evalRatio = l.ratioSum / float64(l.ratioN)
}

// log writes a metrics line, with a partial validation pass on evaluation steps when
// mayEval (the last step's full one comes in finish).
func (l *loop) log(ctx context.Context, res StepResult, mayEval bool) error {
	step := l.stepper.Step
	rec := Record{Step: step, Tokens: l.st.Tokens, Loss: res.Loss, LR: res.LR, GradNorm: res.GradNorm,
		TokensPerSec: float64(l.winTokens) / l.now().Sub(l.winStart).Seconds(), ElapsedSec: l.elapsed().Seconds()}
	if l.opts.EvalEvery > 0 && step%l.opts.EvalEvery == 0 && mayEval {
		ev, err := l.evaluatePartial(ctx)
		if err != nil {
			return err
		}
		rec.ValLoss, rec.ValPPL, rec.ValBPB = ev.NLL, ev.PPL(), ev.BPB
	}
	if err := appendRecord(l.folder.Metrics(), rec); err != nil {
		return err
	}
	l.emit(Logged{Record: rec, TotalSteps: l.st.TotalSteps, Elapsed: l.elapsed()})
	l.winStart, l.winTokens = l.now(), 0
	return nil
}

// evaluatePartial scores at most EvalBatches validation batches and scales the time it
// took to the whole split for finalEval.
func (l *loop) evaluatePartial(ctx context.Context) (EvalResult, error) {
	t0 := l.now()
	ev, err := EvaluateContext(ctx, l.Model, l.Val, l.TokenBytes, l.opts.EvalBatches)
	d := l.now().Sub(t0)
	l.evalTime += d
	if err == nil && ev.Batches > 0 {
		l.finalEval = d * time.Duration(l.Val.NumBatches()) / time.Duration(ev.Batches)
		if l.stepTime > 0 {
			l.noteEvalRatio(float64(d) / float64(ev.Batches) / float64(l.stepTime))
		}
	}
	return ev, err
}

// save writes a checkpoint of the current step.
func (l *loop) save(interrupted bool) error {
	t0 := l.now()
	l.st.Step = l.stepper.Step
	l.st.ElapsedSec = l.elapsed().Seconds()
	l.st.EvalSec = (l.priorEval + l.evalTime).Seconds()
	if err := l.folder.saveCheckpoint(l.st, l.stepper, l.Batches, l.SaveModel); err != nil {
		return err
	}
	l.saveTime = l.now().Sub(t0)
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
func (l *loop) finish(ctx context.Context, last StepResult) (Summary, error) {
	t0 := l.now()
	// A time-bounded run's closing pass stops at the end of the budget should the
	// machine slow down under it: the budget is a promise, and the result says how much
	// of the split it scored.
	var timeUp func() bool
	if l.timed() {
		// It may run over by a hundredth of the budget before it stops: estimates on a
		// loaded machine err by about that much, and a pass cut short scores less text.
		grace := (l.end() - seconds(l.st.SegmentSec)) / 100
		timeUp = func() bool { return l.elapsed() >= l.end()+grace }
	}
	ev, err := evaluate(ctx, l.Model, l.Val, l.TokenBytes, 0, timeUp)
	l.evalTime += l.now().Sub(t0)
	if err != nil {
		if errors.Is(err, ctx.Err()) {
			return Summary{}, l.interrupt()
		}
		return Summary{}, err
	}
	final := Record{Step: l.stepper.Step, Tokens: l.st.Tokens, ElapsedSec: l.elapsed().Seconds(), ValLoss: ev.NLL, ValPPL: ev.PPL(), ValBPB: ev.BPB}
	if err := appendRecord(l.folder.Metrics(), final); err != nil {
		return Summary{}, err
	}
	l.emit(Logged{Record: final, TotalSteps: l.st.TotalSteps, Elapsed: l.elapsed(), Final: true})
	l.st.TotalSteps = l.stepper.Step
	if err := l.save(false); err != nil {
		return Summary{}, fmt.Errorf("final checkpoint: %w", err)
	}
	el := l.elapsed()
	evalTime := l.priorEval + l.evalTime
	return Summary{Steps: l.stepper.Step, Tokens: l.st.Tokens, Elapsed: el, EvalTime: evalTime,
		TokensPerSec: float64(l.st.Tokens) / max(el-evalTime, time.Millisecond).Seconds(), LastLoss: last.Loss, Val: ev}, nil
}
