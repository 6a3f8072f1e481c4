package main

import (
	"fmt"
	"io"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/hungry-ssm/hungry"
	"github.com/hungry-ssm/hungry/train"
)

// progress draws a training run's events on a terminal: a bar with the step, the loss
// and the time left against the budget, and the validation results and interruptions
// as lines between its redraws. Elsewhere the command prints hungry.LogEvents's lines.
//
// A step-bounded run's bar counts steps; a time-bounded one's counts seconds of its
// budget (in tenths), since its step count is only an estimate.
type progress struct {
	out   io.Writer
	bar   *progressbar.ProgressBar
	timed bool
}

func (p *progress) event(ev train.Event) {
	switch e := ev.(type) {
	case train.Started:
		total, at := e.TotalSteps, e.Step
		if p.timed = e.End > 0; p.timed {
			total, at = int(e.End/tick), int(e.Elapsed/tick)
		}
		p.bar = progressbar.NewOptions(total, progressbar.OptionSetWriter(p.out),
			progressbar.OptionSetPredictTime(false), progressbar.OptionFullWidth(),
			progressbar.OptionThrottle(200*time.Millisecond))
		_ = p.bar.Set(at)
	case train.Stepped:
		steps := fmt.Sprintf("step %d/%d", e.Step, e.TotalSteps)
		at := e.Step
		if p.timed {
			steps = fmt.Sprintf("step %d/~%d", e.Step, e.TotalSteps)
			at = int(e.Elapsed / tick)
		}
		p.bar.Describe(fmt.Sprintf("%s  loss %.3f  %s, %s left", steps, e.Result.Loss,
			e.Elapsed.Round(time.Second), e.Remaining.Round(time.Second)))
		_ = p.bar.Set(at)
	case train.Logged:
		if r := e.Record; r.ValLoss > 0 && !e.Final {
			p.println(fmt.Sprintf("step %d: validation ppl %.2f, %.3f bits/byte", r.Step, r.ValPPL, r.ValBPB))
		}
	case train.Saved:
		if e.Interrupted {
			p.println(hungry.InterruptedLine(e))
		}
	case train.Stopped:
		_ = p.bar.Finish()
		fmt.Fprintln(p.out)
		fmt.Fprintln(p.out, hungry.StoppedLine(e))
	}
}

// tick is the unit of a time-bounded run's bar.
const tick = 100 * time.Millisecond

// println writes a line, clearing the bar first so that it redraws below the line.
func (p *progress) println(line string) {
	_ = p.bar.Clear()
	fmt.Fprintln(p.out, line)
}
