package train_test

import (
	"context"
	"testing"
	"time"

	"github.com/hungry-ssm/hungry/autograd"
	"github.com/hungry-ssm/hungry/tensor"
	"github.com/hungry-ssm/hungry/train"
)

// fakeClock is a clock that moves only when the model runs.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

// timedModel advances the clock by what a forward pass costs at the clock's reading:
// trainCost for a training pass, evalCost for a validation batch. It stands for a
// machine whose speed changes under load.
type timedModel struct {
	train.Model
	clock               *fakeClock
	start               time.Time
	trainCost, evalCost func(since time.Duration) time.Duration
}

func (m *timedModel) Forward(g *autograd.Graph, ids []int32, batch, seqLen int, training bool, rng *tensor.RNG) *autograd.Var {
	if training {
		m.clock.t = m.clock.t.Add(m.trainCost(m.clock.t.Sub(m.start)))
	} else {
		m.clock.t = m.clock.t.Add(m.evalCost(m.clock.t.Sub(m.start)))
	}
	return m.Model.Forward(g, ids, batch, seqLen, training, rng)
}

type stepSeen struct {
	step    int
	lr      float64
	elapsed time.Duration
}

// runTimed trains tinyRun's model for budget on the fake clock and returns its steps.
func runTimed(t *testing.T, budget time.Duration, trainCost, evalCost func(time.Duration) time.Duration) (train.Summary, []stepSeen) {
	t.Helper()
	opts := train.Options{Batch: 2, Context: 8, Time: budget, LR: 1e-2, EvalEvery: 20, EvalBatches: 1, Seed: 3}
	r := tinyRun(t, opts)
	clock := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	r.Model = &timedModel{Model: r.Model, clock: clock, start: clock.t, trainCost: trainCost, evalCost: evalCost}
	r.Clock = clock.now
	var steps []stepSeen
	r.Events = func(ev train.Event) {
		if e, ok := ev.(train.Stepped); ok {
			steps = append(steps, stepSeen{e.Step, e.Result.LR, e.Elapsed})
		}
	}
	sum, err := r.Train(context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	return sum, steps
}

// TestTimeBudgetHoldsWhateverTheSpeed runs a 3 s budget on a fake clock on a machine that
// speeds up, and on one that slows down, after the first steps. Either way the run, its
// closing validation pass included, ends within one step of the budget, and its learning
// rate has decayed to the floor by then: the schedule follows the clock, not a step
// count fixed from the first steps.
func TestTimeBudgetHoldsWhateverTheSpeed(t *testing.T) {
	const budget = 3 * time.Second
	for _, tc := range []struct {
		name string
		cost func(time.Duration) time.Duration
	}{
		{"speeds up", func(since time.Duration) time.Duration {
			if since < 500*time.Millisecond {
				return 60 * time.Millisecond
			}
			return 15 * time.Millisecond
		}},
		{"slows down", func(since time.Duration) time.Duration {
			if since < 500*time.Millisecond {
				return 15 * time.Millisecond
			}
			return 45 * time.Millisecond
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// A validation batch costs two thirds of a step, whatever the speed.
			sum, steps := runTimed(t, budget, tc.cost, func(since time.Duration) time.Duration { return tc.cost(since) * 2 / 3 })
			if sum.Val.Batches != sum.Val.TotalBatches {
				t.Errorf("the closing pass scored %d of %d batches", sum.Val.Batches, sum.Val.TotalBatches)
			}
			// The slowest step is 60 ms: the run may end that much early, never late.
			if sum.Elapsed > budget || sum.Elapsed < budget-60*time.Millisecond {
				t.Errorf("run took %v of its %v budget", sum.Elapsed, budget)
			}
			if sum.EvalTime <= 0 || sum.TokensPerSec*(sum.Elapsed-sum.EvalTime).Seconds() < float64(sum.Tokens)*0.999 {
				t.Errorf("tokens/s %.0f counts evaluation time (%v of %v, %d tokens)", sum.TokensPerSec, sum.EvalTime, sum.Elapsed, sum.Tokens)
			}
			last := steps[len(steps)-1]
			// The cosine ends at MinLRRatio (0.1) of the peak; within one step of the end
			// it is at most a few percent above.
			if last.lr > 0.12*1e-2 {
				t.Errorf("last step's learning rate %.2e; the schedule did not reach its end", last.lr)
			}
			// Halfway through the time, the cosine stands near its middle (0.55 of the
			// peak), wherever that falls in steps.
			for _, s := range steps {
				if s.elapsed >= budget/2 {
					if s.lr < 0.4e-2 || s.lr > 0.7e-2 {
						t.Errorf("at %v (step %d) the learning rate is %.2e, want about 0.55e-2", s.elapsed, s.step, s.lr)
					}
					break
				}
			}
		})
	}
}

// TestTimeBudgetCutsTheClosingPassShort slows validation tenfold just as the closing pass
// begins, past any estimate: the pass stops at the end of the budget (and its grace)
// and says how much of the split it scored.
func TestTimeBudgetCutsTheClosingPassShort(t *testing.T) {
	const budget = 3 * time.Second
	step := func(time.Duration) time.Duration { return 20 * time.Millisecond }
	eval := func(since time.Duration) time.Duration {
		if since > budget-time.Second {
			return 150 * time.Millisecond
		}
		return 15 * time.Millisecond
	}
	sum, _ := runTimed(t, budget, step, eval)
	// The pass may overrun by a hundredth of the budget, and then finishes its batch.
	if sum.Elapsed > budget+budget/100+150*time.Millisecond {
		t.Errorf("run took %v of its %v budget; at most a hundredth and one validation batch more are allowed", sum.Elapsed, budget)
	}
	if sum.Val.Batches == 0 || sum.Val.Batches >= sum.Val.TotalBatches {
		t.Errorf("closing pass scored %d of %d batches; want it cut short", sum.Val.Batches, sum.Val.TotalBatches)
	}
}

// TestTimeBudgetCountsFromStart starts the clock a second before Train, as the command
// does while it loads the data: the second counts against the budget.
func TestTimeBudgetCountsFromStart(t *testing.T) {
	const budget = 3 * time.Second
	opts := train.Options{Batch: 2, Context: 8, Time: budget, LR: 1e-2, Seed: 3}
	r := tinyRun(t, opts)
	clock := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	cost := func(time.Duration) time.Duration { return 20 * time.Millisecond }
	r.Model = &timedModel{Model: r.Model, clock: clock, start: clock.t, trainCost: cost, evalCost: cost}
	r.Clock = clock.now
	r.Start = clock.t.Add(-time.Second)
	sum, err := r.Train(context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Elapsed > budget || sum.Elapsed < budget-20*time.Millisecond {
		t.Errorf("run took %v of its %v budget, counted from its start", sum.Elapsed, budget)
	}
	if ran := clock.t.Sub(r.Start.Add(time.Second)); ran > budget-time.Second+time.Millisecond {
		t.Errorf("Train ran %v on the clock; a second of the budget was spent before it", ran)
	}
}
