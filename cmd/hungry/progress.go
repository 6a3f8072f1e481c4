package main

import (
	"fmt"
	"io"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/hungry-ssm/hungry"
	"github.com/hungry-ssm/hungry/train"
)

// progress draws a training run's events on a terminal: a bar with the loss, and the
// validation results and interruptions as lines between its redraws. Elsewhere the
// command prints hungry.LogEvents's lines instead.
type progress struct {
	out io.Writer
	bar *progressbar.ProgressBar
}

func (p *progress) event(ev train.Event) {
	switch e := ev.(type) {
	case train.Started:
		p.bar = progressbar.NewOptions(e.TotalSteps, progressbar.OptionSetWriter(p.out),
			progressbar.OptionShowCount(), progressbar.OptionSetPredictTime(true),
			progressbar.OptionSetElapsedTime(true), progressbar.OptionFullWidth(),
			progressbar.OptionThrottle(200*time.Millisecond))
		_ = p.bar.Set(e.Step)
	case train.Stepped:
		p.bar.Describe(fmt.Sprintf("loss %.3f", e.Result.Loss))
		_ = p.bar.Set(e.Step)
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
	}
}

// println writes a line, clearing the bar first so that it redraws below the line.
func (p *progress) println(line string) {
	_ = p.bar.Clear()
	fmt.Fprintln(p.out, line)
}
