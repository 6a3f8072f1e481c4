package train

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/hungry-ssm/hungry/autograd"
	"github.com/hungry-ssm/hungry/data"
	"github.com/hungry-ssm/hungry/tensor"
)

// Run is one training run writing into Dir: checkpoint/, metrics.jsonl and loss.png.
type Run struct {
	Dir     string
	Model   Model
	Batches Batches
	// Val holds the validation windows; TokenBytes gives each token's length in bytes
	// (nil: one byte per token) for bits per byte.
	Val        *data.Validation
	TokenBytes func(int32) int
	Opts       Options
	// SaveModel writes the model's own files (config, weights, tokenizer) into a folder.
	SaveModel func(dir string) error
	// Out receives progress: a bar when Terminal is set, plain log lines otherwise.
	Out      io.Writer
	Terminal bool
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

// CheckpointDir is the folder of a run's latest checkpoint.
func CheckpointDir(runDir string) string { return filepath.Join(runDir, "checkpoint") }

// trainerState is the loop's own part of a checkpoint (trainer.json).
type trainerState struct {
	Step       int     `json:"step"`
	TotalSteps int     `json:"total_steps"`
	Tokens     int64   `json:"tokens"`
	ElapsedSec float64 `json:"elapsed_s"`
	OptStep    int     `json:"optimizer_step"`
	Sampler    []byte  `json:"sampler"`
	DropoutRNG []byte  `json:"dropout_rng"`
	Options    Options `json:"options"`
}

const (
	trainerFile   = "trainer.json"
	optimizerFile = "optimizer.safetensors"
)

// Train runs until the step or time budget is spent, the context is cancelled (then it
// saves a checkpoint and returns ErrInterrupted) or something fails. With resume set it
// continues from the run's checkpoint, which must come from the same model.
func (r *Run) Train(ctx context.Context, resume bool) (Summary, error) {
	opts := r.Opts
	opts.defaults()
	if err := opts.Validate(); err != nil {
		return Summary{}, err
	}
	if err := os.MkdirAll(r.Dir, 0o755); err != nil {
		return Summary{}, fmt.Errorf("cannot create the run folder: %w", err)
	}
	metricsPath := filepath.Join(r.Dir, "metrics.jsonl")

	var st trainerState
	var stepper *Stepper
	if resume {
		dir, err := resolveDir(CheckpointDir(r.Dir))
		if err != nil {
			return Summary{}, err
		}
		if st, err = readTrainerState(dir); err != nil {
			return Summary{}, err
		}
		stepper = NewStepper(r.Model, st.Options, st.TotalSteps)
		if err := r.restore(dir, st, stepper); err != nil {
			return Summary{}, err
		}
		opts = st.Options
		if err := truncateMetrics(metricsPath, st.Step); err != nil {
			return Summary{}, err
		}
	} else {
		_ = os.Remove(metricsPath)
		st.Options = opts
		st.TotalSteps = opts.Steps
		if st.TotalSteps == 0 {
			per, err := r.timeStep(opts)
			if err != nil {
				return Summary{}, err
			}
			// Leave a tenth of the budget for validation passes and checkpoints.
			st.TotalSteps = max(1, int(0.9*opts.Time.Seconds()/per.Seconds()))
		}
		stepper = NewStepper(r.Model, opts, st.TotalSteps)
	}

	start := time.Now()
	prior := time.Duration(st.ElapsedSec * float64(time.Second))
	elapsed := func() time.Duration { return prior + time.Since(start) }
	tokensPerStep := int64(opts.Batch * opts.Context * opts.Accum)
	var bar *progressbar.ProgressBar
	if r.Terminal && r.Out != nil {
		bar = progressbar.NewOptions(st.TotalSteps, progressbar.OptionSetWriter(r.Out),
			progressbar.OptionShowCount(), progressbar.OptionSetPredictTime(true),
			progressbar.OptionSetElapsedTime(true), progressbar.OptionFullWidth(),
			progressbar.OptionThrottle(200*time.Millisecond))
		_ = bar.Set(st.Step)
	}
	logf := func(format string, args ...any) {
		if r.Out == nil {
			return
		}
		if bar != nil {
			_ = bar.Clear()
		}
		fmt.Fprintf(r.Out, format+"\n", args...)
	}

	var recs []Record
	save := func() error {
		st.Step = stepper.Step
		st.ElapsedSec = elapsed().Seconds()
		return r.checkpoint(st, stepper)
	}
	evaluate := func(maxBatches int) (EvalResult, error) {
		return Evaluate(r.Model, r.Val, r.TokenBytes, maxBatches)
	}

	var last StepResult
	winStart, winTokens := time.Now(), int64(0)
	stopByTime := opts.Steps == 0 && opts.Time > 0
	// finalEval estimates the closing validation pass over the whole split from the last
	// partial one, so a time-bounded run ends, evaluation included, within its budget.
	var finalEval time.Duration
	for stepper.Step < st.TotalSteps {
		if err := ctx.Err(); err != nil {
			if err := save(); err != nil {
				return Summary{}, fmt.Errorf("interrupted, and the checkpoint failed: %w", err)
			}
			logf("interrupted at step %d; checkpoint saved in %s", stepper.Step, CheckpointDir(r.Dir))
			return Summary{}, ErrInterrupted
		}
		if stopByTime && elapsed()+finalEval >= opts.Time {
			break
		}
		res, err := stepper.Run(r.Batches.Next)
		if err != nil {
			return Summary{}, err
		}
		last = res
		st.Tokens += tokensPerStep
		winTokens += tokensPerStep
		step := stepper.Step
		if bar != nil {
			bar.Describe(fmt.Sprintf("loss %.3f", res.Loss))
			_ = bar.Set(step)
		}
		if step%opts.LogEvery == 0 || step == st.TotalSteps {
			tps := float64(winTokens) / time.Since(winStart).Seconds()
			rec := Record{Step: step, Tokens: st.Tokens, Loss: res.Loss, LR: res.LR, GradNorm: res.GradNorm,
				TokensPerSec: tps, ElapsedSec: elapsed().Seconds()}
			if opts.EvalEvery > 0 && step%opts.EvalEvery == 0 && step != st.TotalSteps {
				t0 := time.Now()
				ev, err := evaluate(opts.EvalBatches)
				if n := r.Val.NumBatches(); opts.EvalBatches > 0 && opts.EvalBatches < n {
					finalEval = time.Since(t0) * time.Duration(n) / time.Duration(opts.EvalBatches)
				} else {
					finalEval = time.Since(t0)
				}
				if err != nil {
					return Summary{}, err
				}
				rec.ValLoss, rec.ValPPL, rec.ValBPB = ev.NLL, ev.PPL(), ev.BPB
			}
			if err := appendRecord(metricsPath, rec); err != nil {
				return Summary{}, err
			}
			recs = append(recs, rec)
			if bar == nil {
				line := fmt.Sprintf("step %d/%d  loss %.4f  lr %.2e  %.0f tok/s  %s", step, st.TotalSteps, res.Loss, res.LR, tps, elapsed().Round(time.Second))
				if rec.ValLoss > 0 {
					line += fmt.Sprintf("  val ppl %.2f  bpb %.3f", rec.ValPPL, rec.ValBPB)
				}
				logf("%s", line)
			} else if rec.ValLoss > 0 {
				logf("step %d: validation ppl %.2f, %.3f bits/byte", step, rec.ValPPL, rec.ValBPB)
			}
			winStart, winTokens = time.Now(), 0
		}
		if opts.CheckpointEvery > 0 && step%opts.CheckpointEvery == 0 {
			if err := save(); err != nil {
				return Summary{}, fmt.Errorf("checkpoint at step %d: %w", step, err)
			}
		}
	}
	if bar != nil {
		_ = bar.Finish()
		fmt.Fprintln(r.Out)
	}

	ev, err := evaluate(0)
	if err != nil {
		return Summary{}, err
	}
	final := Record{Step: stepper.Step, Tokens: st.Tokens, ElapsedSec: elapsed().Seconds(), ValLoss: ev.NLL, ValPPL: ev.PPL(), ValBPB: ev.BPB}
	if err := appendRecord(metricsPath, final); err != nil {
		return Summary{}, err
	}
	if err := save(); err != nil {
		return Summary{}, fmt.Errorf("final checkpoint: %w", err)
	}
	all, err := ReadMetrics(metricsPath)
	if err == nil && len(all) > 0 {
		if err := plotLoss(filepath.Join(r.Dir, "loss.png"), filepath.Base(r.Dir), all); err != nil && !errors.Is(err, errNothingToPlot) {
			return Summary{}, fmt.Errorf("loss plot: %w", err)
		}
	}
	el := elapsed()
	return Summary{Steps: stepper.Step, Tokens: st.Tokens, Elapsed: el,
		TokensPerSec: float64(st.Tokens) / el.Seconds(), LastLoss: last.Loss, Val: ev}, nil
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

func (r *Run) checkpoint(st trainerState, s *Stepper) error {
	sampler, err := r.Batches.MarshalBinary()
	if err != nil {
		return err
	}
	drop, err := s.DropRNG.MarshalBinary()
	if err != nil {
		return err
	}
	st.Sampler, st.DropoutRNG = sampler, drop
	state, optStep := s.Opt.State()
	st.OptStep = optStep
	return writeDirAtomic(CheckpointDir(r.Dir), func(tmp string) error {
		if err := r.SaveModel(tmp); err != nil {
			return err
		}
		if err := saveTensors(filepath.Join(tmp, optimizerFile), state); err != nil {
			return err
		}
		b, err := json.MarshalIndent(st, "", "  ")
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(tmp, trainerFile), b, 0o644)
	})
}

func readTrainerState(dir string) (trainerState, error) {
	var st trainerState
	b, err := os.ReadFile(filepath.Join(dir, trainerFile))
	if err != nil {
		return st, fmt.Errorf("checkpoint has no trainer state: %w", err)
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, fmt.Errorf("checkpoint %s is corrupt: %w", filepath.Join(dir, trainerFile), err)
	}
	if st.Step < 0 || st.TotalSteps <= 0 || st.Step > st.TotalSteps {
		return st, fmt.Errorf("checkpoint %s is corrupt: step %d of %d", filepath.Join(dir, trainerFile), st.Step, st.TotalSteps)
	}
	return st, nil
}

func (r *Run) restore(dir string, st trainerState, s *Stepper) error {
	state, err := loadTensors(filepath.Join(dir, optimizerFile))
	if err != nil {
		return err
	}
	if err := s.Opt.LoadState(state, st.OptStep); err != nil {
		return err
	}
	if err := r.Batches.UnmarshalBinary(st.Sampler); err != nil {
		return fmt.Errorf("checkpoint sampler state: %w", err)
	}
	if err := s.DropRNG.UnmarshalBinary(st.DropoutRNG); err != nil {
		return fmt.Errorf("checkpoint dropout state: %w", err)
	}
	s.Step = st.Step
	return nil
}

// ReadMetrics reads metrics.jsonl.
func ReadMetrics(path string) ([]Record, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []Record
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			// A line cut short by a kill is the only thing that can be malformed; the
			// records before it stand.
			break
		}
		out = append(out, r)
	}
	return out, sc.Err()
}

// truncateMetrics drops records after step, written by a run that died after its last
// checkpoint, so a resumed run does not log those steps twice.
func truncateMetrics(path string, step int) error {
	recs, err := ReadMetrics(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var buf []byte
	for _, r := range recs {
		if r.Step <= step {
			b, _ := json.Marshal(r)
			buf = append(append(buf, b...), '\n')
		}
	}
	return os.WriteFile(path, buf, 0o644)
}

// CheckpointOptions returns the options a run was started with, from its latest
// checkpoint, so that a resumed run draws the same batches.
func CheckpointOptions(runDir string) (Options, error) {
	dir, err := ResolveCheckpoint(runDir)
	if err != nil {
		return Options{}, err
	}
	st, err := readTrainerState(dir)
	if err != nil {
		return Options{}, err
	}
	return st.Options, nil
}
