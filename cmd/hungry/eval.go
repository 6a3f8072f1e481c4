package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/hungry-ssm/hungry"
	"github.com/hungry-ssm/hungry/model"
)

// textList is a repeatable flag.
type textList []string

func (l *textList) String() string     { return strings.Join(*l, ",") }
func (l *textList) Set(v string) error { *l = append(*l, v); return nil }

// defaultEvalContext is the window when --context is 0 (capped by learned positions).
const defaultEvalContext = 1024

func runEval(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("eval", "--model DIR --text FILE|FOLDER [--text ...] [flags]", stderr)
	dir := fs.String("model", "", "checkpoint or run folder")
	var paths textList
	fs.Var(&paths, "text", "UTF-8 text file, or folder of .txt and .txt.gz files; repeat for several. Each file is scored whole, as one sequence")
	ctxLen := fs.Int("context", 0, "tokens per window (0: 1024, or the model's learned positions if fewer)")
	stride := fs.Int("stride", 0, "tokens each window advances and scores; each token is scored once, with at least context−stride tokens before it (0: half the context)")
	asJSON := fs.Bool("json", false, "print a JSON object")
	device := fs.String("device", "auto", "auto, cpu or cuda")
	if err := fs.parse(args); err != nil {
		return err
	}
	if *dir == "" || len(paths) == 0 {
		return usagef("--model and --text are required")
	}
	if *ctxLen != 0 && *ctxLen < 2 {
		return usagef("--context must be at least 2, got %d", *ctxLen)
	}
	if *stride < 0 {
		return usagef("--stride must not be negative, got %d", *stride)
	}
	dev, err := pickDevice(*device, stderr)
	if err != nil {
		return err
	}
	context := *ctxLen
	m, err := loadChecked(*dir, dev, func(cfg model.Config) error {
		if context == 0 {
			context = defaultEvalContext
			if cfg.MaxPositionEmbeddings > 0 {
				context = min(context, cfg.MaxPositionEmbeddings)
			}
		}
		if cfg.MaxPositionEmbeddings > 0 && context > cfg.MaxPositionEmbeddings {
			return usagef("--context %d exceeds the model's %d learned positions (max_position_embeddings)", context, cfg.MaxPositionEmbeddings)
		}
		return checkEvalLimits(cfg, context, 0)
	})
	if err != nil {
		return err
	}
	if *stride == 0 {
		*stride = max(context/2, 1)
	}
	if *stride >= context {
		return usagef("--stride must be less than the context (%d), got %d", context, *stride)
	}
	budget, _, ok := memoryBudget()
	limit := int64(math.MaxInt64)
	if ok {
		limit = int64(max(budget, 0) / evalTextFactor)
	}
	texts, err := loadTexts(paths, limit)
	if err != nil {
		return err
	}
	total := int64(0)
	for _, t := range texts {
		total += int64(len(t.text))
	}
	if err := checkEvalLimits(m.LM.Config, context, total); err != nil {
		return err
	}
	var sum hungry.Score
	type fileScore struct {
		File       string  `json:"file"`
		Tokens     int     `json:"tokens"`
		Predicted  int     `json:"predicted"`
		MeanNLL    float64 `json:"mean_nll"`
		Perplexity float64 `json:"perplexity"`
		BPB        float64 `json:"bits_per_byte"`
	}
	var files []fileScore
	for _, t := range texts {
		s, err := m.ScoreWindows(t.text, context, *stride)
		if err != nil {
			// Non-finite predictions come from damaged weights: bad input, as is a
			// text too short to score.
			return usagef("%s: %v", t.name, err)
		}
		sum = sum.Add(s)
		files = append(files, fileScore{t.name, s.Tokens, s.Predicted(), s.MeanNLL(), s.Perplexity(), s.BitsPerByte()})
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(map[string]any{
			"tokens": sum.Tokens, "predicted": sum.Predicted(), "mean_nll": sum.MeanNLL(), "perplexity": sum.Perplexity(),
			"bits_per_byte": sum.BitsPerByte(), "context": context, "stride": *stride, "files": files})
	}
	if len(files) > 1 {
		for _, f := range files {
			fmt.Fprintf(stdout, "%s: tokens %d  mean NLL %.4f nats  perplexity %.3f  %.3f bits/byte\n", f.File, f.Tokens, f.MeanNLL, f.Perplexity, f.BPB)
		}
	}
	fmt.Fprintf(stdout, "tokens %d (%d predicted, windows of %d advancing by %d)  mean NLL %.4f nats  perplexity %.3f  %.3f bits/byte\n",
		sum.Tokens, sum.Predicted(), context, *stride, sum.MeanNLL(), sum.Perplexity(), sum.BitsPerByte())
	return nil
}
