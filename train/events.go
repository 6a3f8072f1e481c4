package train

import "time"

// Event is what Train reports as it runs, through Run.Events, in this order: Started;
// then for every optimizer step a Stepped, a Logged when it writes a metrics line and a
// Saved when it checkpoints; Stopped when the steps are over; then the closing
// validation pass's Logged (Final) and the final Saved. A cancelled run ends with a
// Saved marked Interrupted instead. The loop itself draws nothing: the hungry command
// turns these into its progress bar, log lines and loss plot.
type Event interface{ event() }

// Started opens a run: Step is where it starts (0, or the checkpoint's step when
// resuming) and TotalSteps the length of its schedule.
type Started struct {
	Step, TotalSteps int
	Resumed          bool
	// Elapsed is the run's training time so far (from before a resumption); End, for a
	// time-bounded run, the training time at which it will end (0 when steps bound it).
	Elapsed, End time.Duration
}

// Stepped follows every optimizer step.
type Stepped struct {
	Step, TotalSteps int
	Result           StepResult
	// Tokens is the number of training tokens seen so far.
	Tokens int64
	// Elapsed is the run's training time so far; Remaining estimates what is left of it,
	// the closing validation pass included. For a time-bounded run TotalSteps is itself an
	// estimate, revised at every step.
	Elapsed, Remaining time.Duration
}

// Logged follows every line written to metrics.jsonl.
type Logged struct {
	Record     Record
	TotalSteps int
	// Elapsed is the run's training time when the line was written, after the validation
	// pass of an evaluation step.
	Elapsed time.Duration
	// Final marks the closing validation pass over the whole split, after Stopped.
	Final bool
}

// Saved follows every checkpoint written to Dir.
type Saved struct {
	Step int
	Dir  string
	// Interrupted marks the checkpoint written because the context was cancelled; Train
	// then returns ErrInterrupted.
	Interrupted bool
}

// Stopped says the optimizer steps are over (the step or time budget is spent); the
// closing validation pass and the final checkpoint follow.
type Stopped struct {
	Step, TotalSteps int
}

func (Started) event() {}
func (Stepped) event() {}
func (Logged) event()  {}
func (Saved) event()   {}
func (Stopped) event() {}
