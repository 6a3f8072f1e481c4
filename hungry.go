// Package hungry trains and runs H3 language models ("Hungry Hungry Hippos", Dao, Fu et
// al., ICLR 2023) in pure Go.
//
// It is the library behind the hungry command: build a model from a Spec and a corpus,
// train it in a run folder (checkpoints, metrics, resumption), load a checkpoint,
// generate text with the recurrent mode and score text. The packages below it (tensor,
// autograd, layers, model, optim, data, train) are usable on their own.
//
// Nothing here is global: any number of models can live in one program.
package hungry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/hungry-ssm/hungry/data"
	"github.com/hungry-ssm/hungry/data/tokenizer"
	"github.com/hungry-ssm/hungry/model"
	"github.com/hungry-ssm/hungry/sample"
	"github.com/hungry-ssm/hungry/tensor"
	"github.com/hungry-ssm/hungry/train"
)

// Spec describes a new model: its family, size and tokenizer.
type Spec struct {
	// Family is one of model.LanguageFamilies: "h3" (every mixer H3), "hybrid" (attention
	// in layer 1, H3 elsewhere) or "transformer" (attention everywhere, with learned
	// position embeddings).
	Family                 string
	Layers, DModel, DInner int
	// Heads is the number of attention heads; HeadDim the H3 head dimension.
	Heads, HeadDim int
	// Discretization of the diagonal SSM: "zoh" or "bilinear".
	Discretization string
	// Dropout on the embeddings and residual branches, in training only.
	Dropout float64
	// Tokenizer is "byte" or "bpe" (trained on the corpus's training split with Vocab
	// tokens).
	Tokenizer string
	Vocab     int
}

// DefaultSpec is the model `hungry train` trains by default: chosen by measurement to
// learn the most in ten minutes on two CPU cores.
func DefaultSpec() Spec {
	return Spec{Family: model.FamilyH3, Layers: 4, DModel: 128, Heads: 4, HeadDim: 1,
		Discretization: "zoh", Tokenizer: "byte", Vocab: 4096}
}

// ModelConfig returns the model configuration for a vocabulary and a training context.
// With DInner 0 the MLP is 4·d_model wide, or, for the families with attention, as wide
// as makes the model as large as the H3 one (model.Config.MatchH3Size).
func (s Spec) ModelConfig(vocab, context int) (model.Config, error) {
	cfg := model.DefaultConfig()
	cfg.DModel, cfg.NLayer, cfg.DInner, cfg.HeadDim = s.DModel, s.Layers, s.DInner, s.HeadDim
	cfg.SSMDiscretization, cfg.AttnNHeads = s.Discretization, s.Heads
	cfg.EmbedDropout, cfg.ResidDropout = s.Dropout, s.Dropout
	cfg.Tokenizer, cfg.VocabSize = s.Tokenizer, vocab
	family := s.Family
	if family == "" {
		family = model.FamilyH3
	}
	if !slices.Contains(model.LanguageFamilies(), family) {
		fams := model.LanguageFamilies()
		return cfg, fmt.Errorf("unknown model family %q (%s or %s)", s.Family, strings.Join(fams[:len(fams)-1], ", "), fams[len(fams)-1])
	}
	if err := cfg.SetFamily(family, context); err != nil {
		return cfg, err
	}
	if s.Tokenizer != "byte" && s.Tokenizer != "bpe" {
		return cfg, fmt.Errorf("unknown tokenizer %q (byte or bpe)", s.Tokenizer)
	}
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return cfg, err
	}
	if s.DInner == 0 && len(cfg.AttnLayerIdx) > 0 {
		if err := cfg.MatchH3Size(); err != nil {
			return cfg, err
		}
	}
	return cfg, nil
}

// Model is a language model with its tokenizer.
type Model struct {
	LM        *model.LM
	Tokenizer tokenizer.Tokenizer
}

// New builds a freshly initialised model for corpus (a BPE tokenizer is trained on its
// training split first) and a training context, deterministic given seed. dev nil means
// the CPU.
func New(spec Spec, corpus *data.Corpus, context int, dev tensor.Device, seed uint64) (*Model, error) {
	if dev == nil {
		dev = tensor.DefaultCPU()
	}
	if _, err := spec.ModelConfig(256, context); err != nil {
		return nil, err
	}
	var tok tokenizer.Tokenizer = tokenizer.Byte{}
	if spec.Tokenizer == "bpe" {
		bpe, err := tokenizer.TrainBPE(corpus.TrainText(), spec.Vocab)
		if err != nil {
			return nil, err
		}
		tok = bpe
	}
	cfg, err := spec.ModelConfig(tok.VocabSize(), context)
	if err != nil {
		return nil, err
	}
	lm, err := model.New(cfg, dev, seed)
	if err != nil {
		return nil, err
	}
	return &Model{LM: lm, Tokenizer: tok}, nil
}

// Load reads a model and its tokenizer from a checkpoint folder, or from a run folder
// (its latest checkpoint). dev nil means the CPU.
func Load(dir string, dev tensor.Device) (*Model, error) {
	if dev == nil {
		dev = tensor.DefaultCPU()
	}
	if _, err := os.Stat(filepath.Join(dir, "config.json")); err != nil {
		ckpt, cerr := train.Folder(dir).LatestCheckpoint()
		if cerr != nil {
			return nil, fmt.Errorf("%s holds no model (no config.json, no checkpoint)", dir)
		}
		dir = ckpt
	}
	lm, err := model.Load(dir, dev)
	if err != nil {
		return nil, err
	}
	tok, err := tokenizer.LoadTokenizer(dir, lm.Config.Tokenizer)
	if err != nil {
		return nil, err
	}
	if tok.VocabSize() > lm.Config.VocabSize {
		return nil, fmt.Errorf("tokenizer has %d tokens but the model only %d", tok.VocabSize(), lm.Config.VocabSize)
	}
	return &Model{LM: lm, Tokenizer: tok}, nil
}

// Save writes the model and its tokenizer as the folder dir, atomically: the files go into
// a temporary folder beside it, which then replaces dir whole (train.WriteDirAtomic), so
// dir holds either its old content or the complete model, even across a crash.
func (m *Model) Save(dir string) error { return train.WriteDirAtomic(dir, m.writeFiles) }

// writeFiles writes the model's files plainly into dir; the caller makes them atomic.
func (m *Model) writeFiles(dir string) error {
	if err := model.Save(dir, m.LM); err != nil {
		return err
	}
	return m.Tokenizer.Save(dir)
}

// Parameters is the number of trainable parameters.
func (m *Model) Parameters() int {
	n := 0
	for _, p := range m.LM.Params() {
		n += p.Value.Numel()
	}
	return n
}

// Generate continues prompt by n tokens drawn with o, reproducibly from seed.
func (m *Model) Generate(prompt []byte, n int, o sample.Options, seed uint64) ([]byte, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	ids := m.Tokenizer.Encode(prompt)
	if len(ids) == 0 {
		return nil, errors.New("the prompt is empty; give at least one token")
	}
	out, err := m.GenerateIDs(ids, n, o, tensor.NewRNG(seed))
	if err != nil {
		return nil, err
	}
	return m.Tokenizer.Decode(out)
}

// GenerateIDs continues ids by n tokens with the recurrent mode: one convolutional pass
// over the prompt seeds the state, then each new token costs one step, independent of
// its position for pure H3 models.
func (m *Model) GenerateIDs(ids []int32, n int, o sample.Options, rng *tensor.RNG) ([]int32, error) {
	if n <= 0 {
		return nil, nil
	}
	st, err := m.LM.NewState(1)
	if err != nil {
		return nil, err
	}
	logits, err := st.PrefillLast(ids)
	if err != nil {
		return nil, err
	}
	last := logits.Host()
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

// Score is the likelihood of a text under a model.
type Score struct {
	// Tokens is the length of the scored sequence; all but the first are predicted.
	Tokens int
	// NLL is the summed negative log-likelihood of the predicted tokens, in nats.
	NLL float64
}

// Predicted is the number of tokens predicted from the ones before them.
func (s Score) Predicted() int { return s.Tokens - 1 }

// MeanNLL is the mean negative log-likelihood per predicted token, in nats.
func (s Score) MeanNLL() float64 { return s.NLL / float64(s.Predicted()) }

// Perplexity is exp(MeanNLL).
func (s Score) Perplexity() float64 { return math.Exp(s.MeanNLL()) }

// Score reads text as one sequence of at most maxTokens tokens (the rest is dropped) and
// returns its likelihood (model.LM.ScoreNLL: a chunk at a time for pure H3 models).
func (m *Model) Score(text []byte, maxTokens int) (Score, error) {
	ids := m.Tokenizer.Encode(text)
	if len(ids) > maxTokens {
		ids = ids[:maxTokens]
	}
	if len(ids) < 2 {
		return Score{}, fmt.Errorf("%d tokens to score; at least 2 are needed", len(ids))
	}
	nll, _, err := m.LM.ScoreNLL(ids, 0)
	if err != nil {
		return Score{}, err
	}
	return Score{Tokens: len(ids), NLL: nll}, nil
}

// Run is a training run in a folder (train.Folder): run.json (how to rebuild the data),
// checkpoint/ and metrics.jsonl.
type Run struct {
	Dir     string
	Model   *Model
	Corpus  *data.Corpus
	Options train.Options
	// Events, when set, receives the training loop's progress (train.Event); the hungry
	// command draws its progress bar and loss.png from them. Without Events, Out (when
	// set) receives the lines of LogEvents.
	Events func(train.Event)
	Out    io.Writer
	resume bool
}

// LogEvents returns a train.Event handler that writes one line to w per metrics record
// (with the validation results on evaluation steps) and one when a run is interrupted:
// what `hungry train` prints when its output is not a terminal.
func LogEvents(w io.Writer) func(train.Event) {
	return func(ev train.Event) {
		switch e := ev.(type) {
		case train.Logged:
			if e.Final {
				return
			}
			r := e.Record
			line := fmt.Sprintf("step %d/%d  loss %.4f  lr %.2e  %.0f tok/s  %s", r.Step, e.TotalSteps, r.Loss, r.LR, r.TokensPerSec, e.Elapsed.Round(time.Second))
			if r.ValLoss > 0 {
				line += fmt.Sprintf("  val ppl %.2f  bpb %.3f", r.ValPPL, r.ValBPB)
			}
			fmt.Fprintln(w, line)
		case train.Saved:
			if e.Interrupted {
				fmt.Fprintln(w, InterruptedLine(e))
			}
		}
	}
}

// InterruptedLine is the line that reports a checkpoint written on cancellation.
func InterruptedLine(e train.Saved) string {
	return fmt.Sprintf("interrupted at step %d; checkpoint saved in %s", e.Step, e.Dir)
}

// runSettings is what a run needs beyond its checkpoint to be resumed.
type runSettings struct {
	Family string `json:"family"`
	// Data is the corpus path; empty means the embedded default corpus and fromReader
	// a text the caller supplied, which a resumption must supply again.
	Data      string `json:"data"`
	Tokenizer string `json:"tokenizer"`
}

// fromReader is runSettings.Data for a text the caller supplied.
const fromReader = "<reader>"

// NewRun prepares a fresh run of m on corpus in dir. dataPath is recorded so that a
// resumed run reloads the same text ("" for the embedded corpus).
func NewRun(dir string, m *Model, family string, corpus *data.Corpus, dataPath string, opts train.Options) (*Run, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if err := train.Folder(dir).WriteSettings(runSettings{Family: family, Data: dataPath, Tokenizer: m.Tokenizer.Name()}); err != nil {
		return nil, err
	}
	return &Run{Dir: dir, Model: m, Corpus: corpus, Options: opts}, nil
}

// ResumeRun reopens the run in dir at its latest checkpoint, with the options it was
// started with. corpus nil reloads the text the run recorded.
func ResumeRun(dir string, dev tensor.Device, corpus *data.Corpus) (*Run, error) {
	var s runSettings
	if err := train.Folder(dir).ReadSettings(&s); err != nil {
		return nil, fmt.Errorf("cannot resume %s: %w", dir, err)
	}
	opts, err := train.Folder(dir).Options()
	if err != nil {
		return nil, fmt.Errorf("cannot resume %s: %w", dir, err)
	}
	m, err := Load(dir, dev)
	if err != nil {
		return nil, fmt.Errorf("cannot resume %s: %w", dir, err)
	}
	if corpus == nil {
		if s.Data == fromReader {
			return nil, fmt.Errorf("cannot resume %s: its text came from a reader; pass the corpus", dir)
		}
		if corpus, err = LoadCorpus(s.Data); err != nil {
			return nil, fmt.Errorf("cannot resume %s: %w", dir, err)
		}
	}
	return &Run{Dir: dir, Model: m, Corpus: corpus, Options: opts, resume: true}, nil
}

// LoadCorpus reads a text file or folder, or the embedded Jane Austen novels for "".
func LoadCorpus(path string) (*data.Corpus, error) {
	if path == "" {
		return data.LoadDefaultCorpus()
	}
	return data.LoadCorpus(path)
}

// Family is the model family recorded for the run.
func (r *Run) Family() string {
	var s runSettings
	_ = train.Folder(r.Dir).ReadSettings(&s)
	return s.Family
}

// Resuming reports whether Train continues from a checkpoint.
func (r *Run) Resuming() bool { return r.resume }

// Data tokenises the corpus and prepares the training batches and validation windows.
func (r *Run) Data() (*data.Sampler, *data.Validation, error) {
	trainIDs, validIDs := r.Corpus.Encode(r.Model.Tokenizer)
	opts := r.Options
	if len(trainIDs) < opts.Context+1 {
		return nil, nil, fmt.Errorf("the training text has %d tokens, fewer than one window of %d", len(trainIDs), opts.Context+1)
	}
	batches, err := data.NewSampler(trainIDs, opts.Batch, opts.Context, opts.Seed)
	if err != nil {
		return nil, nil, err
	}
	if len(validIDs) < 2 {
		return nil, nil, fmt.Errorf("the validation split is too short (%d tokens); give more text", len(validIDs))
	}
	// Validation windows are as long as training ones where the split allows it.
	val, err := data.NewValidation(validIDs, opts.Batch, min(opts.Context, len(validIDs)-1))
	if err != nil {
		return nil, nil, err
	}
	return batches, val, nil
}

// Train trains until the run's budget is spent or ctx is cancelled (then it checkpoints
// and returns train.ErrInterrupted).
func (r *Run) Train(ctx context.Context) (train.Summary, error) {
	batches, val, err := r.Data()
	if err != nil {
		return train.Summary{}, err
	}
	tr := &train.Run{
		Dir: r.Dir, Model: r.Model.LM, Batches: batches, Val: val, TokenBytes: tokenBytes(r.Model.Tokenizer),
		Opts: r.Options, SaveModel: r.Model.writeFiles, Events: r.Events,
	}
	if tr.Events == nil && r.Out != nil {
		tr.Events = LogEvents(r.Out)
	}
	return tr.Train(ctx, r.resume)
}

// TrainText trains a new model of spec on text (split as LoadCorpus splits files) in the
// run folder dir and returns it with the run's summary.
func TrainText(ctx context.Context, text io.Reader, spec Spec, opts train.Options, dir string) (*Model, train.Summary, error) {
	b, err := io.ReadAll(text)
	if err != nil {
		return nil, train.Summary{}, err
	}
	corpus, err := data.CorpusFromText("text", b)
	if err != nil {
		return nil, train.Summary{}, err
	}
	m, err := New(spec, corpus, opts.Context, nil, opts.Seed)
	if err != nil {
		return nil, train.Summary{}, err
	}
	run, err := NewRun(dir, m, spec.Family, corpus, fromReader, opts)
	if err != nil {
		return nil, train.Summary{}, err
	}
	sum, err := run.Train(ctx)
	return m, sum, err
}

// tokenBytes returns each token's length in bytes, for bits per byte (nil for bytes).
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
