package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"golang.org/x/term"

	"github.com/hungry-ssm/hungry"
	"github.com/hungry-ssm/hungry/ptx/gpu"
	"github.com/hungry-ssm/hungry/sample"
	"github.com/hungry-ssm/hungry/tensor"
	"github.com/hungry-ssm/hungry/train"
)

func runTrain(args []string, stdout, stderr io.Writer) error {
	def := hungry.DefaultSpec()
	fs := newFlags("train", "[flags]", stderr)
	family := fs.String("model", def.Family, "model family: h3, hybrid (attention in layer 1) or transformer (attention everywhere, learned positions)")
	dataPath := fs.String("data", "", "UTF-8 text file or folder of them (default: the embedded Jane Austen novels)")
	tokKind := fs.String("tokenizer", def.Tokenizer, "tokenizer: byte or bpe (trained on the training split)")
	vocab := fs.Int("vocab", def.Vocab, "vocabulary size of a BPE tokenizer")
	nLayer := fs.Int("layers", def.Layers, "number of layers")
	dModel := fs.Int("d-model", def.DModel, "model width")
	dInner := fs.Int("d-inner", 0, "MLP width (0: 4 × d-model)")
	heads := fs.Int("heads", def.Heads, "attention heads (hybrid and transformer)")
	headDim := fs.Int("head-dim", def.HeadDim, "H3 head dimension (1, or 8 as in the paper's multi-head variant)")
	disc := fs.String("discretization", def.Discretization, "diagonal SSM discretization: zoh or bilinear")
	context_ := fs.Int("context", 256, "tokens per training window")
	batch := fs.Int("batch", 16, "windows per batch")
	accum := fs.Int("accum", 1, "micro-batches accumulated per optimizer step")
	steps := fs.Int("steps", 0, "optimizer steps (0: train for --time)")
	budget := fs.Duration("time", 10*time.Minute, "training time when --steps is 0")
	lr := fs.Float64("lr", 3e-3, "peak learning rate (the SSM kernel parameters use min(lr, 1e-3))")
	wd := fs.Float64("wd", 0.1, "AdamW weight decay (none on biases, norms and SSM parameters)")
	optName := fs.String("optimizer", "adamw", "adamw or sgd")
	dropout := fs.Float64("dropout", def.Dropout, "dropout on embeddings and residual branches")
	evalEvery := fs.Int("eval-every", 200, "steps between validation passes")
	evalBatches := fs.Int("eval-batches", 8, "validation batches per pass during training (0: the whole split; the final pass scores it all)")
	ckptEvery := fs.Int("checkpoint-every", 100, "steps between checkpoints")
	logEvery := fs.Int("log-every", 10, "steps between metrics lines")
	seed := fs.Uint64("seed", 1, "random seed (data order, initialisation, dropout)")
	outDir := fs.String("out", "runs", "folder that holds run folders")
	name := fs.String("name", "", "run name (default: <model>-<date>-<time>)")
	resume := fs.String("resume", "", "continue the run in this folder from its last checkpoint")
	device := fs.String("device", "auto", "auto, cpu or cuda")
	sampleLen := fs.Int("sample", 300, "tokens of text to generate at the end (0: none)")
	if err := fs.parse(args); err != nil {
		return err
	}
	dev, err := pickDevice(*device, stderr)
	if err != nil {
		return err
	}

	var run *hungry.Run
	if *resume != "" {
		if run, err = hungry.ResumeRun(*resume, dev, nil); err != nil {
			return &usageError{err.Error()}
		}
	} else {
		spec := hungry.Spec{Family: *family, Layers: *nLayer, DModel: *dModel, DInner: *dInner, Heads: *heads,
			HeadDim: *headDim, Discretization: *disc, Dropout: *dropout, Tokenizer: *tokKind, Vocab: *vocab}
		opts := train.Options{
			Batch: *batch, Context: *context_, Accum: *accum, Steps: *steps, Time: *budget,
			LR: *lr, WeightDecay: *wd, Optimizer: *optName, EvalEvery: *evalEvery,
			CheckpointEvery: *ckptEvery, LogEvery: *logEvery, EvalBatches: *evalBatches, Seed: *seed,
		}
		if err := opts.Validate(); err != nil {
			return &usageError{err.Error()}
		}
		if _, err := spec.ModelConfig(256, *context_); err != nil {
			return &usageError{err.Error()}
		}
		if err := checkTrainLimits(spec, opts, *dataPath, *sampleLen); err != nil {
			return err
		}
		corpus, err := hungry.LoadCorpus(*dataPath)
		if err != nil {
			return &usageError{err.Error()}
		}
		if spec.Tokenizer == "bpe" {
			fmt.Fprintf(stderr, "training a BPE tokenizer with %d tokens on %d bytes...\n", spec.Vocab, corpus.TrainBytes())
		}
		m, err := hungry.New(spec, corpus, *context_, dev, *seed)
		if err != nil {
			return &usageError{err.Error()}
		}
		if *name == "" {
			*name = fmt.Sprintf("%s-%s", spec.Family, time.Now().Format("20060102-150405"))
		}
		if run, err = hungry.NewRun(filepath.Join(*outDir, *name), m, spec.Family, corpus, *dataPath, opts); err != nil {
			return &usageError{err.Error()}
		}
	}
	// Check the data before announcing anything, so bad input fails fast and in one line.
	if _, _, err := run.Data(); err != nil {
		return &usageError{err.Error()}
	}
	if isTerminal(stdout) {
		run.Events = (&progress{out: stdout}).event
	} else {
		run.Events = hungry.LogEvents(stdout)
	}
	m, cfg := run.Model, run.Model.LM.Config
	fmt.Fprintf(stdout, "model %s: %d layers, d_model %d, %d parameters, %s tokenizer (vocab %d), device %s\n",
		run.Family(), cfg.NLayer, cfg.DModel, m.Parameters(), m.Tokenizer.Name(), m.Tokenizer.VocabSize(), dev.Name())
	fmt.Fprintf(stdout, "data: %d training and %d validation bytes; run folder %s\n", run.Corpus.TrainBytes(), run.Corpus.ValidBytes(), run.Dir)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	sum, err := run.Train(ctx)
	if errors.Is(err, train.ErrInterrupted) {
		fmt.Fprintf(stdout, "stopped; resume with: hungry train --resume %s\n", run.Dir)
		return nil
	}
	if err != nil {
		return err
	}
	folder := train.Folder(run.Dir)
	if err := plotRun(folder, filepath.Base(run.Dir)); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "done: %d steps, %d tokens in %s (%.0f tokens/s)\n", sum.Steps, sum.Tokens, sum.Elapsed.Round(time.Second), sum.TokensPerSec)
	fmt.Fprintf(stdout, "validation: loss %.4f nats/token, perplexity %.3f, %.3f bits/byte (%d tokens)\n", sum.Val.NLL, sum.Val.PPL(), sum.Val.BPB, sum.Val.Tokens)
	fmt.Fprintf(stdout, "checkpoint: %s   metrics: %s   plot: %s\n", folder.Checkpoint(), folder.Metrics(), folder.LossPlot())
	if *sampleLen > 0 {
		text, err := m.Generate([]byte("\n"), *sampleLen, sample.Options{Temperature: 0.8, TopP: 0.95}, run.Options.Seed)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "sample:\n%s\n", text)
	}
	return nil
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// pickDevice resolves --device. auto takes GPU 0 when a driver and a device are there
// and otherwise the CPU, saying so in one line; cuda insists on the GPU and fails with a
// one-line error without one.
func pickDevice(name string, stderr io.Writer) (tensor.Device, error) {
	switch name {
	case "cpu":
		return tensor.DefaultCPU(), nil
	case "auto":
		dev, err := gpu.Open(0)
		if err != nil {
			fmt.Fprintf(stderr, "hungry: no usable GPU (%v); running on the CPU\n", err)
			return tensor.DefaultCPU(), nil
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
