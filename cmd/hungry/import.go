package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hungry-ssm/hungry/data/tokenizer"
	"github.com/hungry-ssm/hungry/model"
	"github.com/hungry-ssm/hungry/torchfile"
	"github.com/hungry-ssm/hungry/train"
)

func presetNames() string {
	var names []string
	for _, p := range model.OfficialPresets() {
		names = append(names, p.Name)
	}
	return strings.Join(names, ", ")
}

// runImport converts an official H3 checkpoint (torch.save output) into a model folder
// that eval and generate read. Nothing in the checkpoint is executed: torchfile accepts
// only tensors, their storages and OrderedDicts.
func runImport(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("import", "--from FILE.pt [--preset NAME | --config config.json] --out DIR", stderr)
	from := fs.String("from", "", "PyTorch checkpoint (torch.save, zip or legacy format)")
	preset := fs.String("preset", "", "released model the checkpoint should be: "+presetNames())
	configPath := fs.String("config", "", "config.json describing the model (instead of --preset)")
	out := fs.String("out", "", "new folder to write config.json, model.safetensors and the tokenizer into")
	tokDir := fs.String("tokenizer", "", "folder with GPT-2's encoder.json and vocab.bpe, or vocab.json and merges.txt (default: the checkpoint's folder)")
	if err := fs.parse(args); err != nil {
		return err
	}
	switch {
	case *from == "":
		return usagef("--from is required")
	case *out == "":
		return usagef("--out is required")
	case *preset != "" && *configPath != "":
		return usagef("give --preset or --config, not both")
	}
	if entries, err := os.ReadDir(*out); err == nil && len(entries) > 0 {
		return usagef("%s is not empty; refusing to overwrite it", *out)
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return usagef("--out: %v", err)
	}
	var base *model.Config
	switch {
	case *preset != "":
		p, err := model.FindOfficialPreset(*preset)
		if err != nil {
			return &usageError{err.Error()}
		}
		c := p.Config()
		base = &c
	case *configPath != "":
		data, err := os.ReadFile(*configPath)
		if err != nil {
			return usagef("--config: %v", err)
		}
		c, err := model.ParseConfig(data)
		if err != nil {
			return &usageError{err.Error()}
		}
		base = &c
	}

	start := time.Now()
	f, err := torchfile.Open(*from)
	if err != nil {
		return &usageError{err.Error()}
	}
	defer f.Close()
	sd, err := torchfile.StateDict(f.Root)
	if err != nil {
		return &usageError{err.Error()}
	}
	imp, err := model.ImportStateDict(sd, base)
	if err != nil {
		return &usageError{err.Error()}
	}
	var tok tokenizer.Tokenizer
	if imp.Config.Tokenizer == tokenizer.KindGPT2 {
		dir := *tokDir
		if dir == "" {
			dir = filepath.Dir(*from)
		}
		if tok, err = loadGPT2(dir); err != nil {
			return &usageError{err.Error()}
		}
		if tok.VocabSize() > imp.Config.VocabSize {
			return usagef("the tokenizer in %s has %d tokens but the model only %d", dir, tok.VocabSize(), imp.Config.VocabSize)
		}
	} else if imp.Config.Tokenizer != tokenizer.KindByte {
		return usagef("tokenizer %q cannot be imported; use gpt2 or byte", imp.Config.Tokenizer)
	}
	for _, n := range imp.Notes {
		fmt.Fprintf(stdout, "note: %s\n", n)
	}
	// The folder appears whole or not at all: a failed import leaves nothing behind.
	err = train.WriteDirAtomic(*out, func(tmp string) error {
		if err := model.SaveImported(tmp, imp); err != nil {
			return err
		}
		if tok != nil {
			return tok.Save(tmp)
		}
		return nil
	})
	if err != nil {
		return err
	}
	params, bytes := 0, 0
	dtypes := map[string]int{}
	for _, t := range imp.Tensors {
		n, _ := t.Numel()
		params += n
		bytes += len(t.Data)
		dtypes[t.DType]++
	}
	c := imp.Config
	fmt.Fprintf(stdout, "imported %s → %s in %.1fs: %d tensors (%v), %d parameters, %.1f MB\n", *from, *out, time.Since(start).Seconds(), len(imp.Tensors), dtypes, params, float64(bytes)/1e6)
	fmt.Fprintf(stdout, "model: d_model %d, %d layers, attention at %v with %d heads, rotary %d, vocab %d, tokenizer %s\n", c.DModel, c.NLayer, c.AttnLayerIdx, c.AttnNHeads, c.RotaryEmbDim, c.VocabSize, c.Tokenizer)
	return nil
}

// loadGPT2 reads GPT-2's tokenizer from dir under OpenAI's file names or Hugging Face's.
func loadGPT2(dir string) (tokenizer.Tokenizer, error) {
	for _, names := range [][2]string{{tokenizer.GPT2VocabFile, tokenizer.GPT2MergesFile}, {tokenizer.BPEVocabFile, tokenizer.BPEMergesFile}} {
		v, m := filepath.Join(dir, names[0]), filepath.Join(dir, names[1])
		if _, err := os.Stat(v); err != nil {
			continue
		}
		return tokenizer.LoadBPE(v, m, tokenizer.KindGPT2)
	}
	return nil, fmt.Errorf("no GPT-2 tokenizer in %s (encoder.json and vocab.bpe, or vocab.json and merges.txt); give --tokenizer DIR", dir)
}
