// Command hungry trains, evaluates and runs H3 language models.
//
//	hungry train      train a model (default: a small H3 on the embedded Jane Austen corpus)
//	hungry eval       perplexity of a model on a text file
//	hungry generate   sample text with the recurrent (O(1) per token) mode
//	hungry synth      the paper's synthetic tasks (induction head, associative recall)
//	hungry bench      kernel and model timings
//	hungry tokenizer  train a byte-level BPE tokenizer
//
// Errors in what the user gave (flags, files, configs) exit with status 2 and one line on
// stderr; failures while running exit with status 1; a run stopped by Ctrl-C exits with
// 130 once its checkpoint is saved.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// usageError marks a problem with what the user asked for (exit status 2).
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }

type command struct {
	summary string
	run     func(args []string, stdout, stderr io.Writer) error
}

var commands = map[string]command{
	"train":     {"train a model on a corpus (default: the embedded Jane Austen novels)", runTrain},
	"eval":      {"report token count, mean NLL and perplexity of a text file", runEval},
	"generate":  {"generate text from a prompt with the recurrent mode", runGenerate},
	"synth":     {"train and score models on the paper's synthetic tasks", runSynth},
	"bench":     {"time kernels and model steps", runBench},
	"tokenizer": {"train a byte-level BPE tokenizer (hungry tokenizer train --vocab 4096)", runTokenizer},
	"import":    {"convert an official H3 checkpoint (.pt) into a model folder", runImport},
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		printUsage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "hungry: unknown command %q (run 'hungry --help')\n", args[0])
		return 2
	}
	err := cmd.run(args[1:], stdout, stderr)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, new(interrupted)):
		// The command has said what it saved and how to go on.
		return 130
	default:
		fmt.Fprintf(stderr, "hungry %s: %s\n", args[0], oneLine(err.Error()))
		var ue *usageError
		if errors.As(err, &ue) {
			return 2
		}
		return 1
	}
}

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "usage: hungry <command> [flags]   (hungry <command> --help for its flags)")
	fmt.Fprintln(w)
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
	}
}

// flagSet is a flag set that reports errors instead of exiting, so that every error
// leaves through run with the right exit status.
type flagSet struct {
	*flag.FlagSet
	stderr io.Writer
}

func newFlags(name, usage string, stderr io.Writer) *flagSet {
	fs := &flagSet{flag.NewFlagSet("hungry "+name, flag.ContinueOnError), stderr}
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: hungry %s %s\n\nflags:\n", name, usage)
		fs.SetOutput(stderr)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses args and turns flag errors and stray arguments into usage errors.
func (fs *flagSet) parse(args []string) error {
	// flag prints its own messages and the whole usage on any error; ours are one line,
	// printed by run, and the usage only when asked for.
	usage := fs.Usage
	fs.Usage = func() {}
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	fs.Usage = usage
	if errors.Is(err, flag.ErrHelp) {
		fs.Usage()
		return err
	}
	if err != nil {
		return &usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	return nil
}

func oneLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}
