package model

import (
	"fmt"
	"math"

	"github.com/hungry-ssm/hungry/autograd"
	"github.com/hungry-ssm/hungry/layers"
	"github.com/hungry-ssm/hungry/tensor"
)

// initStd is the GPT-2 initialisation the official _init_weights applies to linear and
// embedding weights.
const initStd = 0.02

// Mixer is the sequence-mixing half of a block: H3 or attention.
type Mixer interface {
	Forward(g *autograd.Graph, x *autograd.Var) *autograd.Var
	Params() []*autograd.Var
}

// trainingMixer is a Mixer with randomness of its own in training (attention's dropout
// on its weights); Forward is its inference pass.
type trainingMixer interface {
	ForwardTrain(g *autograd.Graph, x *autograd.Var, rng *tensor.RNG) *autograd.Var
}

// Block is one pre-norm layer: norm1 → mixer, then norm2 → MLP, with the residual stream
// carried beside the hidden state as flash-attn's Block(prenorm=True) does.
type Block struct {
	Norm1, Norm2 *layers.LayerNorm
	Mixer        Mixer
	MLP          *layers.MLP
}

// Params returns the block's parameters.
func (b *Block) Params() []*autograd.Var {
	ps := append(b.Norm1.Params(), b.Mixer.Params()...)
	ps = append(ps, b.Norm2.Params()...)
	return append(ps, b.MLP.Params()...)
}

// LM is the H3 language model: embeddings, n_layer blocks, a final LayerNorm and a head
// that is the transposed word embedding when tied.
type LM struct {
	Config  Config
	Device  tensor.Device
	WordEmb *layers.Embedding
	PosEmb  *layers.Embedding // nil without position embeddings
	Blocks  []*Block
	LnF     *layers.LayerNorm
	LMHead  *layers.Linear // nil when tied to WordEmb
	embedP  float32
	residP  float32
}

// New builds a model with freshly initialised parameters, deterministic given seed.
func New(cfg Config, dev tensor.Device, seed uint64) (*LM, error) {
	return build(cfg, dev, tensor.NewRNG(seed))
}

// build makes the model; a nil rng skips the random draws of parameters about to be loaded.
func build(cfg Config, dev tensor.Device, rng *tensor.RNG) (*LM, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	disc, _ := tensor.ParseDiscretization(cfg.SSMDiscretization)
	m := &LM{
		Config: cfg,
		Device: dev,
		embedP: float32(cfg.EmbedDropout),
		residP: float32(cfg.ResidDropout),
	}
	d := cfg.DModel
	m.WordEmb = layers.NewEmbedding(dev, rng, "backbone.embeddings.word_embeddings", cfg.VocabSize, d, initStd)
	if cfg.MaxPositionEmbeddings > 0 {
		m.PosEmb = layers.NewEmbedding(dev, rng, "backbone.embeddings.position_embeddings", cfg.MaxPositionEmbeddings, d, initStd)
	}
	// Residual outputs (attention out_proj and fc2) shrink with depth, GPT-2 style.
	outStd := float32(initStd / math.Sqrt(2*float64(cfg.NLayer)))
	eps := float32(cfg.LayerNormEpsilon)
	for i := 0; i < cfg.NLayer; i++ {
		p := fmt.Sprintf("backbone.layers.%d", i)
		b := &Block{Norm1: layers.NewLayerNorm(dev, p+".norm1", d, eps)}
		if cfg.IsAttention(i) {
			a, err := layers.NewAttention(dev, rng, p+".mixer", d, cfg.AttnNHeads, initStd, outStd)
			if err != nil {
				return nil, err
			}
			a.Dropout = float32(cfg.AttnDropout)
			a.RotaryDim = cfg.RotaryEmbDim
			b.Mixer = a
		} else {
			mx, err := newSSMMixer(cfg, dev, rng, p+".mixer", disc)
			if err != nil {
				return nil, err
			}
			b.Mixer = mx
		}
		b.Norm2 = layers.NewLayerNorm(dev, p+".norm2", d, eps)
		b.MLP = layers.NewMLP(dev, rng, p+".mlp", d, cfg.DInner, initStd, outStd)
		m.Blocks = append(m.Blocks, b)
	}
	m.LnF = layers.NewLayerNorm(dev, "backbone.ln_f", d, eps)
	if !cfg.TieWordEmbeddings {
		m.LMHead = layers.NewLinear(dev, rng, "lm_head", d, cfg.VocabSize, false, initStd)
	}
	return m, nil
}

// newSSMMixer builds the mixer of a non-attention layer as cfg.Mixer chooses.
func newSSMMixer(cfg Config, dev tensor.Device, rng *tensor.RNG, prefix string, disc tensor.Discretization) (Mixer, error) {
	switch cfg.Mixer {
	case MixerS4D:
		return layers.NewS4DMixer(dev, rng, prefix, cfg.DModel, cfg.DState, disc, initStd)
	case MixerShift:
		return layers.NewShiftMixer(dev, rng, prefix, cfg.DModel, cfg.DState, initStd)
	}
	return layers.NewH3(dev, rng, prefix, layers.H3Config{Dim: cfg.DModel, DState: cfg.DState, HeadDim: cfg.HeadDim, Disc: disc}, initStd)
}

// Params returns every trainable parameter, named with its checkpoint key.
func (m *LM) Params() []*autograd.Var {
	ps := m.WordEmb.Params()
	if m.PosEmb != nil {
		ps = append(ps, m.PosEmb.Params()...)
	}
	for _, b := range m.Blocks {
		ps = append(ps, b.Params()...)
	}
	ps = append(ps, m.LnF.Params()...)
	if m.LMHead != nil {
		ps = append(ps, m.LMHead.Params()...)
	}
	return ps
}

// CheckInput validates token ids laid out batch-major for a forward pass.
func (m *LM) CheckInput(ids []int32, batch, seqLen int) error {
	switch {
	case batch <= 0 || seqLen <= 0:
		return fmt.Errorf("model: batch and sequence length must be positive, got %d and %d", batch, seqLen)
	case len(ids) != batch*seqLen:
		return fmt.Errorf("model: %d token ids for batch %d × length %d", len(ids), batch, seqLen)
	case m.PosEmb != nil && seqLen > m.Config.MaxPositionEmbeddings:
		return fmt.Errorf("model: sequence length %d exceeds max_position_embeddings %d", seqLen, m.Config.MaxPositionEmbeddings)
	}
	for i, id := range ids {
		if id < 0 || int(id) >= m.Config.VocabSize {
			return fmt.Errorf("model: token id %d at position %d is outside the vocabulary [0, %d)", id, i, m.Config.VocabSize)
		}
	}
	return nil
}

// Forward returns the logits (batch, seqLen, vocab) for ids laid out batch-major. With
// train set, dropout is active and draws from rng. Bad input panics with a
// *tensor.ShapeError (CheckInput gives the same verdict as an error); training with
// dropout but no random source is a programming error and panics with a plain message.
func (m *LM) Forward(g *autograd.Graph, ids []int32, batch, seqLen int, train bool, rng *tensor.RNG) *autograd.Var {
	if err := m.CheckInput(ids, batch, seqLen); err != nil {
		panic(&tensor.ShapeError{Op: "LM.Forward", Shapes: [][]int{{batch, seqLen}}, Msg: err.Error()})
	}
	if train && rng == nil && (m.embedP > 0 || m.residP > 0 || m.Config.AttnDropout > 0) {
		panic("model: LM.Forward: training with dropout needs a random source")
	}
	drop := func(x *autograd.Var, p float32) *autograd.Var {
		if !train || p == 0 {
			return x
		}
		return autograd.Dropout(g, x, p, rng)
	}
	// A recorded pass longer than one state-passing chunk recomputes each mixer and MLP in
	// the backward pass (autograd.Recompute) instead of keeping their activations: memory
	// then grows with the context only through the blocks' inputs and outputs. A mixer
	// with randomness of its own (attention's dropout in training) keeps its activations.
	recompute := g.Recording() && seqLen > m.ChunkLen()
	return m.runWith(g, m.embed(g, ids, batch, seqLen, 0), drop, func(i int, x *autograd.Var) *autograd.Var {
		if tm, ok := m.Blocks[i].Mixer.(trainingMixer); ok && train {
			return tm.ForwardTrain(g, x, rng)
		}
		if recompute {
			return autograd.Recompute(g, x, m.Blocks[i].Mixer.Forward)
		}
		return m.Blocks[i].Mixer.Forward(g, x)
	}, recompute)
}

// embed returns the word (and position) embeddings (batch, seqLen, d) of ids whose first
// position is pos0.
func (m *LM) embed(g *autograd.Graph, ids []int32, batch, seqLen, pos0 int) *autograd.Var {
	h := m.WordEmb.Forward(g, ids, batch, seqLen)
	if m.PosEmb != nil {
		pos := make([]int32, batch*seqLen)
		for i := range pos {
			pos[i] = int32(pos0 + i%seqLen)
		}
		h = autograd.Add(g, h, m.PosEmb.Forward(g, pos, batch, seqLen))
	}
	return h
}

// run applies the blocks, the final norm and the head to embeddings h. mix computes block
// i's mixer on its normalised input, so the convolutional and recurrent modes share the
// residual wiring. drop applies dropout (or not) to a residual branch.
func (m *LM) run(g *autograd.Graph, h *autograd.Var, drop func(*autograd.Var, float32) *autograd.Var, mix func(i int, x *autograd.Var) *autograd.Var) *autograd.Var {
	return m.runWith(g, h, drop, mix, false)
}

// runWith is run that, with recompute set, recomputes each block's norm2 and MLP in the
// backward pass instead of keeping their activations.
func (m *LM) runWith(g *autograd.Graph, h *autograd.Var, drop func(*autograd.Var, float32) *autograd.Var, mix func(i int, x *autograd.Var) *autograd.Var, recompute bool) *autograd.Var {
	var residual *autograd.Var
	for i, b := range m.Blocks {
		p := m.residP
		if i == 0 {
			p = m.embedP
		}
		dropped := drop(h, p)
		// Each residual update and the LayerNorm that reads it are one fused op.
		var normed *autograd.Var
		if residual == nil {
			residual, normed = dropped, b.Norm1.Forward(g, dropped)
		} else {
			residual, normed = b.Norm1.AddForward(g, dropped, residual)
		}
		h = mix(i, normed)
		if recompute {
			// The MLP's activations are recomputed in the backward pass: the residual
			// stream is all a chunked long-context step keeps per block.
			residual = autograd.Add(g, drop(h, m.residP), residual)
			h = autograd.Recompute(g, residual, func(g *autograd.Graph, r *autograd.Var) *autograd.Var {
				return b.MLP.Forward(g, b.Norm2.Forward(g, r))
			})
		} else {
			residual, normed = b.Norm2.AddForward(g, drop(h, m.residP), residual)
			h = b.MLP.Forward(g, normed)
		}
	}
	_, h = m.LnF.AddForward(g, drop(h, m.residP), residual)
	if m.LMHead != nil {
		return m.LMHead.Forward(g, h)
	}
	return autograd.MatMul(g, h, m.WordEmb.Weight, false, true)
}

// Logits runs an inference forward pass and returns the logits (batch, seqLen, vocab).
func (m *LM) Logits(ids []int32, batch, seqLen int) (*tensor.Tensor, error) {
	if err := m.CheckInput(ids, batch, seqLen); err != nil {
		return nil, err
	}
	var out *autograd.Var
	err := tensor.Catch(func() { out = m.Forward(autograd.NoGrad(), ids, batch, seqLen, false, nil) })
	if err != nil {
		return nil, err
	}
	return out.Value, nil
}
