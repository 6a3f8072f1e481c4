package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/hungry-ssm/hungry"
	"github.com/hungry-ssm/hungry/sample"
)

func runGenerate(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("generate", "--model DIR --prompt TEXT [flags]", stderr)
	dir := fs.String("model", "", "checkpoint or run folder")
	prompt := fs.String("prompt", "", "text to continue")
	maxNew := fs.Int("max-new", 200, "tokens to generate")
	greedy := fs.Bool("greedy", false, "always take the most likely token")
	temp := fs.Float64("temperature", 1, "sampling temperature")
	topK := fs.Int("top-k", 0, "sample among the k most likely tokens (0: all)")
	topP := fs.Float64("top-p", 1, "sample from the smallest set of tokens with this much probability")
	seed := fs.Uint64("seed", 1, "random seed")
	asJSON := fs.Bool("json", false, "print a JSON object")
	device := fs.String("device", "auto", "auto, cpu or cuda")
	if err := fs.parse(args); err != nil {
		return err
	}
	if *dir == "" {
		return usagef("--model is required")
	}
	if *maxNew < 0 {
		return usagef("--max-new must not be negative, got %d", *maxNew)
	}
	o := sample.Options{Greedy: *greedy, Temperature: *temp, TopK: *topK, TopP: *topP}
	if err := o.Validate(); err != nil {
		return &usageError{err.Error()}
	}
	dev, err := pickDevice(*device, stderr)
	if err != nil {
		return err
	}
	m, err := hungry.Load(*dir, dev)
	if err != nil {
		return &usageError{err.Error()}
	}
	if len(m.Tokenizer.Encode([]byte(*prompt))) == 0 {
		return usagef("--prompt is empty; give at least one character")
	}
	text, err := m.Generate([]byte(*prompt), *maxNew, o, *seed)
	if err != nil {
		return err
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(map[string]any{"prompt": *prompt, "completion": string(text), "new_tokens": *maxNew})
	}
	fmt.Fprintf(stdout, "%s%s\n", *prompt, text)
	return nil
}

func runEval(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("eval", "--model DIR --text FILE [flags]", stderr)
	dir := fs.String("model", "", "checkpoint or run folder")
	textPath := fs.String("text", "", "text file, read as one sequence")
	ctxLen := fs.Int("context", 1024, "tokens scored (the file is truncated to this many)")
	asJSON := fs.Bool("json", false, "print a JSON object")
	device := fs.String("device", "auto", "auto, cpu or cuda")
	if err := fs.parse(args); err != nil {
		return err
	}
	if *dir == "" || *textPath == "" {
		return usagef("--model and --text are required")
	}
	if *ctxLen < 2 {
		return usagef("--context must be at least 2, got %d", *ctxLen)
	}
	dev, err := pickDevice(*device, stderr)
	if err != nil {
		return err
	}
	m, err := hungry.Load(*dir, dev)
	if err != nil {
		return &usageError{err.Error()}
	}
	text, err := os.ReadFile(*textPath)
	if err != nil {
		return usagef("%v", err)
	}
	s, err := m.Score(text, *ctxLen)
	if err != nil {
		return usagef("%s: %v", *textPath, err)
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(map[string]any{
			"tokens": s.Tokens, "predicted": s.Predicted(), "mean_nll": s.MeanNLL(), "perplexity": s.Perplexity()})
	}
	fmt.Fprintf(stdout, "tokens %d (%d predicted)  mean NLL %.4f nats  perplexity %.3f\n", s.Tokens, s.Predicted(), s.MeanNLL(), s.Perplexity())
	return nil
}
