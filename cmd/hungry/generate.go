package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"

	"github.com/hungry-ssm/hungry/data/tokenizer"
	"github.com/hungry-ssm/hungry/model"
	"github.com/hungry-ssm/hungry/sample"
	"github.com/hungry-ssm/hungry/tensor"
)

type samplingOptions = sample.Options

// loadModelDir loads a model and its tokenizer from a checkpoint folder, or from a run
// folder (its latest checkpoint).
func loadModelDir(dir string, dev tensor.Device) (*model.LM, tokenizer.Tokenizer, error) {
	if _, err := os.Stat(filepath.Join(dir, "config.json")); err != nil {
		if _, err2 := os.Stat(filepath.Join(dir, "checkpoint", "config.json")); err2 == nil {
			dir = filepath.Join(dir, "checkpoint")
		} else if os.IsNotExist(err) {
			return nil, nil, usagef("%s holds no model (no config.json)", dir)
		}
	}
	m, err := model.Load(dir, dev)
	if err != nil {
		return nil, nil, &usageError{err.Error()}
	}
	tok, err := tokenizer.LoadTokenizer(dir, m.Config.Tokenizer)
	if err != nil {
		return nil, nil, &usageError{err.Error()}
	}
	if tok.VocabSize() > m.Config.VocabSize {
		return nil, nil, usagef("tokenizer has %d tokens but the model only %d", tok.VocabSize(), m.Config.VocabSize)
	}
	return m, tok, nil
}

// sampleText continues prompt by n tokens.
func sampleText(m *model.LM, tok tokenizer.Tokenizer, prompt []byte, n int, o sample.Options, seed uint64) ([]byte, error) {
	ids := tok.Encode(prompt)
	if len(ids) == 0 {
		return nil, usagef("the prompt is empty after tokenisation")
	}
	out, err := generateTokens(m, ids, n, o, tensor.NewRNG(seed))
	if err != nil {
		return nil, err
	}
	return tok.Decode(out)
}

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
	m, tok, err := loadModelDir(*dir, dev)
	if err != nil {
		return err
	}
	text, err := sampleText(m, tok, []byte(*prompt), *maxNew, o, *seed)
	if err != nil {
		return err
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(map[string]any{"prompt": *prompt, "completion": string(text), "tokens": *maxNew})
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
	if *ctxLen < 1 {
		return usagef("--context must be at least 1, got %d", *ctxLen)
	}
	dev, err := pickDevice(*device, stderr)
	if err != nil {
		return err
	}
	m, tok, err := loadModelDir(*dir, dev)
	if err != nil {
		return err
	}
	text, err := os.ReadFile(*textPath)
	if err != nil {
		return usagef("%v", err)
	}
	ids := tok.Encode(text)
	if len(ids) < 2 {
		return usagef("%s has %d tokens; at least 2 are needed to score one", *textPath, len(ids))
	}
	// The file is one sequence of at most --context tokens, as a model sees it: the first
	// token is context only and each later one is predicted from those before it.
	if len(ids) > *ctxLen {
		ids = ids[:*ctxLen]
	}
	if len(ids) < 2 {
		return usagef("--context %d leaves nothing to predict", *ctxLen)
	}
	nll, err := sequenceNLL(m, ids)
	if err != nil {
		return err
	}
	predicted := len(ids) - 1
	mean := nll / float64(predicted)
	if *asJSON {
		return json.NewEncoder(stdout).Encode(map[string]any{
			"tokens": len(ids), "predicted": predicted, "mean_nll": mean, "perplexity": math.Exp(mean)})
	}
	fmt.Fprintf(stdout, "tokens %d (%d predicted)  mean NLL %.4f nats  perplexity %.3f\n", len(ids), predicted, mean, math.Exp(mean))
	return nil
}

// sequenceNLL is the summed negative log-likelihood (nats) of ids[1:] given the tokens
// before each, from one forward pass.
func sequenceNLL(m *model.LM, ids []int32) (float64, error) {
	logits, err := m.Logits(ids[:len(ids)-1], 1, len(ids)-1)
	if err != nil {
		return 0, err
	}
	v := m.Config.VocabSize
	l := logits.Host()
	total := 0.0
	for t, target := range ids[1:] {
		row := l[t*v : (t+1)*v]
		mx := row[0]
		for _, x := range row {
			mx = max(mx, x)
		}
		s := 0.0
		for _, x := range row {
			s += math.Exp(float64(x - mx))
		}
		total += math.Log(s) + float64(mx) - float64(row[target])
	}
	return total, nil
}

// generateTokens continues ids by n tokens with the recurrent mode: one convolutional
// pass over the prompt seeds the state, then each token costs one step.
func generateTokens(m *model.LM, ids []int32, n int, o sample.Options, rng *tensor.RNG) ([]int32, error) {
	if n == 0 {
		return nil, nil
	}
	st, err := m.NewState(1)
	if err != nil {
		return nil, err
	}
	logits, err := st.Prefill(ids, len(ids))
	if err != nil {
		return nil, err
	}
	v := m.Config.VocabSize
	last := logits.Host()[(len(ids)-1)*v:]
	out := make([]int32, 0, n)
	for {
		next := sample.Next(last, o, rng)
		out = append(out, next)
		if len(out) == n {
			return out, nil
		}
		step, err := st.Step([]int32{next})
		if err != nil {
			return nil, err
		}
		last = step.Host()
	}
}
