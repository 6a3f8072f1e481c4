package synth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/hungry-ssm/hungry/data"
	"github.com/hungry-ssm/hungry/model"
	"github.com/hungry-ssm/hungry/optim"
	"github.com/hungry-ssm/hungry/tensor"
)

func TestModelConfigs(t *testing.T) {
	const vocab, seqLen, batch = 20, 7, 3
	dev := tensor.DefaultCPU()
	rng := tensor.NewRNG(1)
	ids := make([]int32, batch*seqLen)
	for i := range ids {
		ids[i] = int32(rng.IntN(vocab))
	}
	opts := DefaultOptions()
	opts.DModel, opts.AttnDropout = 48, 0.2
	for _, name := range Models() {
		cfg, err := opts.ModelConfig(name, vocab, seqLen)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if cfg.NLayer != 2 || cfg.DModel != 48 || cfg.DInner != 128 {
			t.Errorf("%s: %d layers, d_model %d, d_inner %d; want 2, 48, 128", name, cfg.NLayer, cfg.DModel, cfg.DInner)
		}
		wantAttnDrop := 0.0
		if name == ModelAttention {
			wantAttnDrop = 0.2
		}
		if cfg.SSMDiscretization != "bilinear" {
			t.Errorf("%s: discretisation %q, want safari's bilinear", name, cfg.SSMDiscretization)
		}
		if cfg.EmbedDropout != 0.1 || cfg.ResidDropout != 0 || cfg.AttnDropout != wantAttnDrop {
			t.Errorf("%s: dropout embed %g, resid %g, attention %g; want 0.1, 0, %g",
				name, cfg.EmbedDropout, cfg.ResidDropout, cfg.AttnDropout, wantAttnDrop)
		}
		lm, err := model.New(cfg, dev, 1)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		logits, err := lm.Logits(ids, batch, seqLen)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if s := logits.Shape(); len(s) != 3 || s[0] != batch || s[1] != seqLen || s[2] != vocab {
			t.Errorf("%s: logits shape %v, want [%d %d %d]", name, s, batch, seqLen, vocab)
		}
		// The config survives its JSON form; H3's leaves the mixer key out, as official
		// configs do.
		js, err := cfg.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if got := bytes.Contains(js, []byte(`"mixer"`)); got != (name == ModelS4D || name == ModelShift) {
			t.Errorf("%s: mixer key in JSON: %v", name, got)
		}
		back, err := model.ParseConfig(js)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if back.Mixer != cfg.Mixer || back.MaxPositionEmbeddings != cfg.MaxPositionEmbeddings || len(back.AttnLayerIdx) != len(cfg.AttnLayerIdx) {
			t.Errorf("%s: config changed through JSON: %+v", name, back)
		}
	}
	if _, err := opts.ModelConfig("gss", vocab, seqLen); err == nil {
		t.Error("unknown model accepted")
	}
}

func TestMixerOfEachModel(t *testing.T) {
	want := map[string]string{ModelH3: "*layers.H3", ModelS4D: "*layers.S4DMixer", ModelShift: "*layers.ShiftMixer", ModelAttention: "*layers.Attention"}
	for _, name := range Models() {
		cfg, _ := DefaultOptions().ModelConfig(name, 10, 5)
		lm, err := model.New(cfg, tensor.DefaultCPU(), 1)
		if err != nil {
			t.Fatal(err)
		}
		for i, b := range lm.Blocks {
			if got := typeName(b.Mixer); got != want[name] {
				t.Errorf("%s layer %d: mixer %s, want %s", name, i, got, want[name])
			}
		}
		if (lm.PosEmb != nil) != (name == ModelAttention) {
			t.Errorf("%s: position embeddings present: %v", name, lm.PosEmb != nil)
		}
	}
}

func typeName(m model.Mixer) string { return fmt.Sprintf("%T", m) }

// tinyInduction is an induction-head task small enough to learn in seconds: 4 ordinary
// tokens (chance 25%), 8 input tokens.
func tinyInduction() Task {
	return Task{Name: "tiny-induction", Generator: data.TaskInductionHead, Vocab: 6, InputLen: 8, Train: 512, Test: 200, Chance: 0.25}
}

// TestTrainLearnsTinyInduction trains H3 on the tiny task and expects it well above
// chance on held-out sequences. The learning rate is raised above the table's so that a
// few hundred steps suffice, and the run stops once it has learned the training set.
func TestTrainLearnsTinyInduction(t *testing.T) {
	task := tinyInduction()
	set, err := Generate(task, 3)
	if err != nil {
		t.Fatal(err)
	}
	opts := DefaultOptions()
	opts.Epochs, opts.LR, opts.Seed, opts.Patience = 40, 3e-3, 3, 2
	opts.Progress = testWriter{t}
	res, err := Train(context.Background(), task, set, ModelH3, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", res)
	if res.BestTestAccuracy < res.TestAccuracy || res.BestEpoch < 1 || res.BestEpoch > res.Epochs {
		t.Errorf("best test accuracy %.3f at epoch %d, final %.3f after %d epochs: inconsistent",
			res.BestTestAccuracy, res.BestEpoch, res.TestAccuracy, res.Epochs)
	}
	// 200 test answers: chance gives 25% ± 3%; 60% is far out of its reach.
	if res.TestAccuracy < 0.6 {
		t.Errorf("test accuracy %.3f after %d epochs; want ≥ 0.6 (chance 0.25)", res.TestAccuracy, res.Epochs)
	}
}

// smallInduction is tinyInduction cut to 64 training and 32 test sequences, with its
// data from seed 5: enough for a few quick steps.
func smallInduction(t *testing.T) (Task, *data.SyntheticSet) {
	t.Helper()
	task := tinyInduction()
	task.Train, task.Test = 64, 32
	set, err := Generate(task, 5)
	if err != nil {
		t.Fatal(err)
	}
	return task, set
}

func TestTrainIsDeterministic(t *testing.T) {
	task, set := smallInduction(t)
	opts := DefaultOptions()
	opts.Epochs, opts.Seed = 2, 5
	// The second run is verbose: scoring the test set every epoch must not change training.
	var got [2]Result
	for i := range got {
		if i == 1 {
			opts.Progress = testWriter{t}
		}
		var err error
		if got[i], err = Train(context.Background(), task, set, ModelS4D, opts); err != nil {
			t.Fatal(err)
		}
		got[i].Seconds = 0
	}
	if got[0] != got[1] {
		t.Errorf("two runs differ:\n%+v\n%+v", got[0], got[1])
	}
}

// Adam undoes a constant scale on the gradients, except against its epsilon (1e-8): a
// bound of 1e-12 shrinks every step to almost nothing, so the loss must stay higher
// than without clipping if the option reaches the optimiser.
func TestClipReachesTraining(t *testing.T) {
	task, set := smallInduction(t)
	opts := DefaultOptions()
	opts.Epochs, opts.Seed, opts.Warmup = 3, 5, 0
	var loss [2]float64
	for i, clip := range []float64{0, 1e-12} {
		opts.Clip = clip
		res, err := Train(context.Background(), task, set, ModelS4D, opts)
		if err != nil {
			t.Fatal(err)
		}
		loss[i] = res.TrainLoss
		t.Logf("clip %g: loss %.4f", clip, loss[i])
	}
	if !(loss[1] > loss[0]+0.05) {
		t.Errorf("last-epoch loss %.4f without clipping, %.4f clipped at 1e-12; want the clipped one clearly higher", loss[0], loss[1])
	}
}

func TestDefaultRecipes(t *testing.T) {
	opts := DefaultOptions()
	if got := opts.RecipeFor(TaskInduction, ModelAttention); got != AttentionInductionRecipe() {
		t.Errorf("attention on induction head: %+v, want %+v", got, AttentionInductionRecipe())
	}
	for _, task := range Tasks() {
		for _, m := range Models() {
			if task.Name == TaskInduction && m == ModelAttention {
				continue
			}
			if got := opts.RecipeFor(task.Name, m); got != DefaultRecipe() {
				t.Errorf("%s on %s: %+v, want the shared %+v", m, task.Name, got, DefaultRecipe())
			}
		}
	}
	if err := opts.Validate(); err != nil {
		t.Error(err)
	}
}

// One run with its own recipe trains by it and the table says so; the others keep the
// shared one.
func TestPerRunRecipe(t *testing.T) {
	task := tinyInduction()
	task.Train, task.Test = 32, 16
	opts := DefaultOptions()
	opts.Epochs = 1
	own := opts.Recipe
	own.Epochs, own.DModel, own.AttnDropout = 2, 16, 0.1
	opts.PerRun = map[string]Recipe{RunKey(task.Name, ModelAttention): own}
	rep, err := Run(context.Background(), []Task{task}, []string{ModelShift, ModelAttention}, opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	shift, attn := rep.Results[0], rep.Results[1]
	if shift.Epochs != 1 || shift.Recipe != opts.Recipe {
		t.Errorf("shift: %d epochs, recipe %+v; want the shared one", shift.Epochs, shift.Recipe)
	}
	if attn.Epochs != 2 || attn.Recipe != own {
		t.Errorf("attention: %d epochs, recipe %+v; want %+v", attn.Epochs, attn.Recipe, own)
	}
	// The model itself is the per-run recipe's: its parameter count is that of width 16,
	// not of the shared 64.
	set, err := Generate(task, opts.Seed)
	if err != nil {
		t.Fatal(err)
	}
	want, shared := paramCount(t, own, ModelAttention, set), paramCount(t, opts.Recipe, ModelAttention, set)
	if attn.Params != want || want == shared {
		t.Errorf("attention has %d parameters; want %d (width 16), which must differ from %d (width 64)", attn.Params, want, shared)
	}
	if md := rep.Markdown(); !strings.Contains(md, "tiny-induction/attention: width 16, attention dropout 0.1, 2 epochs") {
		t.Errorf("Markdown does not state the per-run recipe:\n%s", md)
	}
	bad := opts
	bad.PerRun = map[string]Recipe{"induction/attention": {DModel: 32, Epochs: 0, LR: 1e-3}}
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "induction/attention: epochs must be positive") {
		t.Errorf("bad per-run recipe: %v", err)
	}
}

// paramCount builds the named model by r for set and counts its parameters.
func paramCount(t *testing.T, r Recipe, name string, set *data.SyntheticSet) int {
	t.Helper()
	cfg, err := r.ModelConfig(name, len(set.Vocab), set.SeqLen)
	if err != nil {
		t.Fatal(err)
	}
	lm, err := model.New(cfg, tensor.DefaultCPU(), 1)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, p := range lm.Params() {
		n += p.Value.Numel()
	}
	return n
}

func TestRunReportsEveryPair(t *testing.T) {
	task := tinyInduction()
	task.Train, task.Test = 32, 16
	tasks := []Task{task}
	models := []string{ModelShift, ModelAttention}
	opts := DefaultOptions()
	opts.Epochs, opts.Parallel = 1, 2
	var seen []string
	var progress bytes.Buffer
	opts.Progress = &progress
	rep, err := Run(context.Background(), tasks, models, opts, func(r Result) { seen = append(seen, r.Model) })
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Results) != 2 || rep.Results[0].Model != ModelShift || rep.Results[1].Model != ModelAttention || len(seen) != 2 {
		t.Fatalf("results %+v, callbacks %v", rep.Results, seen)
	}
	// Runs trained side by side give what a run on its own gives.
	set, _ := Generate(task, opts.Seed)
	quiet := opts
	quiet.Progress = nil
	for _, r := range rep.Results {
		alone, err := Train(context.Background(), task, set, r.Model, quiet)
		if err != nil {
			t.Fatal(err)
		}
		alone.Seconds, r.Seconds = 0, 0
		if alone != r {
			t.Errorf("%s: in Run %+v, alone %+v", r.Model, r, alone)
		}
	}
	if n := strings.Count(progress.String(), "\n"); n != 2 {
		t.Errorf("%d progress lines, want one per epoch and run:\n%s", n, progress.String())
	}
	md := rep.Markdown()
	for _, want := range []string{"| tiny-induction | 25.0 |", "| shift |", "| attention |"} {
		if !strings.Contains(md, want) {
			t.Errorf("Markdown lacks %q:\n%s", want, md)
		}
	}
	js, err := rep.JSON()
	if err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(js, &back); err != nil {
		t.Fatal(err)
	}
	if len(back.Results) != 2 || back.Results[1] != rep.Results[1] {
		t.Errorf("JSON round trip changed the results: %+v", back.Results)
	}
}

func TestRunErrors(t *testing.T) {
	ctx := context.Background()
	task := tinyInduction()
	opts := DefaultOptions()
	if _, err := Run(ctx, []Task{task}, []string{"h3", "gss"}, opts, nil); err == nil {
		t.Error("unknown model accepted")
	}
	if _, err := Run(ctx, nil, Models(), opts, nil); err == nil {
		t.Error("no tasks accepted")
	}
	bad := task
	bad.Vocab = 2
	if _, err := Run(ctx, []Task{bad}, []string{ModelH3}, opts, nil); err == nil {
		t.Error("impossible task accepted")
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := Run(cancelled, []Task{task}, []string{ModelH3}, opts, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled run: %v", err)
	}
	for _, mutate := range []func(*Options){
		func(o *Options) { o.Epochs = 0 },
		func(o *Options) { o.Batch = -1 },
		func(o *Options) { o.LR = 0 },
		func(o *Options) { o.Warmup = 1 },
		func(o *Options) { o.Patience = -1 },
		func(o *Options) { o.StopAccuracy = 1.5 },
		func(o *Options) { o.WeightDecay = -0.1 },
		func(o *Options) { o.Clip = -1 },
		func(o *Options) { o.DModel = 0 },
		func(o *Options) { o.AttnDropout = 1 },
		func(o *Options) { o.Clip = math.Inf(1) },
		func(o *Options) { o.Schedule = "step" },
	} {
		o := DefaultOptions()
		mutate(&o)
		if err := o.Validate(); err == nil {
			t.Errorf("options %+v accepted", o)
		}
	}
	if _, err := TaskByName("copy"); err == nil {
		t.Error("unknown task accepted")
	}
	for _, task := range Tasks() {
		if got, err := TaskByName(task.Name); err != nil || got != task {
			t.Errorf("TaskByName(%q) = %+v, %v", task.Name, got, err)
		}
	}
}

// TestFinalCorrect checks the scoring on hand-made logits: only the last position of each
// row counts.
func TestFinalCorrect(t *testing.T) {
	// 2 rows × 2 positions × 3 classes.
	logits := tensor.DefaultCPU().FromHost([]float32{
		9, 0, 0, 0, 1, 0, // row 0: last position says 1
		0, 0, 9, 5, 0, 0, // row 1: last position says 0
	}, 2, 2, 3)
	b := data.Batch{Targets: []int32{2, 1, 2, 2}, Rows: 2, Context: 2}
	if got := finalCorrect(logits, b); got != 1 {
		t.Errorf("finalCorrect = %d, want 1", got)
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func TestLRFactor(t *testing.T) {
	const warmup, total = 10, 100
	lin := Recipe{Schedule: ScheduleLinear}
	for _, tc := range []struct {
		step int
		want float64
	}{
		{1, 0.1}, {5, 0.5}, {10, 1}, {11, 1}, {12, 89.0 / 90}, {55, 46.0 / 90}, {100, 1.0 / 90}, {101, 0}, {150, 0},
	} {
		if got := lin.lrFactor(tc.step, warmup, total); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("linear, step %d: factor %g, want %g", tc.step, got, tc.want)
		}
	}
	cos := Recipe{Schedule: ScheduleCosine}
	for _, step := range []int{1, 7, 10, 11, 50, 99, 100, 130} {
		want := optim.WarmupCosine{Warmup: warmup, Total: total, MinRatio: 0.1}.Factor(step)
		if got := cos.lrFactor(step, warmup, total); got != want {
			t.Errorf("cosine, step %d: factor %g, want %g", step, got, want)
		}
	}
	// Train hands the stepper each step's factor through heldAt, which must give it back
	// whatever the step.
	for _, f := range []float64{0, 1.0 / 90, 0.5, 1} {
		for _, step := range []int{1, 2, 157, 31400} {
			if got := heldAt(f).Factor(step); got != f {
				t.Errorf("heldAt(%g).Factor(%d) = %g", f, step, got)
			}
		}
	}
}

// TestScheduleReachesTraining trains the same small run under each schedule: the losses
// must differ, or the option is lost on the way.
func TestScheduleReachesTraining(t *testing.T) {
	task, set := smallInduction(t)
	opts := DefaultOptions()
	opts.Epochs, opts.Seed = 3, 5
	var loss []float64
	for _, s := range Schedules() {
		opts.Schedule = s
		res, err := Train(context.Background(), task, set, ModelH3, opts)
		if err != nil {
			t.Fatal(err)
		}
		if res.Recipe.Schedule != s {
			t.Errorf("result's recipe has schedule %q, want %q", res.Recipe.Schedule, s)
		}
		loss = append(loss, res.TrainLoss)
	}
	if loss[0] == loss[1] {
		t.Errorf("cosine and linear schedules give the same loss %g", loss[0])
	}
}

// TestStepperGroups checks the optimizer of a run against safari's: the SSM kernel
// parameters (dt, A, B of both SSMs) at min(lr, 1e-3) without weight decay; everything
// else at lr, with weight decay on the matrices, embeddings and C, and on the biases,
// LayerNorm weights and D only with DecayAll.
func TestStepperGroups(t *testing.T) {
	for _, tc := range []struct {
		lr, ssmLR float64
		decayAll  bool
	}{{5e-4, 5e-4, true}, {2e-3, 1e-3, false}, {2e-3, 1e-3, true}} {
		rc := DefaultRecipe()
		rc.LR, rc.DecayAll = tc.lr, tc.decayAll
		cfg, err := rc.ModelConfig(ModelH3, 10, 21)
		if err != nil {
			t.Fatal(err)
		}
		lm, err := model.New(cfg, tensor.DefaultCPU(), 1)
		if err != nil {
			t.Fatal(err)
		}
		s := newStepper(lm, rc, DefaultOptions(), 21, 100)
		type setting struct{ lr, wd float64 }
		got := map[string]setting{}
		for _, g := range s.Opt.Groups() {
			for _, p := range g.Params {
				if _, dup := got[p.Name]; dup {
					t.Errorf("%s is in two groups", p.Name)
				}
				got[p.Name] = setting{g.LR, g.WeightDecay}
			}
		}
		if len(got) != len(lm.Params()) {
			t.Errorf("%d parameters in the groups, the model has %d", len(got), len(lm.Params()))
		}
		for name, st := range got {
			var want setting
			switch {
			case strings.HasSuffix(name, ".log_dt") || strings.HasSuffix(name, ".inv_A_real") ||
				strings.HasSuffix(name, ".A_imag") || strings.HasSuffix(name, "kernel.B"):
				want = setting{tc.ssmLR, 0}
			case strings.HasSuffix(name, ".bias") || strings.Contains(name, "norm") || strings.Contains(name, "ln_f") ||
				strings.HasSuffix(name, ".D") || strings.HasSuffix(name, "ssm_k_D"):
				want = setting{tc.lr, 0}
				if tc.decayAll {
					want.wd = 0.1
				}
			default: // weights, embeddings, the SSMs' C
				want = setting{tc.lr, 0.1}
			}
			if st != want {
				t.Errorf("lr %g, decay all %v: %s has lr %g, weight decay %g; want %g, %g",
					tc.lr, tc.decayAll, name, st.lr, st.wd, want.lr, want.wd)
			}
		}
	}
}

// TestPaperRecipe pins PaperRecipe to safari's synthetic-task configs.
func TestPaperRecipe(t *testing.T) {
	ind := Recipe{DModel: 32, AttnDropout: 0.1, Epochs: 400, LR: 5e-4, WeightDecay: 0.1, Clip: 0, Schedule: ScheduleCosine, DecayAll: true}
	rec := ind
	rec.Epochs, rec.Schedule = 200, ScheduleLinear
	if got := PaperRecipe(TaskInduction); got != ind {
		t.Errorf("induction: %+v, want %+v", got, ind)
	}
	if got := PaperRecipe(TaskRecall); got != rec {
		t.Errorf("recall: %+v, want %+v", got, rec)
	}
	o := PaperOptions()
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, task := range Tasks() {
		for _, m := range Models() {
			if got := o.RecipeFor(task.Name, m); got != PaperRecipe(task.Name) {
				t.Errorf("%s on %s: %+v, want %+v", m, task.Name, got, PaperRecipe(task.Name))
			}
		}
	}
}
