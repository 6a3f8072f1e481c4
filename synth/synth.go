// Package synth reproduces the synthetic-task table of the H3 paper (Table 1): 2-layer
// models with H3, its two ablations (the diagonal SSM alone, "S4D", and the shift SSM
// with gating, "shift") and attention, each trained from scratch on the induction-head
// and associative-recall tasks of data.GenerateSynthetic and scored on the final token
// of held-out sequences.
//
// Training follows the paper's recipe (AdamW, weight decay 0.1, batch 32, 10% warmup,
// cosine decay to 0.1·lr, loss on every position, embedding dropout 0.1) through
// train.Stepper, where the budget of 15 minutes on two CPU cores allows it. Every run
// but one uses DefaultRecipe: 40 epochs instead of 200-400, and a width, learning rate,
// attention dropout and clipping chosen for that length (its comment says how).
// Attention on induction head cannot learn in 40 epochs under any recipe tried, so it
// gets the paper's own, cut to 300 epochs (AttentionInductionRecipe); runs are started
// longest first so that the other core trains the remaining seven meanwhile.
// Test accuracy is measured after every epoch; the table reports the final one and, as
// the paper's protocol does (it keeps the checkpoint with the best validation accuracy,
// and its validation set is the test set), the best.
//
// PaperRecipe is the paper's own recipe, as safari's configs have it, for comparison.
// The README ("Synthetic tasks") compares both recipes with those configs point by point
// and gives the measured outcome of each.
//
// Early stopping (Options.Patience) is available but off by default: stopping at
// ≥ 99.9% training accuracy cuts associative recall short, since the training set is
// learned before the rule generalises.
package synth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hungry-ssm/hungry/autograd"
	"github.com/hungry-ssm/hungry/data"
	"github.com/hungry-ssm/hungry/model"
	"github.com/hungry-ssm/hungry/optim"
	"github.com/hungry-ssm/hungry/tensor"
	"github.com/hungry-ssm/hungry/train"
)

// Task is one synthetic task setting.
type Task struct {
	Name string `json:"name"` // short name used on the command line
	// Generator is the data.GenerateSynthetic task.
	Generator string `json:"generator"`
	Vocab     int    `json:"vocab"`
	InputLen  int    `json:"input_len"`
	Train     int    `json:"train_examples"`
	Test      int    `json:"test_examples"`
	// Chance is the accuracy of guessing uniformly among the possible answers.
	Chance float64 `json:"chance"`
}

// Task names.
const (
	TaskInduction = "induction"
	TaskRecall    = "recall"
)

// Tasks returns the paper's two settings: induction head with vocabulary 20 and 30
// input tokens (18 possible answers), associative recall with vocabulary 10 and 20 input
// tokens (4 possible values); 5,000 training and 500 test sequences each.
func Tasks() []Task {
	return []Task{
		{Name: TaskInduction, Generator: data.TaskInductionHead, Vocab: 20, InputLen: 30, Train: 5000, Test: 500, Chance: 1.0 / 18},
		{Name: TaskRecall, Generator: data.TaskAssocRecall, Vocab: 10, InputLen: 20, Train: 5000, Test: 500, Chance: 1.0 / 4},
	}
}

// TaskByName looks a task up by its short name.
func TaskByName(name string) (Task, error) {
	var names []string
	for _, t := range Tasks() {
		if t.Name == name {
			return t, nil
		}
		names = append(names, t.Name)
	}
	return Task{}, fmt.Errorf("unknown task %q (%s)", name, strings.Join(names, ", "))
}

// Model names, in the paper's column order: the model package's synthetic families.
const (
	ModelH3        = model.FamilyH3
	ModelS4D       = model.FamilyS4D
	ModelShift     = model.FamilyShift
	ModelAttention = model.FamilyAttention
)

// Models lists every model name.
func Models() []string { return model.SyntheticFamilies() }

// ModelConfig returns the configuration of a named model for a vocabulary and sequence
// length: model.SyntheticConfig at width r.DModel, with r.AttnDropout on attention's
// probabilities.
func (r Recipe) ModelConfig(name string, vocab, seqLen int) (model.Config, error) {
	return model.SyntheticConfig(name, r.DModel, vocab, seqLen, r.AttnDropout)
}

// Recipe is what may differ between the runs of one table: the model's width and
// attention dropout, and the length and strength of its training.
type Recipe struct {
	// DModel is the model's width.
	DModel int `json:"d_model"`
	// AttnDropout drops attention probabilities in training (the paper's: 0.1).
	AttnDropout float64 `json:"attn_dropout"`
	// Epochs is the most epochs a run trains; the schedule is laid out over all of them.
	Epochs      int     `json:"epochs"`
	LR          float64 `json:"lr"`
	WeightDecay float64 `json:"weight_decay"`
	// Clip bounds the global gradient norm; 0 turns clipping off (safari's trainer has
	// gradient_clip_val 0).
	Clip float64 `json:"clip"`
	// Schedule is the learning rate's shape after the warmup: ScheduleCosine or
	// ScheduleLinear.
	Schedule string `json:"schedule"`
	// DecayAll puts weight decay on the biases, LayerNorm weights and skip terms D as
	// well, as safari's trainer does for the synthetic tasks (it groups parameters only
	// by the SSM kernels' own settings). Off, those get none, as in train.ParamGroups.
	// The SSM kernel parameters (dt, A, B) never get weight decay.
	DecayAll bool `json:"decay_all,omitempty"`
}

// Learning-rate schedules after the warmup, as safari's synthetic-task configs have them.
const (
	// ScheduleCosine decays to 0.1·lr by a half cosine (the induction-head configs'
	// cosine_warmup_timm with lr_min 0.1·lr).
	ScheduleCosine = "cosine"
	// ScheduleLinear decays linearly to 0 at the last step (the associative-recall
	// configs' linear_warmup: transformers' get_linear_schedule_with_warmup).
	ScheduleLinear = "linear"
)

// Schedules lists the schedule names.
func Schedules() []string { return []string{ScheduleCosine, ScheduleLinear} }

// Describe gives the recipe in a few words for tables and usage messages.
func (r Recipe) Describe() string {
	clip := "no clipping"
	if r.Clip > 0 {
		clip = fmt.Sprintf("clip %g", r.Clip)
	}
	decay := ""
	if r.DecayAll {
		decay = " on every non-SSM parameter"
	}
	return fmt.Sprintf("width %d, attention dropout %g, %d epochs, lr %g (%s), weight decay %g%s, %s",
		r.DModel, r.AttnDropout, r.Epochs, r.LR, r.Schedule, r.WeightDecay, decay, clip)
}

// Options configure training. DefaultOptions gives the settings of the table.
type Options struct {
	// Recipe is every run's, except those listed in PerRun.
	Recipe
	// PerRun replaces Recipe for single runs, keyed by RunKey(task, model). Changing a
	// field of Recipe leaves these runs alone; set PerRun to nil for one recipe for all.
	PerRun map[string]Recipe `json:"per_run,omitempty"`
	// Patience stops a run after this many consecutive epochs in which the final-token
	// accuracy on the training sequences reached StopAccuracy (0: never stop early).
	Patience     int     `json:"patience"`
	StopAccuracy float64 `json:"stop_accuracy"`
	Batch        int     `json:"batch"`
	Warmup       float64 `json:"warmup"` // fraction of the steps
	Seed         uint64  `json:"seed"`
	// Parallel is how many runs Run trains at once (0: min(2, GOMAXPROCS)). Each run
	// computes on one thread, so its numbers do not depend on this or on the machine.
	Parallel int `json:"-"`
	// Progress, when set, receives one line per epoch (whole lines, safe to share
	// between concurrent runs).
	Progress io.Writer `json:"-"`
}

// RunKey names one run in Options.PerRun.
func RunKey(task, model string) string { return task + "/" + model }

// RecipeFor returns the recipe of one run.
func (o Options) RecipeFor(task, model string) Recipe {
	if r, ok := o.PerRun[RunKey(task, model)]; ok {
		return r
	}
	return o.Recipe
}

// DefaultOptions returns the table's settings: DefaultRecipe for every run but attention
// on induction head, which gets AttentionInductionRecipe.
func DefaultOptions() Options {
	return Options{
		Recipe:   DefaultRecipe(),
		PerRun:   map[string]Recipe{RunKey(TaskInduction, ModelAttention): AttentionInductionRecipe()},
		Patience: DefaultPatience, StopAccuracy: DefaultStopAccuracy, Batch: 32, Warmup: 0.1, Seed: 1,
	}
}

// DefaultRecipe departs from the paper's recipe (width 32, attention dropout 0.1, lr
// 5e-4, no clipping, 200-400 epochs) where the 15-minute budget forces it:
//   - 40 epochs;
//   - lr 2e-3: 5e-4 left H3's associative recall at 93-96% in 40 epochs (3 seeds),
//     where 2e-3 reaches 96.6-99.2%;
//   - width 64: at 32, H3 sat on a plateau long enough that 40 epochs left it at 91.4%
//     (induction) and 83.2% (recall) for seed 1, against 100% and 99.2% at 64;
//   - no attention dropout: in 40 epochs it cut attention's associative recall from
//     98.6% to 62.2% (seed 1, width 64);
//   - gradient norm clipped at 1: without clipping H3's recall ended at 96.4% and
//     96.6% for seeds 2 and 3, against 97.4% and 96.6%.
//
// These figures were measured with zoh discretisation, before SyntheticConfig took safari's
// bilinear one. With the linear schedule H3's recall ended at 98.0% and 96.8% (seeds 2, 3):
// the recipe learns the training sequences themselves, which the paper's slower recipe
// (PaperRecipe, 200 epochs) does not (README, "Where H3's associative-recall gap comes from").
//
// Weight decay stays at the paper's 0.1. A stronger one curbs H3's overfitting of
// associative recall (1.0: 98.2% for seeds 2 and 3) but keeps it from ever leaving the
// induction-head plateau (seed 2: 5.2% at 1.0, 7.8% at 0.3, against 98.0% at 0.1).
func DefaultRecipe() Recipe {
	return Recipe{DModel: 64, AttnDropout: 0, Epochs: 40, LR: 2e-3, WeightDecay: 0.1, Clip: 1, Schedule: ScheduleCosine}
}

// AttentionInductionRecipe is the paper's recipe for attention on induction head, cut
// to 300 epochs. Attention learns that task only abruptly, after a long plateau whose
// length varies with the seed: under this recipe seeds 1 and 3 reached 100% at epochs 172
// and 162, and seed 2 jumped from chance around epoch 185 to 96% (cut to 250 epochs it
// was still at 11%; at lr 7e-4 it jumped at epoch 125, also to 96%). With
// 40-150 epochs of any shorter recipe tried (lr 1e-3 to 1e-2, weight decay 0 to 1, width
// 32 or 64, with or without dropout) it stayed at chance.
func AttentionInductionRecipe() Recipe {
	return Recipe{DModel: 32, AttnDropout: 0.1, Epochs: 300, LR: 5e-4, WeightDecay: 0.1, Clip: 0, Schedule: ScheduleCosine}
}

// PaperRecipe is safari's own recipe for the named task (configs/experiment/synthetics/
// {induction_head,associative_recall}): width 32, attention dropout 0.1, AdamW at lr 5e-4
// with weight decay 0.1 on every parameter but the SSM kernels', no clipping; induction
// head 400 epochs with a cosine schedule, associative recall (the vocabulary-10 setting)
// 200 epochs with a linear one.
func PaperRecipe(task string) Recipe {
	r := Recipe{DModel: 32, AttnDropout: 0.1, Epochs: 400, LR: 5e-4, WeightDecay: 0.1, Clip: 0, Schedule: ScheduleCosine, DecayAll: true}
	if task == TaskRecall {
		r.Epochs, r.Schedule = 200, ScheduleLinear
	}
	return r
}

// PaperOptions runs every model on every task by PaperRecipe.
func PaperOptions() Options {
	o := DefaultOptions()
	o.Recipe = PaperRecipe(TaskInduction)
	o.PerRun = map[string]Recipe{}
	for _, m := range Models() {
		o.PerRun[RunKey(TaskRecall, m)] = PaperRecipe(TaskRecall)
	}
	return o
}

// DefaultPatience (no early stop) and DefaultStopAccuracy bound the default run.
const (
	DefaultPatience     = 0
	DefaultStopAccuracy = 0.999
)

// Validate reports a recipe that cannot work.
func (r Recipe) Validate() error {
	switch {
	case r.DModel <= 0:
		return fmt.Errorf("d_model must be positive, got %d", r.DModel)
	case !(r.AttnDropout >= 0 && r.AttnDropout < 1):
		return fmt.Errorf("attention dropout must be in [0, 1), got %g", r.AttnDropout)
	case r.Epochs <= 0:
		return fmt.Errorf("epochs must be positive, got %d", r.Epochs)
	case !(r.LR > 0) || math.IsInf(r.LR, 0):
		return fmt.Errorf("learning rate must be positive and finite, got %g", r.LR)
	case !(r.WeightDecay >= 0) || math.IsInf(r.WeightDecay, 0):
		return fmt.Errorf("weight decay must be non-negative and finite, got %g", r.WeightDecay)
	case !(r.Clip >= 0) || math.IsInf(r.Clip, 0):
		return fmt.Errorf("gradient clip must be non-negative and finite, got %g", r.Clip)
	case !slices.Contains(Schedules(), r.Schedule):
		return fmt.Errorf("unknown schedule %q (%s)", r.Schedule, strings.Join(Schedules(), ", "))
	}
	return nil
}

// Validate reports options that cannot work.
func (o Options) Validate() error {
	if err := o.Recipe.Validate(); err != nil {
		return err
	}
	for _, key := range slices.Sorted(maps.Keys(o.PerRun)) {
		if err := o.PerRun[key].Validate(); err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
	}
	switch {
	case o.Patience < 0:
		return fmt.Errorf("patience must not be negative, got %d", o.Patience)
	case !(o.StopAccuracy > 0 && o.StopAccuracy <= 1):
		return fmt.Errorf("stop accuracy must be in (0, 1], got %g", o.StopAccuracy)
	case o.Parallel < 0:
		return fmt.Errorf("parallel runs must not be negative, got %d", o.Parallel)
	case o.Batch <= 0:
		return fmt.Errorf("batch must be positive, got %d", o.Batch)
	case !(o.Warmup >= 0 && o.Warmup < 1):
		return fmt.Errorf("warmup fraction must be in [0, 1), got %g", o.Warmup)
	}
	return nil
}

// Result is one model trained on one task.
type Result struct {
	Task  string `json:"task"`
	Model string `json:"model"`
	// TestAccuracy is the fraction of test sequences whose final token is the argmax of
	// the last position's logits.
	TestAccuracy float64 `json:"test_accuracy"`
	// TrainAccuracy is the same on the training sequences, measured during the last epoch
	// (on the logits of the training steps, so with weights that changed along the way).
	TrainAccuracy float64 `json:"train_accuracy"`
	// BestTestAccuracy is the highest test accuracy after any epoch, and BestEpoch the
	// first epoch that reached it: the paper's protocol, which keeps the checkpoint
	// with the best validation (= test) accuracy. TestAccuracy is the honest number;
	// this one shows how much training past the peak cost.
	BestTestAccuracy float64 `json:"best_test_accuracy"`
	BestEpoch        int     `json:"best_epoch"`
	// TrainLoss is the mean loss over every position of the last epoch.
	TrainLoss    float64 `json:"train_loss"`
	Epochs       int     `json:"epochs"`
	Steps        int     `json:"steps"`
	StoppedEarly bool    `json:"stopped_early"`
	Params       int     `json:"params"`
	Seconds      float64 `json:"seconds"`
	// Recipe is how this run was trained.
	Recipe Recipe `json:"recipe"`
}

// Generate builds a task's data set from seed.
func Generate(task Task, seed uint64) (*data.SyntheticSet, error) {
	return data.GenerateSynthetic(task.Generator, task.Vocab, task.InputLen, task.Train, task.Test, seed)
}

// recorder passes a model's forward pass through and keeps its logits, so that the
// training accuracy comes from the steps themselves instead of a second forward pass.
type recorder struct {
	*model.LM
	logits *autograd.Var
}

func (r *recorder) Forward(g *autograd.Graph, ids []int32, batch, seqLen int, trainMode bool, rng *tensor.RNG) *autograd.Var {
	r.logits = r.LM.Forward(g, ids, batch, seqLen, trainMode, rng)
	return r.logits
}

// Train trains the named model on set (generated for task) and scores it. It stops
// between steps when ctx is cancelled and returns ctx's error.
func Train(ctx context.Context, task Task, set *data.SyntheticSet, modelName string, opts Options) (Result, error) {
	rc := opts.RecipeFor(task.Name, modelName)
	res := Result{Task: task.Name, Model: modelName, Recipe: rc}
	if err := opts.Validate(); err != nil {
		return res, err
	}
	if len(set.TrainInputs) == 0 || len(set.TestInputs) == 0 {
		return res, fmt.Errorf("synth: %s needs training and test examples", task.Name)
	}
	cfg, err := rc.ModelConfig(modelName, len(set.Vocab), set.SeqLen)
	if err != nil {
		return res, err
	}
	start := time.Now()
	// One thread per run: the kernels' sums then do not depend on the core count, and
	// these small matrices gain less from threads than from running two models at once.
	lm, err := model.New(cfg, tensor.NewCPU(1), opts.Seed)
	if err != nil {
		return res, err
	}
	for _, p := range lm.Params() {
		res.Params += p.Value.Numel()
	}
	rec := &recorder{LM: lm}
	n := len(set.TrainInputs)
	perEpoch := (n + opts.Batch - 1) / opts.Batch
	total := rc.Epochs * perEpoch
	stepper := newStepper(rec, rc, opts, set.SeqLen, total)
	warmup := int(math.Ceil(opts.Warmup * float64(total)))

	perfect := 0
	for epoch := 0; epoch < rc.Epochs; epoch++ {
		order := data.Shuffle(n, opts.Seed, uint64(epoch))
		correct, lossSum := 0, 0.0
		for s := 0; s < perEpoch; s++ {
			if err := ctx.Err(); err != nil {
				return res, err
			}
			b, err := set.Batch(true, order[s*opts.Batch:min(n, (s+1)*opts.Batch)])
			if err != nil {
				return res, err
			}
			stepper.Schedule = heldAt(rc.lrFactor(stepper.Step+1, warmup, total))
			r, err := stepper.Run(func() data.Batch { return b })
			if err != nil {
				return res, fmt.Errorf("synth: %s on %s, epoch %d: %w", modelName, task.Name, epoch+1, err)
			}
			lossSum += r.Loss * float64(b.Rows)
			correct += finalCorrect(rec.logits.Value, b)
		}
		res.Epochs, res.Steps = epoch+1, stepper.Step
		res.TrainAccuracy = float64(correct) / float64(n)
		res.TrainLoss = lossSum / float64(n)
		// Scoring the test set costs 3-4.5% of an epoch (70-180 ms against 1.9-4.2 s,
		// one thread) and only reads the weights, so it changes nothing in training.
		if res.TestAccuracy, err = Accuracy(lm, set, opts.Batch); err != nil {
			return res, err
		}
		if res.TestAccuracy > res.BestTestAccuracy || res.BestEpoch == 0 {
			res.BestTestAccuracy, res.BestEpoch = res.TestAccuracy, epoch+1
		}
		if opts.Progress != nil {
			fmt.Fprintf(opts.Progress, "%s/%s epoch %d: loss %.4f, train accuracy %.4f, test accuracy %.4f (%.0fs)\n",
				task.Name, modelName, epoch+1, res.TrainLoss, res.TrainAccuracy, res.TestAccuracy, time.Since(start).Seconds())
		}
		if res.TrainAccuracy >= opts.StopAccuracy {
			perfect++
		} else {
			perfect = 0
		}
		if opts.Patience > 0 && perfect >= opts.Patience {
			res.StoppedEarly = epoch+1 < rc.Epochs
			break
		}
	}
	res.Seconds = time.Since(start).Seconds()
	return res, nil
}

// newStepper builds one run's optimizer: AdamW over train.ParamGroups, with the SSM
// kernel parameters (dt, A, B) at min(lr, 1e-3) and no weight decay as safari's h3.yaml
// sets them, and with the no-decay group folded into the decayed one when rc.DecayAll.
// Train sets its schedule step by step.
func newStepper(m train.Model, rc Recipe, opts Options, seqLen, steps int) *train.Stepper {
	o := train.Options{
		Batch: opts.Batch, Context: seqLen, Steps: steps,
		LR: rc.LR, SSMLR: min(rc.LR, 1e-3), WeightDecay: rc.WeightDecay, Seed: opts.Seed,
		Clip: trainClip(rc.Clip),
	}
	s := train.NewStepper(m, o, steps)
	if rc.DecayAll {
		var groups []optim.Group
		for _, g := range train.ParamGroups(m.Params(), o.LR, o.SSMLR, o.WeightDecay) {
			if g.Name == "no_decay" {
				groups[0].Params = append(groups[0].Params, g.Params...)
				continue
			}
			groups = append(groups, g)
		}
		s.Opt = optim.NewAdamW(groups)
	}
	return s
}

// lrFactor is the multiplier of the peak learning rate for the 1-based step of total,
// the first warmup of them rising linearly.
func (r Recipe) lrFactor(step, warmup, total int) float64 {
	if r.Schedule == ScheduleCosine {
		return optim.WarmupCosine{Warmup: warmup, Total: total, MinRatio: 0.1}.Factor(step)
	}
	if step <= warmup {
		return float64(step) / float64(warmup)
	}
	// transformers' lambda at its 0-based step s−1: the first step after the warmup is at
	// the peak, the last at 1/(total−warmup) of it.
	return max(0, float64(total-step+1)/float64(total-warmup))
}

// heldAt is a schedule whose every step is at factor f: a WarmupCosine that has ended
// (Total 0) holds at its MinRatio. It lets Train give train.Stepper, which knows only
// warmup + cosine, any shape, one step at a time.
func heldAt(f float64) optim.WarmupCosine { return optim.WarmupCosine{MinRatio: f} }

// trainClip translates Options.Clip to train.Options.Clip, where 0 means the default
// bound and a negative value means none.
func trainClip(clip float64) float64 {
	if clip == 0 {
		return -1
	}
	return clip
}

// finalCorrect counts the rows of b whose last position's argmax equals its target.
func finalCorrect(logits *tensor.Tensor, b data.Batch) int {
	host := logits.Host()
	v := len(host) / (b.Rows * b.Context)
	n := 0
	for r := 0; r < b.Rows; r++ {
		last := r*b.Context + b.Context - 1
		if argmax(host[last*v:(last+1)*v]) == int(b.Targets[last]) {
			n++
		}
	}
	return n
}

// argmax returns the first index of the largest entry (NaN never wins).
func argmax(xs []float32) int {
	best := 0
	for i, x := range xs {
		if x > xs[best] || math.IsNaN(float64(xs[best])) {
			best = i
		}
	}
	return best
}

// Accuracy scores m on the final token of every test sequence of set.
func Accuracy(m *model.LM, set *data.SyntheticSet, batch int) (float64, error) {
	n := len(set.TestInputs)
	if n == 0 || batch <= 0 {
		return 0, fmt.Errorf("synth: nothing to score (%d test examples, batch %d)", n, batch)
	}
	correct := 0
	for lo := 0; lo < n; lo += batch {
		idx := make([]int, 0, batch)
		for i := lo; i < min(n, lo+batch); i++ {
			idx = append(idx, i)
		}
		b, err := set.Batch(false, idx)
		if err != nil {
			return 0, err
		}
		logits, err := m.Logits(b.Inputs, b.Rows, b.Context)
		if err != nil {
			return 0, err
		}
		correct += finalCorrect(logits, b)
	}
	return float64(correct) / float64(n), nil
}

// Report is a finished table.
type Report struct {
	Seed    uint64   `json:"seed"`
	Tasks   []Task   `json:"tasks"`
	Models  []string `json:"models"`
	Options Options  `json:"options"`
	Results []Result `json:"results"`
	// Seconds is the wall time of the whole table, data generation included.
	Seconds float64 `json:"seconds"`
}

// Run trains every model on every task and reports each finished run through done (when
// not nil; calls never overlap). Runs go Parallel at a time; the report lists them in
// task-then-model order whatever order they finish in. The first error cancels the
// other runs.
func Run(ctx context.Context, tasks []Task, models []string, opts Options, done func(Result)) (*Report, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if len(tasks) == 0 || len(models) == 0 {
		return nil, fmt.Errorf("synth: no tasks or no models to run")
	}
	for _, m := range models {
		if !slices.Contains(Models(), m) {
			return nil, fmt.Errorf("unknown model %q (%s)", m, strings.Join(Models(), ", "))
		}
	}
	start := time.Now()
	type job struct {
		task   Task
		set    *data.SyntheticSet
		model  string
		epochs int
	}
	var jobs []job
	for _, task := range tasks {
		set, err := Generate(task, opts.Seed)
		if err != nil {
			return nil, err
		}
		for _, m := range models {
			jobs = append(jobs, job{task, set, m, opts.RecipeFor(task.Name, m).Epochs})
		}
	}
	workers := opts.Parallel
	if workers == 0 {
		workers = min(2, runtime.GOMAXPROCS(0))
	}
	workers = min(workers, len(jobs))
	if opts.Progress != nil {
		opts.Progress = &lockedWriter{w: opts.Progress}
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	results := make([]Result, len(jobs))
	errs := make([]error, len(jobs))
	next := make(chan int)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				j := jobs[i]
				results[i], errs[i] = Train(ctx, j.task, j.set, j.model, opts)
				if errs[i] != nil {
					cancel()
					continue
				}
				if done != nil {
					mu.Lock()
					done(results[i])
					mu.Unlock()
				}
			}
		}()
	}
	// Longest runs first (by epochs, a fair proxy at these sizes): a long run started
	// last would leave the other workers idle for most of it.
	order := make([]int, len(jobs))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return jobs[b].epochs - jobs[a].epochs })
	for _, i := range order {
		if ctx.Err() != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	// The first error in job order that is not just the cancellation it caused.
	var first error
	for _, err := range errs {
		if err != nil && (first == nil || errors.Is(first, context.Canceled)) {
			first = err
		}
	}
	if first != nil {
		return nil, first
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return &Report{Seed: opts.Seed, Tasks: tasks, Models: models, Options: opts, Results: results, Seconds: time.Since(start).Seconds()}, nil
}

// lockedWriter serialises writes so that concurrent runs' progress lines stay whole.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// Lookup returns the result of model on task.
func (r *Report) Lookup(task, modelName string) (Result, bool) {
	for _, res := range r.Results {
		if res.Task == task && res.Model == modelName {
			return res, true
		}
	}
	return Result{}, false
}

// Markdown renders the table: test accuracy (%) per task and model, with chance, then the
// epochs and wall time of each run.
func (r *Report) Markdown() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "Test accuracy (%%) on the final token, 2-layer models, seed %d; %s", r.Seed, r.Options.Recipe.Describe())
	for _, key := range slices.Sorted(maps.Keys(r.Options.PerRun)) {
		fmt.Fprintf(&sb, "; %s: %s", key, r.Options.PerRun[key].Describe())
	}
	if r.Options.Patience > 0 {
		fmt.Fprintf(&sb, ", stopping after %d epochs at ≥ %.1f%% training accuracy", r.Options.Patience, 100*r.Options.StopAccuracy)
	}
	fmt.Fprintf(&sb, "; wall time %.0f s.\n\n", r.Seconds)
	sb.WriteString("| Task | Chance |")
	for _, m := range r.Models {
		fmt.Fprintf(&sb, " %s |", m)
	}
	sb.WriteString("\n|---|---|" + strings.Repeat("---|", len(r.Models)) + "\n")
	for _, t := range r.Tasks {
		fmt.Fprintf(&sb, "| %s | %.1f |", t.Name, 100*t.Chance)
		for _, m := range r.Models {
			if res, ok := r.Lookup(t.Name, m); ok {
				fmt.Fprintf(&sb, " %.1f |", 100*res.TestAccuracy)
			} else {
				sb.WriteString(" – |")
			}
		}
		sb.WriteString("\n")
	}
	sb.WriteString("\n| Task | Model | Test acc. % | Best test acc. % (epoch) | Train acc. % | Train loss | Epochs | Steps | Params | Seconds |\n")
	sb.WriteString("|---|---|---|---|---|---|---|---|---|---|\n")
	for _, res := range r.Results {
		ep := fmt.Sprint(res.Epochs)
		if res.StoppedEarly {
			ep += " (early stop)"
		}
		fmt.Fprintf(&sb, "| %s | %s | %.1f | %.1f (%d) | %.1f | %.4f | %s | %d | %d | %.0f |\n", res.Task, res.Model,
			100*res.TestAccuracy, 100*res.BestTestAccuracy, res.BestEpoch, 100*res.TrainAccuracy, res.TrainLoss, ep, res.Steps, res.Params, res.Seconds)
	}
	return sb.String()
}

// JSON returns the report as indented JSON.
func (r *Report) JSON() ([]byte, error) {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}
