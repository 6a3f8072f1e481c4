package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/hungry-ssm/hungry/synth"
)

func runSynth(args []string, stdout, stderr io.Writer) error {
	def := synth.DefaultOptions()
	fs := newFlags("synth", "[flags]", stderr)
	taskName := fs.String("task", "all", "task: induction, recall or all")
	modelList := fs.String("models", strings.Join(synth.Models(), ","), "comma-separated models: "+strings.Join(synth.Models(), ", "))
	seed := fs.Uint64("seed", def.Seed, "random seed (data, initialisation, batch order)")
	perRun := synth.RunKey(synth.TaskInduction, synth.ModelAttention)
	flagsUsage := fs.Usage
	fs.Usage = func() {
		flagsUsage()
		fmt.Fprintf(stderr, "\nThe recipe flags (--d-model, --attn-dropout, --epochs, --lr, --weight-decay, --clip, --schedule,\n--decay-all) show the shared recipe's defaults; %s defaults to %s.\n--recipe paper starts every run from the paper's recipe instead (recall: %s).\nA recipe flag given on the command line applies to every run.\n", perRun, def.PerRun[perRun].Describe(), synth.PaperRecipe(synth.TaskRecall).Describe())
	}
	dModel := fs.Int("d-model", def.DModel, "model width (the paper's: 32)")
	attnDropout := fs.Float64("attn-dropout", def.AttnDropout, "dropout on attention probabilities (the paper's: 0.1)")
	epochs := fs.Int("epochs", def.Epochs, "most epochs per run (the paper uses 200-400)")
	patience := fs.Int("patience", def.Patience, "stop a run after this many epochs in a row at --stop-accuracy on the training answers (0: never)")
	stopAcc := fs.Float64("stop-accuracy", def.StopAccuracy, "training accuracy on the final token that counts towards --patience")
	lr := fs.Float64("lr", def.LR, "peak learning rate (AdamW; 10% warmup, cosine decay; the paper uses 5e-4 with 200-400 epochs)")
	weightDecay := fs.Float64("weight-decay", def.WeightDecay, "AdamW weight decay")
	batch := fs.Int("batch", def.Batch, "sequences per step")
	clip := fs.Float64("clip", def.Clip, "global gradient-norm bound (0: no clipping)")
	schedule := fs.String("schedule", def.Schedule, "learning rate after the warmup: "+synth.ScheduleCosine+" (to 0.1·lr) or "+synth.ScheduleLinear+" (to 0)")
	decayAll := fs.Bool("decay-all", def.DecayAll, "weight decay on biases, LayerNorm weights and D too, as the paper's trainer")
	recipe := fs.String("recipe", "default", "starting recipe: default (fits 15 minutes) or paper (safari's configs: width 32, 200-400 epochs)")
	parallel := fs.Int("parallel", 0, "runs trained at once, one thread each (0: min(2, cores))")
	asJSON := fs.Bool("json", false, "print the results as JSON instead of the table")
	outDir := fs.String("out", "", "folder for table.md and results.json (default: runs/synth-<task>-seed<S>-<date>-<time>)")
	verbose := fs.Bool("verbose", false, "print a line per epoch to stderr")
	if err := fs.parse(args); err != nil {
		return err
	}
	var tasks []synth.Task
	if *taskName == "all" {
		tasks = synth.Tasks()
	} else {
		t, err := synth.TaskByName(*taskName)
		if err != nil {
			return usagef("--task: %v", err)
		}
		tasks = []synth.Task{t}
	}
	models, err := parseModels(*modelList)
	if err != nil {
		return err
	}
	opts := def
	switch *recipe {
	case "default":
	case "paper":
		opts = synth.PaperOptions()
	default:
		return usagef("--recipe: unknown recipe %q (default, paper)", *recipe)
	}
	opts.Seed, opts.Patience, opts.StopAccuracy, opts.Parallel, opts.Batch = *seed, *patience, *stopAcc, *parallel, *batch
	// A recipe flag on the command line sets its value for every run, including those
	// whose default recipe differs from the shared one (attention on induction head).
	setRecipe := func(r *synth.Recipe, flagName string) {
		switch flagName {
		case "d-model":
			r.DModel = *dModel
		case "attn-dropout":
			r.AttnDropout = *attnDropout
		case "epochs":
			r.Epochs = *epochs
		case "lr":
			r.LR = *lr
		case "weight-decay":
			r.WeightDecay = *weightDecay
		case "clip":
			r.Clip = *clip
		case "schedule":
			r.Schedule = *schedule
		case "decay-all":
			r.DecayAll = *decayAll
		}
	}
	fs.Visit(func(f *flag.Flag) {
		setRecipe(&opts.Recipe, f.Name)
		for key, r := range opts.PerRun {
			setRecipe(&r, f.Name)
			opts.PerRun[key] = r
		}
	})
	if err := opts.Validate(); err != nil {
		return usagef("%v", err)
	}
	if *verbose {
		opts.Progress = stderr
	}
	dir := *outDir
	if dir == "" {
		dir = filepath.Join("runs", fmt.Sprintf("synth-%s-seed%d-%s", *taskName, *seed, time.Now().Format("20060102-150405")))
	}
	// Creating the folder first turns an unwritable --out into an error before minutes of
	// training rather than after.
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return usagef("cannot create the output folder: %v", err)
	}

	if os.Getenv("GOGC") == "" {
		// The small models allocate many short-lived tensors and use little memory (a peak
		// of 325 MB resident for the default table, /usr/bin/time -v); collecting less
		// often cut the CPU time of an H3 epoch by about a fifth (5.3 s to 4.3 s, one
		// profile each).
		debug.SetGCPercent(400)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	fmt.Fprintf(stderr, "training %d model(s) on %d task(s), seed %d\n", len(models), len(tasks), opts.Seed)
	rep, err := synth.Run(ctx, tasks, models, opts, func(r synth.Result) {
		note := ""
		if r.StoppedEarly {
			note = ", early stop"
		}
		fmt.Fprintf(stderr, "%-9s %-9s test accuracy %5.1f%%  (best %5.1f%% at epoch %d; train %5.1f%%, %d epochs%s, %.0f s)\n",
			r.Task, r.Model, 100*r.TestAccuracy, 100*r.BestTestAccuracy, r.BestEpoch, 100*r.TrainAccuracy, r.Epochs, note, r.Seconds)
	})
	if err != nil {
		return err
	}
	js, err := rep.JSON()
	if err != nil {
		return err
	}
	md := rep.Markdown()
	if err := os.WriteFile(filepath.Join(dir, "table.md"), []byte(md), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "results.json"), js, 0o644); err != nil {
		return err
	}
	if *asJSON {
		_, err = stdout.Write(js)
		return err
	}
	fmt.Fprint(stdout, md)
	fmt.Fprintf(stdout, "\nwritten: %s, %s\n", filepath.Join(dir, "table.md"), filepath.Join(dir, "results.json"))
	return nil
}

// parseModels reads --models: known names, each at most once, in the order given.
func parseModels(list string) ([]string, error) {
	var models []string
	for _, m := range strings.Split(list, ",") {
		m = strings.TrimSpace(m)
		switch {
		case m == "":
			return nil, usagef("--models: empty model name in %q", list)
		case !slices.Contains(synth.Models(), m):
			return nil, usagef("--models: unknown model %q (%s)", m, strings.Join(synth.Models(), ", "))
		case slices.Contains(models, m):
			return nil, usagef("--models: %q listed twice", m)
		}
		models = append(models, m)
	}
	return models, nil
}
