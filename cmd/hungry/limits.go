package main

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hungry-ssm/hungry"
	"github.com/hungry-ssm/hungry/data"
	"github.com/hungry-ssm/hungry/model"
	"github.com/hungry-ssm/hungry/train"
)

// Everything the user gives (config files, flags, text) sizes an allocation somewhere.
// The commands check those sizes here, before allocating: against the bounds
// model.Config.Validate sets, against the int32 positions the model counts in, and
// against the machine's memory, so that a job that cannot fit says "needs N GB" in one
// line and exits 2 instead of dying in the runtime with a stack trace.
//
// The estimates are of peak resident memory, garbage collector overhead included,
// measured with /usr/bin/time on the default model family (AMD EPYC Zen 5, 2 cores,
// Go 1.26): inference 11.5 KB per token at d_model 128, d_inner 512, vocab 256 (16,384
// tokens, 249 MB; 12.1 KB at a million tokens per issue 13's table); training 57 to
// 91 KB per token of a batch at d_model 128, 4 layers, and 157 to 202 KB at d_model 256
// (batch × context 2,048 to 16,384 tokens). The formulas below lie 10 to 40% above
// those points (training) and at them (inference), so that a job they pass does fit:
// being generous to a job only moves its failure into the runtime. They count host
// memory; a GPU's own memory is the device's to refuse.
const (
	floatBytes = 4
	// inferFloatsPerD and trainFloatsPerLayerD are floats per token per unit of d_model:
	// a forward pass keeps about one layer's intermediates alive at a time (the
	// convolutions' FFT buffers dominate), training keeps every layer's for the backward
	// pass.
	inferFloatsPerD      = 16
	trainFloatsPerLayerD = 40
	// textFactor is memory per byte of training text: the bytes, one int32 id per byte
	// at worst, split copies and the batches' windows; evalTextFactor the bytes and ids.
	textFactor     = 12
	evalTextFactor = 5
	// generatedTokenBytes is what a kept generated token costs: its id and its bytes
	// (byte-level BPE tokens average about 4 bytes, GPT-2's longest is 128).
	generatedTokenBytes = 16
	// optimizerCopies: weights, gradients and AdamW's two moments.
	optimizerCopies = 4
)

// maxPositions is the number of positions a sequence can have: positions are int32.
const maxPositions = math.MaxInt32

func weightBytes(cfg model.Config) float64 { return float64(cfg.NumParams()) * floatBytes }

// inferenceBytes is the peak of one forward pass over tokens tokens.
func inferenceBytes(cfg model.Config, tokens int) float64 {
	cfg = cfg.WithDefaults()
	return float64(tokens) * floatBytes * float64(inferFloatsPerD*cfg.DModel+cfg.DInner+2*cfg.VocabSize)
}

// trainingBytes is the activations a training step over tokens tokens keeps for its
// backward pass, logits and their gradient included.
func trainingBytes(cfg model.Config, tokens float64) float64 {
	cfg = cfg.WithDefaults()
	perToken := float64(cfg.NLayer)*float64(trainFloatsPerLayerD*cfg.DModel+4*cfg.DInner) + 4*float64(cfg.VocabSize)
	return tokens * floatBytes * perToken
}

// kvCacheBytes is the key/value cache of the attention layers at positions positions.
func kvCacheBytes(cfg model.Config, positions int) float64 {
	return float64(len(cfg.AttnLayerIdx)) * 2 * float64(cfg.DModel) * float64(positions) * floatBytes
}

// checkMemory refuses a job whose estimate exceeds what this process may use.
func checkMemory(need float64, what string) error {
	budget, have, ok := memoryBudget()
	if !ok || need <= budget {
		return nil
	}
	return usagef("%s needs %s of memory; %s", what, gigabytes(need), have)
}

// gigabytes writes n bytes in GB, never as "0.0 GB".
func gigabytes(n float64) string {
	if n >= 10e9 {
		return fmt.Sprintf("%.0f GB", math.Ceil(n/1e9))
	}
	return fmt.Sprintf("%.1f GB", math.Max(n, 0.1e9)/1e9)
}

// memoryBudget is what this process may allocate: the machine's memory, or less under
// an address-space limit (ulimit -v), minus what is mapped already. ok is false where
// neither can be read; only the fixed bounds apply there.
func memoryBudget() (budget float64, have string, ok bool) {
	total, ok := totalMemory()
	if ok {
		budget, have = float64(total), "this machine has "+gigabytes(float64(total))
	}
	if limit, used, lok := addressSpaceLimit(); lok {
		left := float64(limit) - float64(used)
		if !ok || left < budget {
			budget, have, ok = left, fmt.Sprintf("the address-space limit (ulimit -v) of %s leaves %s", gigabytes(float64(limit)), gigabytes(left)), true
		}
	}
	return budget, have, ok
}

// checkGenerateLimits checks a generation of maxNew tokens after a prompt of
// promptTokens: the positions it reaches against the model's and the memory it needs.
// keepOutput says the whole output is held (not only streamed).
func checkGenerateLimits(cfg model.Config, promptTokens, maxNew int, keepOutput bool, what string) error {
	// The last drawn token is never fed, so the state reaches prompt+maxNew−1 positions.
	last := float64(promptTokens) + float64(maxNew) - 1
	if last > maxPositions {
		return usagef("%s: a prompt of %d tokens and %d new ones reach position %.0f; sequences end at %d", what, promptTokens, maxNew, last, maxPositions)
	}
	if cfg.MaxPositionEmbeddings > 0 && int(last) > cfg.MaxPositionEmbeddings {
		return usagef("%s: a prompt of %d tokens and %d new ones reach position %d, past the model's %d learned positions (max_position_embeddings)",
			what, promptTokens, maxNew, int(last), cfg.MaxPositionEmbeddings)
	}
	need := weightBytes(cfg) + inferenceBytes(cfg, max(promptTokens, 1)) + kvCacheBytes(cfg, int(last)+1)
	if keepOutput {
		need += float64(maxNew) * generatedTokenBytes
	}
	return checkMemory(need, what)
}

// checkEvalLimits checks scoring text of textBytes bytes in windows of context tokens.
func checkEvalLimits(cfg model.Config, context int, textBytes int64) error {
	window := int(min(int64(context), textBytes))
	need := weightBytes(cfg) + inferenceBytes(cfg, window) + kvCacheBytes(cfg, window) + float64(textBytes)*evalTextFactor
	return checkMemory(need, fmt.Sprintf("scoring %d bytes in windows of %d tokens", textBytes, context))
}

// checkTrainLimits checks what `hungry train` is asked for before it reads its corpus
// or builds its model: the model's sizes, the batch, the corpus (files are measured,
// gzipped ones by streaming them, never loaded) and the end-of-training sample.
func checkTrainLimits(spec hungry.Spec, opts train.Options, dataPath string, sampleLen int) error {
	vocab := 256
	if spec.Tokenizer == "bpe" {
		vocab = spec.Vocab
	}
	cfg, err := spec.ModelConfig(vocab, opts.Context)
	if err != nil {
		return &usageError{err.Error()}
	}
	textBytes := int64(4 << 20) // the embedded corpus
	if dataPath != "" {
		budget, _, ok := memoryBudget()
		if !ok {
			budget = math.MaxInt64
		}
		if textBytes, err = measureTexts(dataPath, int64(budget/textFactor)); err != nil {
			return err
		}
	}
	tokens := float64(opts.Batch) * float64(opts.Context)
	if sampleLen < 0 {
		return usagef("--sample must not be negative, got %d", sampleLen)
	}
	if sampleLen > 0 {
		// Only the sample's memory and int32 positions: keeping a learned-position
		// model's sample within its positions is the training command's business (it
		// shortens the sample rather than refuse the run).
		unpositioned := cfg
		unpositioned.MaxPositionEmbeddings = 0
		if err := checkGenerateLimits(unpositioned, 1, sampleLen, true, fmt.Sprintf("--sample %d", sampleLen)); err != nil {
			return err
		}
	}
	need := optimizerCopies*weightBytes(cfg) + trainingBytes(cfg, tokens) + float64(textBytes)*textFactor
	return checkMemory(need, fmt.Sprintf("training %d parameters on batches of %d × %d tokens and %d bytes of text",
		cfg.NumParams(), opts.Batch, opts.Context, textBytes))
}

// textFile is one text file named on the command line, or found in a folder named there.
type textFile struct {
	path string
	gz   bool
	size int64 // on disk
}

// listTexts resolves a text path as data.LoadCorpus does: a file, or the *.txt and
// *.txt.gz regular files directly inside a folder, sorted. Anything else (a device such
// as /dev/zero, a pipe) is refused, since its length is unknown until it is read.
func listTexts(path string) ([]textFile, error) {
	info, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, usagef("%s does not exist", path)
	}
	if err != nil {
		return nil, usagef("%v", err)
	}
	if info.Mode().IsRegular() {
		return []textFile{{path, strings.HasSuffix(strings.ToLower(path), ".gz"), info.Size()}}, nil
	}
	if !info.IsDir() {
		return nil, usagef("%s is not a regular file or a folder but %s; its length is unknown until read", path, kindOf(info.Mode()))
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		return nil, usagef("%v", err)
	}
	var out []textFile
	for _, e := range entries {
		lower := strings.ToLower(e.Name())
		if !e.Type().IsRegular() || strings.HasPrefix(e.Name(), ".") || !(strings.HasSuffix(lower, ".txt") || strings.HasSuffix(lower, ".txt.gz")) {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			return nil, usagef("%v", err)
		}
		out = append(out, textFile{filepath.Join(path, e.Name()), strings.HasSuffix(lower, ".gz"), fi.Size()})
	}
	if len(out) == 0 {
		return nil, usagef("folder %s has no .txt or .txt.gz files", path)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].path < out[j].path })
	return out, nil
}

func kindOf(m fs.FileMode) string {
	switch {
	case m&fs.ModeDevice != 0:
		return "a device"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeSocket != 0:
		return "a socket"
	}
	return "a special file"
}

// measureTexts returns the text bytes under path, refusing more than limit. Gzipped
// files are decompressed as a stream and counted, never held: a small file can expand
// to any size.
func measureTexts(path string, limit int64) (int64, error) {
	files, err := listTexts(path)
	if err != nil {
		return 0, err
	}
	total := int64(0)
	for _, f := range files {
		n, err := readText(f, limit-total, io.Discard)
		if err != nil {
			return 0, err
		}
		total += n
	}
	return total, nil
}

// readText copies f's text (decompressed) to w, refusing more than limit bytes and
// binary data (a NUL byte) as soon as they appear, and returns its length.
func readText(f textFile, limit int64, w io.Writer) (int64, error) {
	if !f.gz && f.size > limit {
		return 0, usagef("%s is %s, more than the %s of text that fits in memory", f.path, gigabytes(float64(f.size)), gigabytes(float64(limit)))
	}
	fh, err := os.Open(f.path)
	if err != nil {
		return 0, usagef("%v", err)
	}
	defer fh.Close()
	var r io.Reader = fh
	if f.gz {
		zr, err := gzip.NewReader(fh)
		if err != nil {
			return 0, usagef("%s: not valid gzip: %v", f.path, err)
		}
		r = zr
	}
	buf := make([]byte, 1<<16)
	n := int64(0)
	for {
		k, err := r.Read(buf)
		if k > 0 {
			if i := bytes.IndexByte(buf[:k], 0); i >= 0 {
				return 0, usagef("%s: binary data (NUL byte at offset %d), want UTF-8 text", f.path, n+int64(i))
			}
			n += int64(k)
			if n > limit {
				return 0, usagef("%s holds more than the %s of text that fits in memory", f.path, gigabytes(float64(limit)))
			}
			if _, err := w.Write(buf[:k]); err != nil {
				return 0, err
			}
		}
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return 0, usagef("%s: %v", f.path, err)
		}
	}
}

// loadTexts reads every text under paths for eval: bounded as measureTexts, and checked
// as training text is (UTF-8, no NUL).
func loadTexts(paths []string, limit int64) ([]namedText, error) {
	var out []namedText
	total := int64(0)
	for _, p := range paths {
		files, err := listTexts(p)
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			var b bytes.Buffer
			if !f.gz {
				b.Grow(int(min(f.size, limit-total)))
			}
			n, err := readText(f, limit-total, &b)
			if err != nil {
				return nil, err
			}
			total += n
			if err := data.CheckText(f.path, b.Bytes()); err != nil {
				return nil, &usageError{err.Error()}
			}
			out = append(out, namedText{f.path, b.Bytes()})
		}
	}
	return out, nil
}

type namedText struct {
	name string
	text []byte
}
