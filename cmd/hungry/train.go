package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"golang.org/x/term"

	"github.com/hungry-ssm/hungry/data"
	"github.com/hungry-ssm/hungry/data/tokenizer"
	"github.com/hungry-ssm/hungry/model"
	"github.com/hungry-ssm/hungry/tensor"
	"github.com/hungry-ssm/hungry/train"
)

// runSettings is what a run needs beyond the checkpoint to be resumed: where its data came
// from and how it was tokenised. It is stored as run.json in the run folder.
type runSettings struct {
	Family    string `json:"family"`
	Data      string `json:"data"`
	Tokenizer string `json:"tokenizer"`
	Seed      uint64 `json:"seed"`
}

func runTrain(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("train", "[flags]", stderr)
	family := fs.String("model", "h3", "model family: h3, hybrid (attention in layer 1) or transformer (attention everywhere, learned positions)")
	dataPath := fs.String("data", "", "UTF-8 text file or folder of them (default: the embedded Jane Austen novels)")
	tokKind := fs.String("tokenizer", "byte", "tokenizer: byte or bpe (trained on the training split)")
	vocab := fs.Int("vocab", 4096, "vocabulary size of a BPE tokenizer")
	nLayer := fs.Int("layers", 4, "number of layers")
	dModel := fs.Int("d-model", 256, "model width")
	dInner := fs.Int("d-inner", 0, "MLP width (0: 4 × d-model)")
	heads := fs.Int("heads", 4, "attention heads (hybrid and transformer)")
	headDim := fs.Int("head-dim", 1, "H3 head dimension (1 or more; 8 as in the paper's multi-head variant)")
	disc := fs.String("discretization", "zoh", "diagonal SSM discretization: zoh or bilinear")
	context_ := fs.Int("context", 256, "tokens per training window")
	batch := fs.Int("batch", 16, "windows per batch")
	accum := fs.Int("accum", 1, "micro-batches accumulated per optimizer step")
	steps := fs.Int("steps", 0, "optimizer steps (0: train for --time)")
	budget := fs.Duration("time", 10*time.Minute, "training time when --steps is 0")
	lr := fs.Float64("lr", 2e-3, "peak learning rate (the SSM kernel parameters use min(lr, 1e-3))")
	wd := fs.Float64("wd", 0.1, "AdamW weight decay (none on biases, norms and SSM parameters)")
	optName := fs.String("optimizer", "adamw", "adamw or sgd")
	dropout := fs.Float64("dropout", 0, "dropout on embeddings and residual branches")
	evalEvery := fs.Int("eval-every", 200, "steps between validation passes")
	evalBatches := fs.Int("eval-batches", 8, "validation batches per pass during training (0: the whole split; the final pass scores it all)")
	ckptEvery := fs.Int("checkpoint-every", 100, "steps between checkpoints")
	logEvery := fs.Int("log-every", 10, "steps between metrics lines")
	seed := fs.Uint64("seed", 1, "random seed (data order, initialisation, dropout)")
	outDir := fs.String("out", "runs", "folder that holds run folders")
	name := fs.String("name", "", "run name (default: <model>-<date>-<time>)")
	resume := fs.String("resume", "", "continue the run in this folder from its last checkpoint")
	device := fs.String("device", "auto", "auto, cpu or cuda")
	sampleLen := fs.Int("sample", 300, "bytes of text to generate at the end (0: none)")
	if err := fs.parse(args); err != nil {
		return err
	}
	dev, err := pickDevice(*device, stderr)
	if err != nil {
		return err
	}

	var (
		runDir   string
		settings runSettings
		cfg      model.Config
		m        *model.LM
		tok      tokenizer.Tokenizer
	)
	if *resume != "" {
		runDir = *resume
		b, err := os.ReadFile(filepath.Join(runDir, "run.json"))
		if err != nil {
			return usagef("cannot resume %s: %v", runDir, err)
		}
		if err := json.Unmarshal(b, &settings); err != nil {
			return usagef("cannot resume %s: run.json is corrupt: %v", runDir, err)
		}
		ckpt, err := train.ResolveCheckpoint(runDir)
		if err != nil {
			return usagef("cannot resume %s: %v", runDir, err)
		}
		if m, err = model.Load(ckpt, dev); err != nil {
			return usagef("cannot resume %s: %v", runDir, err)
		}
		cfg = m.Config
		if tok, err = tokenizer.LoadTokenizer(ckpt, settings.Tokenizer); err != nil {
			return usagef("cannot resume %s: %v", runDir, err)
		}
	} else {
		settings = runSettings{Family: *family, Data: *dataPath, Tokenizer: *tokKind, Seed: *seed}
		if *tokKind != "byte" && *tokKind != "bpe" {
			return usagef("unknown tokenizer %q (byte or bpe)", *tokKind)
		}
		if *context_ <= 0 {
			return usagef("--context must be positive, got %d", *context_)
		}
		cfg = model.DefaultConfig()
		cfg.DModel, cfg.NLayer, cfg.DInner, cfg.HeadDim = *dModel, *nLayer, *dInner, *headDim
		cfg.SSMDiscretization, cfg.AttnNHeads = *disc, *heads
		cfg.EmbedDropout, cfg.ResidDropout = *dropout, *dropout
		cfg.Tokenizer = *tokKind
		if cfg.DInner == 0 {
			cfg.DInner = 4 * cfg.DModel
		}
		switch *family {
		case "h3":
		case "hybrid":
			cfg.AttnLayerIdx = []int{min(1, cfg.NLayer-1)}
		case "transformer":
			cfg.AttnLayerIdx = make([]int, cfg.NLayer)
			for i := range cfg.AttnLayerIdx {
				cfg.AttnLayerIdx[i] = i
			}
			cfg.MaxPositionEmbeddings = *context_
		default:
			return usagef("unknown model family %q (h3, hybrid or transformer)", *family)
		}
		if *name == "" {
			*name = fmt.Sprintf("%s-%s", *family, time.Now().Format("20060102-150405"))
		}
		runDir = filepath.Join(*outDir, *name)
	}

	corpus, err := loadCorpus(settings.Data)
	if err != nil {
		return &usageError{err.Error()}
	}
	if tok == nil {
		if settings.Tokenizer == "bpe" {
			fmt.Fprintf(stderr, "training a BPE tokenizer with %d tokens on %d bytes...\n", *vocab, corpus.TrainBytes())
			if tok, err = tokenizer.TrainBPE(corpus.TrainText(), *vocab); err != nil {
				return usagef("%v", err)
			}
		} else {
			tok = tokenizer.Byte{}
		}
		cfg.VocabSize = tok.VocabSize()
		if m, err = model.New(cfg, dev, *seed); err != nil {
			return &usageError{err.Error()}
		}
	}
	trainIDs, validIDs := corpus.Encode(tok)
	opts := train.Options{
		Batch: *batch, Context: *context_, Accum: *accum, Steps: *steps, Time: *budget,
		LR: *lr, WeightDecay: *wd, Optimizer: *optName, EvalEvery: *evalEvery,
		CheckpointEvery: *ckptEvery, LogEvery: *logEvery, EvalBatches: *evalBatches,
		Seed: settings.Seed,
	}
	if *resume != "" {
		// A resumed run continues with the settings it started with.
		if opts, err = train.CheckpointOptions(runDir); err != nil {
			return usagef("cannot resume %s: %v", runDir, err)
		}
	}
	if err := opts.Validate(); err != nil {
		return &usageError{err.Error()}
	}
	if len(trainIDs) < opts.Context+1 {
		return usagef("the training text has %d tokens, fewer than one window of %d", len(trainIDs), opts.Context+1)
	}
	batches, err := data.NewSampler(trainIDs, opts.Batch, opts.Context, settings.Seed)
	if err != nil {
		return &usageError{err.Error()}
	}
	// Validation windows are as long as training ones when the split allows it.
	val, err := data.NewValidation(validIDs, opts.Batch, min(opts.Context, len(validIDs)-1))
	if err != nil || len(validIDs) < 2 {
		return usagef("the validation split is too short (%d tokens); give more text", len(validIDs))
	}

	if err := os.MkdirAll(runDir, 0o755); err != nil {
		return usagef("cannot create the run folder: %v", err)
	}
	if *resume == "" {
		b, _ := json.MarshalIndent(settings, "", "  ")
		if err := os.WriteFile(filepath.Join(runDir, "run.json"), b, 0o644); err != nil {
			return usagef("cannot write to the run folder: %v", err)
		}
	}
	nParams := 0
	for _, p := range m.Params() {
		nParams += p.Value.Numel()
	}
	fmt.Fprintf(stdout, "model %s: %d layers, d_model %d, %d parameters, %s tokenizer (vocab %d), device %s\n",
		settings.Family, cfg.NLayer, cfg.DModel, nParams, tok.Name(), tok.VocabSize(), dev.Name())
	fmt.Fprintf(stdout, "data: %d training and %d validation tokens; run folder %s\n", len(trainIDs), len(validIDs), runDir)

	run := &train.Run{
		Dir: runDir, Model: m, Batches: batches, Val: val, TokenBytes: tokenBytes(tok),
		Opts: opts,
		SaveModel: func(dir string) error {
			if err := model.Save(dir, m); err != nil {
				return err
			}
			return tok.Save(dir)
		},
		Out: stdout, Terminal: isTerminal(stdout),
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	sum, err := run.Train(ctx, *resume != "")
	if errors.Is(err, train.ErrInterrupted) {
		fmt.Fprintf(stdout, "stopped; resume with: hungry train --resume %s\n", runDir)
		return nil
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "done: %d steps, %d tokens in %s (%.0f tokens/s)\n", sum.Steps, sum.Tokens, sum.Elapsed.Round(time.Second), sum.TokensPerSec)
	fmt.Fprintf(stdout, "validation: loss %.4f nats/token, perplexity %.3f, %.3f bits/byte (%d tokens)\n", sum.Val.NLL, sum.Val.PPL(), sum.Val.BPB, sum.Val.Tokens)
	fmt.Fprintf(stdout, "checkpoint: %s   metrics: %s   plot: %s\n", train.CheckpointDir(runDir),
		filepath.Join(runDir, "metrics.jsonl"), filepath.Join(runDir, "loss.png"))
	if *sampleLen > 0 {
		text, err := sampleText(m, tok, []byte("\n"), *sampleLen, samplingOptions{Temperature: 0.8, TopK: 0, TopP: 0.95}, settings.Seed)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "sample:\n%s\n", text)
	}
	return nil
}

func loadCorpus(path string) (*data.Corpus, error) {
	if path == "" {
		return data.LoadDefaultCorpus()
	}
	return data.LoadCorpus(path)
}

// tokenBytes returns the byte length of each token, for bits per byte.
func tokenBytes(tok tokenizer.Tokenizer) func(int32) int {
	if tok.Name() == tokenizer.KindByte {
		return nil
	}
	lens := make([]int, tok.VocabSize())
	for i := range lens {
		b, _ := tok.Decode([]int32{int32(i)})
		lens[i] = len(b)
	}
	return func(id int32) int { return lens[id] }
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// pickDevice resolves --device. Only the CPU exists until the GPU backend lands, so auto
// means the CPU and cuda is refused with a message rather than silently ignored.
func pickDevice(name string, stderr io.Writer) (tensor.Device, error) {
	switch name {
	case "auto", "cpu":
		return tensor.DefaultCPU(), nil
	case "cuda":
		return nil, fmt.Errorf("--device cuda: this build has no GPU backend yet")
	}
	return nil, usagef("unknown device %q (auto, cpu or cuda)", name)
}
