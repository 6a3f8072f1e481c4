package main

import (
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/hungry-ssm/hungry"
	"github.com/hungry-ssm/hungry/data/tokenizer"
)

func runTokenizer(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("tokenizer train", "[--data PATH] [--vocab N] --out DIR", stderr)
	dataPath := fs.String("data", "", "UTF-8 text file or folder (default: the embedded Jane Austen novels)")
	vocab := fs.Int("vocab", 4096, "vocabulary size (256 bytes + merges)")
	out := fs.String("out", "", "folder to write vocab.json and merges.txt into (hungry train --tokenizer DIR reads it)")
	if len(args) == 0 || args[0] != "train" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help") {
			fs.Usage()
			return flag.ErrHelp
		}
		return usagef("usage: hungry tokenizer train [--data PATH] [--vocab N] --out DIR")
	}
	if err := fs.parse(args[1:]); err != nil {
		return err
	}
	if *out == "" {
		return usagef("--out is required")
	}
	if *vocab < 256 || *vocab > tokenizer.MaxVocabSize {
		return usagef("--vocab must lie in [256, %d], got %d", tokenizer.MaxVocabSize, *vocab)
	}
	corpus, err := hungry.LoadCorpus(*dataPath)
	if err != nil {
		return &usageError{err.Error()}
	}
	start := time.Now()
	bpe, err := tokenizer.TrainBPE(corpus.TrainText(), *vocab)
	if err != nil {
		return err
	}
	if err := bpe.Save(*out); err != nil {
		return usagef("cannot write the tokenizer: %v", err)
	}
	ids := bpe.Encode(corpus.TrainText())
	fmt.Fprintf(stdout, "trained %d tokens (%d merges) on %d bytes in %s: %.2f bytes per token; saved in %s\n",
		bpe.VocabSize(), bpe.NumMerges(), corpus.TrainBytes(), time.Since(start).Round(time.Millisecond),
		float64(corpus.TrainBytes())/float64(len(ids)), *out)
	return nil
}
