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
	// tokens). TokenizerDir, when set, names a folder to load the tokenizer from instead
	// (LoadTokenizer); New then sets Tokenizer to its kind.
	Tokenizer    string
	TokenizerDir string
	Vocab        int
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
	switch {
	case s.TokenizerDir != "":
		if s.Tokenizer == "" {
			// The folder's kind is known once New reads it; any will do for the shapes.
			cfg.Tokenizer = tokenizer.KindBPE
		}
	case s.Tokenizer != "byte" && s.Tokenizer != "bpe":
		return cfg, fmt.Errorf("unknown tokenizer %q (byte, bpe or a folder holding one)", s.Tokenizer)
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
	switch {
	case spec.TokenizerDir != "":
		t, err := LoadTokenizer(spec.TokenizerDir)
		if err != nil {
			return nil, err
		}
		tok, spec.Tokenizer = t, t.Name()
	case spec.Tokenizer == "bpe":
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

// Generate continues prompt by n tokens drawn with o, reproducibly from seed, and
// returns the continuation only: the prompt is not repeated in the result.
func (m *Model) Generate(prompt []byte, n int, o sample.Options, seed uint64) ([]byte, error) {
	var out []byte
	err := m.GenerateStream(prompt, n, o, seed, func(b []byte) error {
		out = append(out, b...)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// GenerateStream is Generate handing each token's bytes to emit as soon as the token is
// drawn, so a caller can show text as it is produced. A token of a byte-level BPE may
// hold part of a UTF-8 character; the concatenation of what emit receives is exactly
// Generate's result. An error from emit stops generation and is returned.
func (m *Model) GenerateStream(prompt []byte, n int, o sample.Options, seed uint64, emit func([]byte) error) error {
	if err := o.Validate(); err != nil {
		return err
	}
	ids := m.Tokenizer.Encode(prompt)
	if len(ids) == 0 {
		return errors.New("the prompt is empty; give at least one token")
	}
	if err := m.fits(len(ids), n); err != nil {
		return err
	}
	s, err := m.newSession(o, tensor.NewRNG(seed))
	if err != nil {
		return err
	}
	if err := s.FeedIDs(ids); err != nil {
		return err
	}
	_, err = s.Reply(n, emit)
	return err
}

// GenerateIDs continues ids by n tokens with the recurrent mode and returns the n new
// ids (not the prompt): one convolutional pass over the prompt seeds the state, then each
// new token costs one step, independent of its position for pure H3 models.
func (m *Model) GenerateIDs(ids []int32, n int, o sample.Options, rng *tensor.RNG) ([]int32, error) {
	if n <= 0 {
		return nil, nil
	}
	if err := m.fits(len(ids), n); err != nil {
		return nil, err
	}
	s, err := m.newSession(o, rng)
	if err != nil {
		return nil, err
	}
	if err := s.FeedIDs(ids); err != nil {
		return nil, err
	}
	return s.ReplyIDs(n, nil)
}

// Session is a conversation with a model: the recurrent state after everything fed and
// generated so far. Each Feed and Reply costs only its own tokens (one prefill pass over
// the first text, then one recurrent step per token), not the history's, so a chat turn
// costs the same at the hundredth turn as at the first for pure H3 models; attention
// layers keep their growing key/value cache. Each fed text is tokenised on its own, so a
// BPE token never spans two turns; with the byte tokenizer the conversation is exactly
// the concatenated text.
type Session struct {
	m   *Model
	o   sample.Options
	rng *tensor.RNG
	st  *model.State
	// last holds the logits that predict the next token; nil before any text.
	last []float32
	// pending is the last drawn token, not yet fed to the state: only the next turn
	// needs it, and a reply that ends the session never pays for it.
	pending    int32
	hasPending bool
	cost       int
}

// NewSession starts an empty conversation that draws tokens with o, reproducibly from
// seed.
func (m *Model) NewSession(o sample.Options, seed uint64) (*Session, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	return m.newSession(o, tensor.NewRNG(seed))
}

func (m *Model) newSession(o sample.Options, rng *tensor.RNG) (*Session, error) {
	st, err := m.LM.NewState(1)
	if err != nil {
		return nil, err
	}
	return &Session{m: m, o: o, rng: rng, st: st}, nil
}

// Positions is the number of tokens the state has consumed.
func (s *Session) Positions() int { return s.st.Pos() }

// Cost is the number of token positions run through the model so far, prefill and steps
// together: the work a conversation has cost.
func (s *Session) Cost() int { return s.cost }

// Feed appends text (a user's turn) to the conversation.
func (s *Session) Feed(text []byte) error { return s.FeedIDs(s.m.Tokenizer.Encode(text)) }

// FeedIDs appends token ids to the conversation: the first ids of a fresh session in one
// convolutional pass, later ones (after the pending reply token) a step each.
func (s *Session) FeedIDs(ids []int32) error {
	if s.hasPending {
		ids = append([]int32{s.pending}, ids...)
		s.hasPending = false
	}
	if len(ids) == 0 {
		return nil
	}
	if s.st.Pos() == 0 {
		// Only the last position's logits are needed: a long prompt is read a chunk at a
		// time, its memory bounded by the chunk rather than the prompt.
		logits, err := s.st.PrefillLast(ids)
		if err != nil {
			return err
		}
		s.cost += len(ids)
		s.last = logits.Host()
		return nil
	}
	for _, id := range ids {
		step, err := s.st.Step([]int32{id})
		if err != nil {
			return err
		}
		s.cost++
		s.last = step.Host()
	}
	return nil
}

// ReplyIDs draws n tokens, calling emit (when not nil) with each as it is drawn, and
// returns them.
func (s *Session) ReplyIDs(n int, emit func(int32) error) ([]int32, error) {
	if s.last == nil {
		return nil, errors.New("nothing to continue: feed some text first")
	}
	// Not sized by n: n may be large when the caller streams and discards the ids.
	var out []int32
	for i := 0; i < n; i++ {
		if s.hasPending {
			step, err := s.st.Step([]int32{s.pending})
			if err != nil {
				return out, err
			}
			s.cost++
			s.last = step.Host()
		}
		next := sample.Next(s.last, s.o, s.rng)
		s.pending, s.hasPending = next, true
		out = append(out, next)
		if emit != nil {
			if err := emit(next); err != nil {
				return out, err
			}
		}
	}
	return out, nil
}

// Reply draws n tokens, handing each token's bytes to emit (when not nil) as it is
// drawn, and returns the reply's bytes.
func (s *Session) Reply(n int, emit func([]byte) error) ([]byte, error) {
	var out []byte
	_, err := s.ReplyIDs(n, func(id int32) error {
		b, err := s.m.Tokenizer.Decode([]int32{id})
		if err != nil {
			return err
		}
		out = append(out, b...)
		if emit != nil {
			return emit(b)
		}
		return nil
	})
	return out, err
}

// Score is the likelihood of one or more texts under a model.
type Score struct {
	// Tokens is the number of tokens read; Sequences the number of texts they came
	// from. The first token of each text has nothing before it and is not predicted.
	Tokens, Sequences int
	// Bytes is the texts' length in bytes, for bits per byte.
	Bytes int
	// NLL is the summed negative log-likelihood of the predicted tokens, in nats.
	NLL float64
}

// Predicted is the number of tokens predicted from the ones before them.
func (s Score) Predicted() int { return s.Tokens - s.Sequences }

// MeanNLL is the mean negative log-likelihood per predicted token, in nats.
func (s Score) MeanNLL() float64 { return s.NLL / float64(s.Predicted()) }

// Perplexity is exp(MeanNLL).
func (s Score) Perplexity() float64 { return math.Exp(s.MeanNLL()) }

// BitsPerByte is the summed NLL in bits over the texts' bytes: comparable across
// tokenizers.
func (s Score) BitsPerByte() float64 { return s.NLL / math.Ln2 / float64(s.Bytes) }

// Add returns the score of s's texts and o's together.
func (s Score) Add(o Score) Score {
	return Score{Tokens: s.Tokens + o.Tokens, Sequences: s.Sequences + o.Sequences, Bytes: s.Bytes + o.Bytes, NLL: s.NLL + o.NLL}
}

// Score scores the whole text with windows of context tokens advancing by half a window;
// see ScoreWindows.
func (m *Model) Score(text []byte, context int) (Score, error) {
	return m.ScoreWindows(text, context, max(context/2, 1))
}

// ScoreWindows scores every token of text but the first, as one sequence, with a sliding
// window: the first window is the first context tokens, and each further one ends stride
// tokens later and scores only those stride new tokens. Every token is thus scored
// exactly once, with at least context−stride tokens before it (all of them in the first
// window), and the cost is about context/stride forward passes over the text. stride
// must lie in [1, context−1]; with context at least the text's length it is one pass.
func (m *Model) ScoreWindows(text []byte, context, stride int) (Score, error) {
	if context < 2 {
		return Score{}, fmt.Errorf("the context must be at least 2 tokens, got %d", context)
	}
	if stride < 1 || stride >= context {
		return Score{}, fmt.Errorf("the stride must lie in [1, %d] for a context of %d, got %d", context-1, context, stride)
	}
	ids := m.Tokenizer.Encode(text)
	if len(ids) < 2 {
		return Score{}, fmt.Errorf("%d tokens to score; at least 2 are needed", len(ids))
	}
	s := Score{Tokens: len(ids), Sequences: 1, Bytes: len(text)}
	end := min(context, len(ids))
	nll, _, err := windowNLL(m.LM, ids[:end], 1)
	if err != nil {
		return Score{}, err
	}
	s.NLL = nll
	for end < len(ids) {
		next := min(end+stride, len(ids))
		begin := next - context
		nll, _, err := windowNLL(m.LM, ids[begin:next], end-begin)
		if err != nil {
			return Score{}, fmt.Errorf("tokens %d to %d: %w", end, next, err)
		}
		s.NLL += nll
		end = next
	}
	return s, nil
}

// windowNLL is the summed negative log-likelihood, in nats, of ids[scoreFrom:] each given
// the ids of the window before it, and how many tokens that is (scoreFrom ≥ 1). It is
// the one place ScoreWindows touches the model. A pure H3 model reads the window a chunk
// at a time with its state carried (model.LM.ScoreNLL), so a window of a million tokens
// needs one chunk's activations and logits. Non-finite predictions are an error, not a
// NaN perplexity: they mean damaged weights.
func windowNLL(lm *model.LM, ids []int32, scoreFrom int) (float64, int, error) {
	nll, n, err := lm.ScoreNLL(ids, scoreFrom-1)
	if err != nil {
		return 0, 0, err
	}
	if math.IsNaN(nll) || math.IsInf(nll, 0) {
		return 0, 0, fmt.Errorf("the model's predictions are not finite (summed NLL %g); its weights are damaged", nll)
	}
	return nll, n, nil
}

// Run is a training run in a folder (train.Folder): run.json (how to rebuild the data),
// checkpoint/ and metrics.jsonl. It holds the folder's lock (train.Claim) from NewRun or
// ResumeRun until Close, so no other process trains in it meanwhile.
type Run struct {
	Dir     string
	Model   *Model
	Corpus  *data.Corpus
	Options train.Options
	// Extend, on a resumed run, makes Options.Steps (or Options.Time) a new budget counted
	// from the checkpoint (train.Run.Extend); the cadence options apply either way.
	Extend bool
	// Events, when set, receives the training loop's progress (train.Event); the hungry
	// command draws its progress bar and loss.png from them. Without Events, Out (when
	// set) receives the lines of LogEvents.
	Events func(train.Event)
	Out    io.Writer
	// Start, when set, is when the training time began counting (train.Run.Start).
	Start  time.Time
	resume bool
	claim  *train.Claim
}

// LogEvents returns a train.Event handler that writes one line to w per metrics record
// (with the validation results on evaluation steps), one when the closing validation
// pass starts and one when a run is interrupted: what `hungry train` prints when its
// output is not a terminal.
func LogEvents(w io.Writer) func(train.Event) {
	var left time.Duration
	return func(ev train.Event) {
		switch e := ev.(type) {
		case train.Stepped:
			left = e.Remaining
		case train.Logged:
			if e.Final {
				return
			}
			r := e.Record
			line := fmt.Sprintf("step %d/%d  loss %.4f  lr %.2e  %.0f tok/s  %s, %s left", r.Step, e.TotalSteps, r.Loss, r.LR, r.TokensPerSec,
				e.Elapsed.Round(time.Second), left.Round(time.Second))
			if r.ValLoss > 0 {
				line += fmt.Sprintf("  val ppl %.2f  bpb %.3f", r.ValPPL, r.ValBPB)
			}
			fmt.Fprintln(w, line)
		case train.Stopped:
			fmt.Fprintln(w, StoppedLine(e))
		case train.Saved:
			if e.Interrupted {
				fmt.Fprintln(w, InterruptedLine(e))
			}
		}
	}
}

// StoppedLine is the line that announces the closing validation pass.
func StoppedLine(e train.Stopped) string {
	return fmt.Sprintf("step %d: training done; scoring the whole validation split", e.Step)
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
	// InitFrom is the checkpoint whose weights the run started from, if any.
	InitFrom string `json:"init_from,omitempty"`
}

// fromReader is runSettings.Data for a text the caller supplied.
const fromReader = "<reader>"

// NewRun prepares a fresh run of m on corpus in dir, which must not exist or be empty
// (train.ClaimNew); the run holds dir's lock until Close. dataPath is recorded so that a
// resumed run reloads the same text ("" for the embedded corpus).
func NewRun(dir string, m *Model, family string, corpus *data.Corpus, dataPath string, opts train.Options) (*Run, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	c, err := train.ClaimNew(dir, train.NewClaimOptions{})
	if err != nil {
		return nil, err
	}
	r, err := NewRunIn(c, m, family, corpus, dataPath, "", opts)
	if err != nil {
		c.Abandon()
		return nil, err
	}
	return r, nil
}

// NewRunIn is NewRun in a folder the caller has claimed (train.ClaimNew, with the
// options it chose); the run takes the claim over. initFrom records the checkpoint the
// model's weights came from ("" for a fresh model).
func NewRunIn(c *train.Claim, m *Model, family string, corpus *data.Corpus, dataPath, initFrom string, opts train.Options) (*Run, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if pe := m.LM.Config.MaxPositionEmbeddings; pe > 0 && opts.Context > pe {
		return nil, fmt.Errorf("context %d exceeds the model's %d learned positions", opts.Context, pe)
	}
	settings := runSettings{Family: family, Data: dataPath, Tokenizer: m.Tokenizer.Name(), InitFrom: initFrom}
	if err := train.Folder(c.Dir).WriteSettings(settings); err != nil {
		return nil, err
	}
	return &Run{Dir: c.Dir, Model: m, Corpus: corpus, Options: opts, claim: c}, nil
}

// ResumeRun reopens the run in dir at its latest checkpoint, with the options it was
// started with, and holds dir's lock until Close. corpus nil reloads the text the run
// recorded.
func ResumeRun(dir string, dev tensor.Device, corpus *data.Corpus) (*Run, error) {
	var s runSettings
	if err := train.Folder(dir).ReadSettings(&s); err != nil {
		return nil, fmt.Errorf("cannot resume %s: %w", dir, err)
	}
	c, err := train.ClaimExisting(dir)
	if err != nil {
		return nil, fmt.Errorf("cannot resume: %w", err)
	}
	r, err := resumeRun(dir, dev, corpus, s)
	if err != nil {
		c.Release()
		return nil, fmt.Errorf("cannot resume %s: %w", dir, err)
	}
	r.claim = c
	return r, nil
}

func resumeRun(dir string, dev tensor.Device, corpus *data.Corpus, s runSettings) (*Run, error) {
	opts, err := train.Folder(dir).Options()
	if err != nil {
		return nil, err
	}
	m, err := Load(dir, dev)
	if err != nil {
		return nil, err
	}
	if corpus == nil {
		if s.Data == fromReader {
			return nil, errors.New("its text came from a reader; pass the corpus")
		}
		if corpus, err = LoadCorpus(s.Data); err != nil {
			return nil, err
		}
	}
	return &Run{Dir: dir, Model: m, Corpus: corpus, Options: opts, resume: true}, nil
}

// Close releases the run folder's lock. The run's files stay.
func (r *Run) Close() {
	if r.claim != nil {
		r.claim.Release()
		r.claim = nil
	}
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
	s, _ := r.settings()
	return s.Family
}

// DataPath is the corpus path recorded for the run ("" for the embedded corpus).
func (r *Run) DataPath() string {
	s, _ := r.settings()
	return s.Data
}

func (r *Run) settings() (runSettings, error) {
	var s runSettings
	err := train.Folder(r.Dir).ReadSettings(&s)
	return s, err
}

// FamilyOf names the family whose layout cfg has, for a model loaded from a folder
// without a run.json (an imported checkpoint).
func FamilyOf(cfg model.Config) string {
	switch {
	case cfg.Mixer != "":
		return cfg.Mixer
	case len(cfg.AttnLayerIdx) == cfg.NLayer && cfg.MaxPositionEmbeddings > 0:
		return model.FamilyTransformer
	case len(cfg.AttnLayerIdx) > 0:
		return model.FamilyHybrid
	}
	return model.FamilyH3
}

// InitFrom loads the model in dir (a model folder, or a run folder's latest checkpoint)
// to start a new run from its weights, with a fresh optimizer: fine-tuning. It returns
// the model and its family (the run's record, or FamilyOf its configuration).
func InitFrom(dir string, dev tensor.Device) (*Model, string, error) {
	m, err := Load(dir, dev)
	if err != nil {
		return nil, "", err
	}
	var s runSettings
	if train.Folder(dir).ReadSettings(&s) == nil && s.Family != "" {
		return m, s.Family, nil
	}
	return m, FamilyOf(m.LM.Config), nil
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
		Opts: r.Options, Extend: r.Extend, SaveModel: r.Model.writeFiles, Events: r.Events, Start: r.Start,
	}
	if tr.Events == nil && r.Out != nil {
		tr.Events = LogEvents(r.Out)
	}
	return tr.Train(ctx, r.resume)
}

// TrainText trains a new model of spec on text (split as LoadCorpus splits files) in the
// run folder dir, which must not exist or be empty, and returns it with the run's
// summary. progress, when not nil, receives the loop's events (train.Event) as they
// happen; LogEvents(os.Stderr) prints them.
func TrainText(ctx context.Context, text io.Reader, spec Spec, opts train.Options, dir string, progress func(train.Event)) (*Model, train.Summary, error) {
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
	defer run.Close()
	run.Events = progress
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

// MaxNew is how many tokens a model with learned positions can generate after a prompt
// of promptTokens (0 when the prompt fills them), or -1 when nothing bounds it. The last
// new token is sampled, never fed back, so it needs no position of its own.
func (m *Model) MaxNew(promptTokens int) int {
	pe := m.LM.Config.MaxPositionEmbeddings
	if pe == 0 {
		return -1
	}
	return max(pe-promptTokens+1, 0)
}

// fits refuses, before any work, a generation that would run past the model's learned
// positions.
func (m *Model) fits(promptTokens, n int) error {
	if most := m.MaxNew(promptTokens); most >= 0 && n > most {
		return fmt.Errorf("the model has learned positions for %d tokens: a prompt of %d tokens leaves room for %d new tokens, not %d",
			m.LM.Config.MaxPositionEmbeddings, promptTokens, most, n)
	}
	return nil
}

// LoadTokenizer reads the tokenizer in dir: vocab.json and merges.txt as `hungry
// tokenizer train` writes them, or GPT-2's encoder.json and vocab.bpe.
func LoadTokenizer(dir string) (tokenizer.Tokenizer, error) {
	has := func(name string) bool {
		st, err := os.Stat(filepath.Join(dir, name))
		return err == nil && st.Mode().IsRegular()
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("tokenizer folder %s does not exist", dir)
	}
	switch {
	case has(tokenizer.BPEVocabFile) && has(tokenizer.BPEMergesFile):
		return tokenizer.LoadTokenizer(dir, tokenizer.KindBPE)
	case has(tokenizer.GPT2VocabFile) && has(tokenizer.GPT2MergesFile):
		return tokenizer.LoadTokenizer(dir, tokenizer.KindGPT2)
	}
	return nil, fmt.Errorf("%s holds no tokenizer: want %s and %s (hungry tokenizer train) or GPT-2's %s and %s",
		dir, tokenizer.BPEVocabFile, tokenizer.BPEMergesFile, tokenizer.GPT2VocabFile, tokenizer.GPT2MergesFile)
}
