package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/term"

	"github.com/hungry-ssm/hungry"
	"github.com/hungry-ssm/hungry/data/tokenizer"
	"github.com/hungry-ssm/hungry/ptx/gpu"
	"github.com/hungry-ssm/hungry/sample"
	"github.com/hungry-ssm/hungry/tensor"
	"github.com/hungry-ssm/hungry/train"
)

// trainFlags are the flags of hungry train; their defaults are hungry.DefaultSpec and
// train.DefaultOptions.
type trainFlags struct {
	fs                                      *flagSet
	family, dataPath, tokKind, disc         *string
	vocab, nLayer, dModel, dInner, heads    *int
	headDim, context, batch, accum, steps   *int
	budget                                  *time.Duration
	lr, wd, dropout                         *float64
	optName                                 *string
	evalEvery, evalBatches, ckptEvery, logN *int
	seed                                    *uint64
	outDir, name, resume, initFrom, device  *string
	force, verbose                          *bool
	sampleLen, threads                      *int
}

func newTrainFlags(stderr io.Writer) *trainFlags {
	def, o := hungry.DefaultSpec(), train.DefaultOptions()
	fs := newFlags("train", "[flags]", stderr)
	return &trainFlags{
		fs:          fs,
		family:      fs.String("model", def.Family, "model family: h3, hybrid (attention in layer 1) or transformer (attention everywhere, learned positions)"),
		dataPath:    fs.String("data", "", "UTF-8 text file or folder of them (default: the embedded Jane Austen novels)"),
		tokKind:     fs.String("tokenizer", def.Tokenizer, "byte, bpe (trained on the training split), or a folder holding one (hungry tokenizer train's, or GPT-2's encoder.json and vocab.bpe)"),
		vocab:       fs.Int("vocab", def.Vocab, "vocabulary size of a BPE tokenizer trained for the run"),
		nLayer:      fs.Int("layers", def.Layers, "number of layers"),
		dModel:      fs.Int("d-model", def.DModel, "model width"),
		dInner:      fs.Int("d-inner", def.DInner, "MLP width (0: 4 × d-model)"),
		heads:       fs.Int("heads", def.Heads, "attention heads (hybrid and transformer)"),
		headDim:     fs.Int("head-dim", def.HeadDim, "H3 head dimension (1, or 8 as in the paper's multi-head variant)"),
		disc:        fs.String("discretization", def.Discretization, "diagonal SSM discretization: zoh or bilinear"),
		dropout:     fs.Float64("dropout", def.Dropout, "dropout on embeddings and residual branches"),
		context:     fs.Int("context", o.Context, "tokens per training window"),
		batch:       fs.Int("batch", o.Batch, "windows per batch"),
		accum:       fs.Int("accum", o.Accum, "micro-batches accumulated per optimizer step"),
		steps:       fs.Int("steps", o.Steps, "optimizer steps (0: train for --time)"),
		budget:      fs.Duration("time", o.Time, "the command's time when --steps is 0: loading, training and the closing validation pass"),
		lr:          fs.Float64("lr", o.LR, "peak learning rate (the SSM kernel parameters use min(lr, 1e-3))"),
		wd:          fs.Float64("wd", o.WeightDecay, "AdamW weight decay (none on biases, norms and SSM parameters)"),
		optName:     fs.String("optimizer", o.Optimizer, "adamw or sgd"),
		evalEvery:   fs.Int("eval-every", o.EvalEvery, "steps between validation passes"),
		evalBatches: fs.Int("eval-batches", o.EvalBatches, "validation batches per pass during training (0: the whole split; the final pass scores it all)"),
		ckptEvery:   fs.Int("checkpoint-every", o.CheckpointEvery, "steps between checkpoints"),
		logN:        fs.Int("log-every", o.LogEvery, "steps between metrics lines"),
		seed:        fs.Uint64("seed", o.Seed, "random seed (data order, initialisation, dropout)"),
		outDir:      fs.String("out", "runs", "folder that holds run folders"),
		name:        fs.String("name", "", "run folder name inside --out (default: <model>-<date>-<time>, made unique)"),
		resume:      fs.String("resume", "", "continue the run in this folder from its last checkpoint (--steps/--time: a new budget from there)"),
		initFrom:    fs.String("init-from", "", "start a new run from this checkpoint's weights (a model or run folder), with a fresh optimizer"),
		force:       fs.Bool("force", false, "replace what the run folder holds (it says what)"),
		device:      fs.String("device", "auto", "auto, cpu or cuda"),
		threads:     fs.Int("threads", 0, "worker goroutines of the CPU device (0: one per core)"),
		verbose:     fs.Bool("v", false, "say which device was chosen and why"),
		sampleLen:   fs.Int("sample", 300, "tokens of text to generate at the end (0: none)"),
	}
}

// set reports the flags given on the command line.
func (f *trainFlags) set() map[string]bool {
	set := map[string]bool{}
	f.fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	return set
}

func (f *trainFlags) spec() hungry.Spec {
	s := hungry.Spec{Family: *f.family, Layers: *f.nLayer, DModel: *f.dModel, DInner: *f.dInner, Heads: *f.heads,
		HeadDim: *f.headDim, Discretization: *f.disc, Dropout: *f.dropout, Tokenizer: *f.tokKind, Vocab: *f.vocab}
	if s.Tokenizer != tokenizer.KindByte && s.Tokenizer != tokenizer.KindBPE {
		s.Tokenizer, s.TokenizerDir = "", *f.tokKind
	}
	return s
}

func (f *trainFlags) options() train.Options {
	return train.Options{
		Batch: *f.batch, Context: *f.context, Accum: *f.accum, Steps: *f.steps, Time: *f.budget,
		LR: *f.lr, WeightDecay: *f.wd, Optimizer: *f.optName, EvalEvery: *f.evalEvery,
		CheckpointEvery: *f.ckptEvery, LogEvery: *f.logN, EvalBatches: *f.evalBatches, Seed: *f.seed,
	}
}

// interrupted is the error of a run stopped by Ctrl-C or SIGTERM: exit status 130, the
// shell's for SIGINT, after the lines saying what was saved and how to go on.
type interrupted struct{}

func (interrupted) Error() string { return "interrupted" }

func runTrain(args []string, stdout, stderr io.Writer) error {
	// A time budget is the whole command's: loading and building count too.
	start := time.Now()
	f := newTrainFlags(stderr)
	if err := f.fs.parse(args); err != nil {
		return err
	}
	// From here on Ctrl-C stops the run cleanly; a second one kills the process.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() { <-ctx.Done(); stop() }()

	dev, err := pickDeviceOpts(*f.device, *f.threads, *f.verbose, stderr)
	if err != nil {
		return err
	}
	var run *hungry.Run
	if *f.resume != "" {
		run, err = resumeRun(f, dev)
	} else {
		run, err = newRun(ctx, f, dev, stdout)
	}
	if err != nil {
		return err
	}
	defer run.Close()
	run.Start = start
	return trainRun(ctx, run, f, dev, stdout)
}

// resumeRun reopens --resume's run, applying the flags that may change on a resumed run
// and refusing those that contradict its checkpoint.
func resumeRun(f *trainFlags, dev tensor.Device) (*hungry.Run, error) {
	set := f.set()
	for _, name := range []string{"out", "name", "init-from", "force"} {
		if set[name] {
			return nil, usagef("--%s does not apply with --resume, which continues the run in its own folder", name)
		}
	}
	run, err := hungry.ResumeRun(*f.resume, dev, nil)
	if err != nil {
		return nil, &usageError{err.Error()}
	}
	o := run.Options
	checks := append(modelConflicts(run.Model, run.Family()),
		conflict{"batch", fmt.Sprint(*f.batch), fmt.Sprint(o.Batch)},
		conflict{"context", fmt.Sprint(*f.context), fmt.Sprint(o.Context)},
		conflict{"accum", fmt.Sprint(*f.accum), fmt.Sprint(max(o.Accum, 1))},
		conflict{"lr", fmt.Sprint(*f.lr), fmt.Sprint(o.LR)},
		conflict{"wd", fmt.Sprint(*f.wd), fmt.Sprint(o.WeightDecay)},
		conflict{"optimizer", *f.optName, o.Optimizer},
		conflict{"seed", fmt.Sprint(*f.seed), fmt.Sprint(o.Seed)},
		conflict{"data", filepath.Clean(*f.dataPath), filepath.Clean(run.DataPath())},
	)
	if err := checkConflicts(set, checks, *f.resume, f); err != nil {
		run.Close()
		return nil, err
	}
	if _, _, err := run.Data(); err != nil {
		run.Close()
		return nil, &usageError{err.Error()}
	}
	if set["eval-every"] {
		run.Options.EvalEvery = *f.evalEvery
	}
	if set["eval-batches"] {
		run.Options.EvalBatches = *f.evalBatches
	}
	if set["checkpoint-every"] {
		run.Options.CheckpointEvery = *f.ckptEvery
	}
	if set["log-every"] {
		run.Options.LogEvery = *f.logN
	}
	if set["steps"] || set["time"] {
		run.Extend = true
		run.Options.Steps, run.Options.Time = *f.steps, *f.budget
		if !set["steps"] {
			run.Options.Steps = 0
		}
		if err := run.Options.Validate(); err != nil {
			run.Close()
			return nil, &usageError{err.Error()}
		}
	}
	return run, nil
}

// conflict is a flag's value beside the checkpoint's.
type conflict struct{ flag, given, checkpoint string }

// modelConflicts lists the flags that describe the model, with m's values.
func modelConflicts(m *hungry.Model, family string) []conflict {
	cfg := m.LM.Config
	return []conflict{
		{"model", "", family},
		{"layers", "", fmt.Sprint(cfg.NLayer)},
		{"d-model", "", fmt.Sprint(cfg.DModel)},
		{"d-inner", "", fmt.Sprint(cfg.DInner)},
		{"heads", "", fmt.Sprint(cfg.AttnNHeads)},
		{"head-dim", "", fmt.Sprint(cfg.HeadDim)},
		{"discretization", "", cfg.SSMDiscretization},
		{"dropout", "", fmt.Sprint(cfg.ResidDropout)},
		{"tokenizer", "", m.Tokenizer.Name()},
		{"vocab", "", fmt.Sprint(m.Tokenizer.VocabSize())},
	}
}

// checkConflicts refuses a flag given on the command line whose value differs from the
// checkpoint's: it would otherwise be ignored.
func checkConflicts(set map[string]bool, checks []conflict, dir string, f *trainFlags) error {
	given := map[string]string{
		"model": *f.family, "layers": fmt.Sprint(*f.nLayer), "d-model": fmt.Sprint(*f.dModel),
		"d-inner": fmt.Sprint(*f.dInner), "heads": fmt.Sprint(*f.heads), "head-dim": fmt.Sprint(*f.headDim),
		"discretization": *f.disc, "dropout": fmt.Sprint(*f.dropout), "tokenizer": *f.tokKind, "vocab": fmt.Sprint(*f.vocab),
	}
	for _, c := range checks {
		if !set[c.flag] {
			continue
		}
		if c.given == "" {
			c.given = given[c.flag]
		}
		if c.flag == "tokenizer" && c.given != tokenizer.KindByte && c.given != tokenizer.KindBPE {
			tok, err := hungry.LoadTokenizer(c.given)
			if err != nil {
				return &usageError{err.Error()}
			}
			c.given = tok.Name()
		}
		if c.flag == "vocab" && c.checkpoint == "256" {
			continue // a byte model has no BPE vocabulary to disagree with
		}
		if c.flag == "d-inner" && c.given == "0" {
			continue // 0 asks for the default width, whatever it came to
		}
		if c.given != c.checkpoint {
			return usagef("--%s %s conflicts with the checkpoint in %s (%s); drop the flag, or start a new run (--init-from %s keeps the weights)",
				c.flag, c.given, dir, c.checkpoint, dir)
		}
	}
	return nil
}

// newRun claims the run folder, then builds the model (fresh, or from --init-from's
// weights) and the run in it. A start that fails leaves no folder behind.
func newRun(ctx context.Context, f *trainFlags, dev tensor.Device, stdout io.Writer) (*hungry.Run, error) {
	spec, opts := f.spec(), f.options()
	if err := opts.Validate(); err != nil {
		return nil, &usageError{err.Error()}
	}
	if *f.initFrom == "" {
		if _, err := spec.ModelConfig(256, *f.context); err != nil {
			return nil, &usageError{err.Error()}
		}
	}
	name, unique := *f.name, false
	if name == "" {
		family := spec.Family
		if *f.initFrom != "" {
			family = "finetune"
		}
		name, unique = fmt.Sprintf("%s-%s", family, time.Now().Format("20060102-150405")), true
	}
	if !filepath.IsLocal(name) || filepath.Clean(name) == "." {
		return nil, usagef("--name %q must name a folder inside --out %s (no .., no absolute path, not . itself)", name, *f.outDir)
	}
	claim, err := train.ClaimNew(filepath.Join(*f.outDir, name), train.NewClaimOptions{Unique: unique, Force: *f.force})
	if err != nil {
		var exists *train.ExistsError
		var locked *train.LockedError
		if errors.As(err, &exists) || errors.As(err, &locked) {
			return nil, &usageError{err.Error()}
		}
		return nil, err
	}
	if len(claim.Replaced) > 0 {
		fmt.Fprintf(stdout, "--force: replaced %s in %s\n", strings.Join(claim.Replaced, ", "), claim.Dir)
	}
	run, err := buildRun(ctx, claim, f, spec, opts, dev, stdout)
	if err != nil {
		claim.Abandon()
		return nil, err
	}
	return run, nil
}

func buildRun(ctx context.Context, claim *train.Claim, f *trainFlags, spec hungry.Spec, opts train.Options, dev tensor.Device, stdout io.Writer) (*hungry.Run, error) {
	if err := checkTrainLimits(spec, opts, *f.dataPath, *f.sampleLen); err != nil {
		return nil, err
	}
	corpus, err := hungry.LoadCorpus(*f.dataPath)
	if err != nil {
		return nil, &usageError{err.Error()}
	}
	var m *hungry.Model
	family := spec.Family
	if *f.initFrom != "" {
		if m, family, err = hungry.InitFrom(*f.initFrom, dev); err != nil {
			return nil, &usageError{fmt.Sprintf("--init-from: %v", err)}
		}
		if err := checkConflicts(f.set(), modelConflicts(m, family), *f.initFrom, f); err != nil {
			return nil, err
		}
	} else {
		if spec.Tokenizer == tokenizer.KindBPE {
			fmt.Fprintf(stdout, "training a BPE tokenizer with %d tokens on %d bytes...\n", spec.Vocab, corpus.TrainBytes())
		}
		if m, err = hungry.New(spec, corpus, *f.context, dev, *f.seed); err != nil {
			return nil, &usageError{err.Error()}
		}
	}
	if ctx.Err() != nil {
		fmt.Fprintln(stdout, "interrupted before training began; nothing was saved")
		return nil, interrupted{}
	}
	run, err := hungry.NewRunIn(claim, m, family, corpus, *f.dataPath, *f.initFrom, opts)
	if err != nil {
		return nil, &usageError{err.Error()}
	}
	// Check the data before announcing anything, so bad input fails fast and in one line.
	if _, _, err := run.Data(); err != nil {
		return nil, &usageError{err.Error()}
	}
	return run, nil
}

// trainRun trains run to its end or to a Ctrl-C, then draws the plot and the sample.
func trainRun(ctx context.Context, run *hungry.Run, f *trainFlags, dev tensor.Device, stdout io.Writer) error {
	folder := train.Folder(run.Dir)
	title := filepath.Base(run.Dir)
	var show func(train.Event)
	if isTerminal(stdout) {
		show = (&progress{out: stdout}).event
	} else {
		show = hungry.LogEvents(stdout)
	}
	run.Events = func(ev train.Event) {
		show(ev)
		// The plot follows the run: redrawn at every validation pass and on interrupt.
		switch e := ev.(type) {
		case train.Logged:
			if e.Record.ValLoss > 0 && !e.Final {
				_ = plotRun(folder, title)
			}
		case train.Saved:
			if e.Interrupted {
				_ = plotRun(folder, title)
			}
		}
	}
	m, cfg := run.Model, run.Model.LM.Config
	fmt.Fprintf(stdout, "model %s: %d layers, d_model %d, %d parameters, %s tokenizer (vocab %d), device %s\n",
		run.Family(), cfg.NLayer, cfg.DModel, m.Parameters(), m.Tokenizer.Name(), m.Tokenizer.VocabSize(), dev.Name())
	fmt.Fprintf(stdout, "data: %d training and %d validation bytes; run folder %s\n", run.Corpus.TrainBytes(), run.Corpus.ValidBytes(), run.Dir)

	sum, err := run.Train(ctx)
	if errors.Is(err, train.ErrInterrupted) {
		fmt.Fprintf(stdout, "resume with: %s train --resume %s\n", invokedAs(os.Args[0]), shellQuote(run.Dir))
		return interrupted{}
	}
	if err != nil {
		return err
	}
	if err := plotRun(folder, title); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "done: %d steps, %d tokens in %s (%s evaluating; %.0f training tokens/s)\n", sum.Steps, sum.Tokens,
		sum.Elapsed.Round(time.Second), sum.EvalTime.Round(time.Second), sum.TokensPerSec)
	scored := fmt.Sprintf("%d tokens", sum.Val.Tokens)
	if v := sum.Val; v.Batches < v.TotalBatches {
		scored += fmt.Sprintf(", %d of %d batches: the time budget ran out", v.Batches, v.TotalBatches)
	}
	fmt.Fprintf(stdout, "validation: loss %.4f nats/token, perplexity %.3f, %.3f bits/byte (%s)\n", sum.Val.NLL, sum.Val.PPL(), sum.Val.BPB, scored)
	fmt.Fprintf(stdout, "checkpoint: %s   metrics: %s   plot: %s\n", folder.Checkpoint(), folder.Metrics(), folder.LossPlot())
	if *f.sampleLen > 0 {
		return endSample(ctx, m, *f.sampleLen, run.Options.Seed, stdout)
	}
	return nil
}

// endSample prints a sample of n tokens after a newline, shortened to what a model with
// learned positions can hold. Ctrl-C stops it at once: the run is saved already.
func endSample(ctx context.Context, m *hungry.Model, n int, seed uint64, stdout io.Writer) error {
	prompt := []byte("\n")
	if most := m.MaxNew(len(m.Tokenizer.Encode(prompt))); most >= 0 && n > most {
		fmt.Fprintf(stdout, "sample: %d tokens, all the model's %d learned positions hold\n", most, m.LM.Config.MaxPositionEmbeddings)
		n = most
	}
	if ctx.Err() != nil {
		fmt.Fprintln(stdout, "sample skipped; the run is complete and saved")
		return interrupted{}
	}
	type result struct {
		text []byte
		err  error
	}
	done := make(chan result, 1)
	go func() {
		text, err := m.Generate(prompt, n, sample.Options{Temperature: 0.8, TopP: 0.95}, seed)
		done <- result{text, err}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			return r.err
		}
		fmt.Fprintf(stdout, "sample:\n%s\n", r.text)
		return nil
	case <-ctx.Done():
		fmt.Fprintln(stdout, "sample interrupted; the run is complete and saved")
		return interrupted{}
	}
}

// invokedAs is how the user started this command, for the line that says how to resume:
// `go run ./cmd/hungry` when arg0 is a binary go run built in its temporary folder.
func invokedAs(arg0 string) string {
	for _, part := range strings.Split(filepath.ToSlash(filepath.Dir(arg0)), "/") {
		if strings.HasPrefix(part, "go-build") {
			return "go run ./cmd/hungry"
		}
	}
	if arg0 == "" {
		return "hungry"
	}
	return shellQuote(arg0)
}

// shellQuote quotes s for a POSIX shell when it holds anything but the usual path
// characters.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./+:@%=,") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// pickDevice resolves --device for the commands without --threads and -v.
func pickDevice(name string, stderr io.Writer) (tensor.Device, error) {
	return pickDeviceOpts(name, 0, false, stderr)
}

// pickDeviceOpts resolves --device. auto takes GPU 0 when a driver and a device are
// there and otherwise the CPU, saying so in one line only when verbose (the CPU is what
// most machines have, and what the user expects); cuda insists on the GPU and fails with
// a one-line error without one. threads > 0 sets the CPU device's workers.
func pickDeviceOpts(name string, threads int, verbose bool, stderr io.Writer) (tensor.Device, error) {
	if threads < 0 {
		return nil, usagef("--threads must not be negative, got %d", threads)
	}
	cpu := func() tensor.Device {
		if threads > 0 {
			return tensor.NewCPU(threads)
		}
		return tensor.DefaultCPU()
	}
	switch name {
	case "cpu":
		return cpu(), nil
	case "auto":
		dev, err := gpu.Open(0)
		if err != nil {
			if verbose {
				fmt.Fprintf(stderr, "hungry: no usable GPU (%v); running on the CPU\n", err)
			}
			return cpu(), nil
		}
		if verbose {
			fmt.Fprintf(stderr, "hungry: running on %s\n", dev.Name())
		}
		return dev, nil
	case "cuda":
		dev, err := gpu.Open(0)
		if err != nil {
			return nil, fmt.Errorf("--device cuda: %v", err)
		}
		return dev, nil
	}
	return nil, usagef("unknown device %q (auto, cpu or cuda)", name)
}
