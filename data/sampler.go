package data

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
)

// IgnoreIndex marks a target that the loss must skip (PyTorch's default
// ignore_index).
const IgnoreIndex = -100

// Batch holds Rows windows of Context tokens, row-major: row r of Inputs is
// Inputs[r*Context:(r+1)*Context], and Targets[i] is the token that follows
// Inputs[i], or IgnoreIndex where it is not scored.
type Batch struct {
	Inputs  []int32
	Targets []int32
	Rows    int
	Context int
}

// samplerStream is the second PCG seed word; any fixed constant works, this
// one keeps sampler streams apart from other PCGs seeded with (seed, 0).
const samplerStream = 0x5a3c_9e1d_2b47_f806

// Sampler draws training batches of windows starting at uniformly random
// positions of a token stream. The sequence of batches depends only on the
// stream, the batch shape and the seed, and State/SetState (or
// MarshalBinary/UnmarshalBinary) capture it exactly, so that a resumed run
// draws the same batches as an uninterrupted one. A Sampler is not safe for
// concurrent use.
type Sampler struct {
	tokens  []int32
	rows    int
	context int
	seed    uint64
	pcg     *rand.PCG
	rng     *rand.Rand
	batches uint64
}

// NewSampler returns a sampler of rows×context batches over tokens, which
// must hold at least context+1 tokens. The sampler keeps tokens without
// copying; do not modify them while it is in use.
func NewSampler(tokens []int32, rows, context int, seed uint64) (*Sampler, error) {
	if rows < 1 || context < 1 {
		return nil, fmt.Errorf("data: sampler: batch %d×%d, want positive rows and context", rows, context)
	}
	if len(tokens) < context+1 {
		return nil, fmt.Errorf("data: sampler: %d tokens, need at least context+1 = %d", len(tokens), context+1)
	}
	pcg := rand.NewPCG(seed, samplerStream)
	return &Sampler{tokens: tokens, rows: rows, context: context, seed: seed, pcg: pcg, rng: rand.New(pcg)}, nil
}

// Next draws the next batch into fresh slices.
func (s *Sampler) Next() Batch {
	b := Batch{
		Inputs:  make([]int32, s.rows*s.context),
		Targets: make([]int32, s.rows*s.context),
	}
	s.NextInto(&b)
	return b
}

// NextInto draws the next batch into b, reusing its slices when they are
// large enough.
func (s *Sampler) NextInto(b *Batch) {
	n := s.rows * s.context
	if cap(b.Inputs) < n {
		b.Inputs = make([]int32, n)
	}
	if cap(b.Targets) < n {
		b.Targets = make([]int32, n)
	}
	b.Inputs, b.Targets = b.Inputs[:n], b.Targets[:n]
	b.Rows, b.Context = s.rows, s.context
	starts := len(s.tokens) - s.context // windows of context+1 tokens fit at [0, starts)
	for r := 0; r < s.rows; r++ {
		start := s.rng.IntN(starts)
		copy(b.Inputs[r*s.context:(r+1)*s.context], s.tokens[start:start+s.context])
		copy(b.Targets[r*s.context:(r+1)*s.context], s.tokens[start+1:start+s.context+1])
	}
	s.batches++
}

// Batches is the number of batches drawn so far.
func (s *Sampler) Batches() uint64 { return s.batches }

// SamplerState is everything needed to resume a Sampler: the generator
// state, the batch counter, and the shape it was drawn with (checked on
// restore so that a state is not silently applied to different data).
type SamplerState struct {
	Seed    uint64
	Batches uint64
	PCG     []byte // rand.PCG's MarshalBinary encoding
	Rows    int
	Context int
	Tokens  int // length of the token stream
}

// State returns the sampler's current state.
func (s *Sampler) State() SamplerState {
	pcg, _ := s.pcg.MarshalBinary() // never fails
	return SamplerState{Seed: s.seed, Batches: s.batches, PCG: pcg, Rows: s.rows, Context: s.context, Tokens: len(s.tokens)}
}

// SetState restores a state taken from a sampler with the same token count
// and batch shape.
func (s *Sampler) SetState(st SamplerState) error {
	if st.Rows != s.rows || st.Context != s.context || st.Tokens != len(s.tokens) {
		return fmt.Errorf("data: sampler state is for %d×%d batches over %d tokens, this sampler draws %d×%d over %d",
			st.Rows, st.Context, st.Tokens, s.rows, s.context, len(s.tokens))
	}
	var pcg rand.PCG
	if err := pcg.UnmarshalBinary(st.PCG); err != nil {
		return fmt.Errorf("data: sampler state: %v", err)
	}
	*s.pcg = pcg
	s.seed, s.batches = st.Seed, st.Batches
	return nil
}

const samplerMagic = "hsmp1"

// MarshalBinary encodes State() in a fixed little-endian layout.
func (s *Sampler) MarshalBinary() ([]byte, error) {
	st := s.State()
	out := []byte(samplerMagic)
	out = binary.LittleEndian.AppendUint64(out, st.Seed)
	out = binary.LittleEndian.AppendUint64(out, st.Batches)
	out = binary.LittleEndian.AppendUint64(out, uint64(st.Rows))
	out = binary.LittleEndian.AppendUint64(out, uint64(st.Context))
	out = binary.LittleEndian.AppendUint64(out, uint64(st.Tokens))
	out = append(out, byte(len(st.PCG)))
	return append(out, st.PCG...), nil
}

// UnmarshalBinary restores a state written by MarshalBinary; see SetState.
func (s *Sampler) UnmarshalBinary(b []byte) error {
	const head = len(samplerMagic) + 5*8 + 1
	if len(b) < head || string(b[:len(samplerMagic)]) != samplerMagic {
		return errors.New("data: sampler state: not a sampler state")
	}
	u := func(i int) uint64 { return binary.LittleEndian.Uint64(b[len(samplerMagic)+8*i:]) }
	if int(b[head-1]) != len(b)-head {
		return errors.New("data: sampler state: truncated or overlong")
	}
	const maxInt = uint64(^uint(0) >> 1)
	if u(2) > maxInt || u(3) > maxInt || u(4) > maxInt {
		return errors.New("data: sampler state: shape out of range")
	}
	return s.SetState(SamplerState{
		Seed: u(0), Batches: u(1), Rows: int(u(2)), Context: int(u(3)), Tokens: int(u(4)),
		PCG: append([]byte(nil), b[head:]...),
	})
}

// Validation walks a token stream in order with non-overlapping windows,
// scoring every token after the first exactly once: perplexity is
// exp(sum of losses / Targets()) and bits per byte is
// sum of losses / ln 2 / (validation bytes, Corpus.ValidBytes). The first
// token has no context and is not scored, though its bytes count.
//
// The stream's last window would be short; instead it is the final context
// tokens of the stream, with the targets that earlier windows already scored
// set to IgnoreIndex, so every batch has the same context length.
type Validation struct {
	tokens  []int32
	rows    int
	context int
	windows int
}

// NewValidation prepares batches of up to rows windows of context tokens;
// tokens must hold at least context+1 tokens.
func NewValidation(tokens []int32, rows, context int) (*Validation, error) {
	if rows < 1 || context < 1 {
		return nil, fmt.Errorf("data: validation: batch %d×%d, want positive rows and context", rows, context)
	}
	if len(tokens) < context+1 {
		return nil, fmt.Errorf("data: validation: %d tokens, need at least context+1 = %d", len(tokens), context+1)
	}
	targets := len(tokens) - 1
	return &Validation{tokens: tokens, rows: rows, context: context, windows: (targets + context - 1) / context}, nil
}

// NumBatches is the number of batches; the last may have fewer rows.
func (v *Validation) NumBatches() int { return (v.windows + v.rows - 1) / v.rows }

// Windows is the number of windows in all batches.
func (v *Validation) Windows() int { return v.windows }

// Targets is the number of scored targets in all batches: one per token
// after the first.
func (v *Validation) Targets() int { return len(v.tokens) - 1 }

// Batch returns batch i (0 ≤ i < NumBatches()).
func (v *Validation) Batch(i int) (Batch, error) {
	if i < 0 || i >= v.NumBatches() {
		return Batch{}, fmt.Errorf("data: validation batch %d outside [0, %d)", i, v.NumBatches())
	}
	first := i * v.rows
	rows := min(v.rows, v.windows-first)
	T := v.context
	b := Batch{Inputs: make([]int32, rows*T), Targets: make([]int32, rows*T), Rows: rows, Context: T}
	for r := 0; r < rows; r++ {
		w := first + r
		start := w * T
		in, tg := b.Inputs[r*T:(r+1)*T], b.Targets[r*T:(r+1)*T]
		if start+T+1 <= len(v.tokens) {
			copy(in, v.tokens[start:start+T])
			copy(tg, v.tokens[start+1:start+T+1])
			continue
		}
		// Final short window: shift it back to end at the stream's end and
		// mask the targets up to (and including) index start, scored before.
		shifted := len(v.tokens) - 1 - T
		copy(in, v.tokens[shifted:shifted+T])
		copy(tg, v.tokens[shifted+1:shifted+T+1])
		for j := 0; j < start-shifted; j++ {
			tg[j] = IgnoreIndex
		}
	}
	return b, nil
}
