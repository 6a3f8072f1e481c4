package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"

	"github.com/hungry-ssm/hungry"
	"github.com/hungry-ssm/hungry/model"
	"github.com/hungry-ssm/hungry/sample"
	"github.com/hungry-ssm/hungry/tensor"
	"github.com/hungry-ssm/hungry/train"
)

// maxChatLine bounds one line typed in interactive mode.
const maxChatLine = 1 << 20

func runGenerate(args []string, stdout, stderr io.Writer) error {
	return generate(args, os.Stdin, stdout, stderr)
}

func generate(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("generate", "--model DIR (--prompt TEXT | --prompt-file FILE | -i) [flags]", stderr)
	dir := fs.String("model", "", "checkpoint or run folder")
	prompt := fs.String("prompt", "", "text to continue")
	promptFile := fs.String("prompt-file", "", "read the prompt from this file (- for standard input)")
	interactive := fs.Bool("i", false, "chat: each line read from standard input is a turn, answered with --max-new tokens; the model's state carries over, so a turn costs only its own tokens")
	maxNew := fs.Int("max-new", 200, "tokens to generate (per turn with -i)")
	greedy := fs.Bool("greedy", false, "always take the most likely token (the same as --temperature 0)")
	temp := fs.Float64("temperature", 1, "sampling temperature (0: greedy)")
	topK := fs.Int("top-k", 0, "sample among the k most likely tokens (0: all)")
	topP := fs.Float64("top-p", 1, "sample from the smallest set of tokens with this much probability, in (0, 1]")
	seed := fs.Uint64("seed", 1, "random seed")
	asJSON := fs.Bool("json", false, "print a JSON object at the end instead of streaming the text")
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
	if *prompt != "" && *promptFile != "" {
		return usagef("give --prompt or --prompt-file, not both")
	}
	if *interactive && (*asJSON || *promptFile == "-") {
		return usagef("-i reads its turns from standard input; it takes neither --json nor --prompt-file -")
	}
	o := sample.Options{Greedy: *greedy, Temperature: *temp, TopK: *topK, TopP: *topP}
	if err := o.Validate(); err != nil {
		return &usageError{err.Error()}
	}
	text := []byte(*prompt)
	if *promptFile != "" {
		var err error
		if text, err = readPrompt(*promptFile, stdin); err != nil {
			return err
		}
	}
	if len(text) == 0 && !*interactive {
		return usagef("the prompt is empty; give --prompt, --prompt-file or -i")
	}
	// Tokens are at least a byte each, so the prompt's bytes bound its tokens.
	positions := len(text)
	if *interactive {
		// A chat's length is unknown until it ends; the model refuses a position past
		// its learned ones when the chat reaches it.
		positions++
	}
	dev, err := pickDevice(*device, stderr)
	if err != nil {
		return err
	}
	m, err := loadChecked(*dir, dev, func(cfg model.Config) error {
		return checkGenerateLimits(cfg, positions, *maxNew, *asJSON, fmt.Sprintf("--max-new %d", *maxNew))
	})
	if err != nil {
		return err
	}
	if *interactive {
		return chat(m, text, *maxNew, o, *seed, stdin, stdout)
	}
	if len(m.Tokenizer.Encode(text)) == 0 {
		return usagef("the prompt is empty; give at least one character")
	}
	if *asJSON {
		out, err := m.Generate(text, *maxNew, o, *seed)
		if err != nil {
			return err
		}
		return json.NewEncoder(stdout).Encode(map[string]any{"prompt": string(text), "completion": string(out), "new_tokens": *maxNew})
	}
	// The prompt, then each token as it is drawn: the text appears as it is produced.
	if _, err := stdout.Write(text); err != nil {
		return err
	}
	if err := m.GenerateStream(text, *maxNew, o, *seed, func(b []byte) error {
		_, err := stdout.Write(b)
		return err
	}); err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout)
	return err
}

// chat feeds first (when not empty) and then each line of in as a turn, writing each
// reply as it is drawn and a newline after it.
func chat(m *hungry.Model, first []byte, maxNew int, o sample.Options, seed uint64, in io.Reader, out io.Writer) error {
	s, err := m.NewSession(o, seed)
	if err != nil {
		return err
	}
	if len(first) > 0 {
		if err := s.Feed(first); err != nil {
			return err
		}
	}
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 0, 4096), maxChatLine)
	for sc.Scan() {
		if err := s.Feed(append(sc.Bytes(), '\n')); err != nil {
			return err
		}
		if _, err := s.Reply(maxNew, func(b []byte) error {
			_, err := out.Write(b)
			return err
		}); err != nil {
			return err
		}
		if _, err := fmt.Fprintln(out); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return usagef("reading the chat: %v", err)
	}
	return nil
}

// readPrompt reads a prompt file, or standard input for "-", bounded as texts are: argv
// caps a prompt at about 128 KB, a file does not.
func readPrompt(path string, stdin io.Reader) ([]byte, error) {
	budget, _, ok := memoryBudget()
	limit := int64(math.MaxInt32)
	if ok {
		limit = min(limit, int64(budget/evalTextFactor))
	}
	if path == "-" {
		b, err := io.ReadAll(io.LimitReader(stdin, limit+1))
		if err != nil {
			return nil, usagef("reading the prompt: %v", err)
		}
		if int64(len(b)) > limit {
			return nil, usagef("the prompt on standard input is longer than %s", gigabytes(float64(limit)))
		}
		return b, nil
	}
	texts, err := loadTexts([]string{path}, limit)
	if err != nil {
		return nil, err
	}
	if len(texts) != 1 {
		return nil, usagef("--prompt-file %s is a folder; give one file", path)
	}
	return texts[0].text, nil
}

// loadChecked loads the model in dir (a checkpoint or run folder) after check has
// accepted its config, so that sizes are checked before the model is built. Every
// problem with the checkpoint is bad input (exit 2).
func loadChecked(dir string, dev tensor.Device, check func(model.Config) error) (*hungry.Model, error) {
	ckpt := dir
	if _, err := os.Stat(filepath.Join(dir, "config.json")); err != nil {
		if c, err := train.Folder(dir).LatestCheckpoint(); err == nil {
			ckpt = c
		}
	}
	if _, err := os.Stat(filepath.Join(ckpt, "config.json")); err == nil {
		cfg, err := model.ReadConfig(ckpt)
		if err != nil {
			return nil, &usageError{err.Error()}
		}
		if err := check(cfg); err != nil {
			return nil, err
		}
	}
	m, err := hungry.Load(dir, dev)
	if err != nil {
		return nil, &usageError{err.Error()}
	}
	return m, nil
}
