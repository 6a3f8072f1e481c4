package model

import (
	"errors"
	"fmt"
	"math"

	"github.com/hungry-ssm/hungry/autograd"
	"github.com/hungry-ssm/hungry/layers"
	"github.com/hungry-ssm/hungry/tensor"
)

// SetChunk sets the state-passing chunk length of every H3 mixer (layers.H3.Chunk); 0
// restores the device's choice. Sequences longer than a chunk are convolved chunk by
// chunk, with the same result; ScoreNLL and PrefillLast feed the model a chunk at a time.
func (m *LM) SetChunk(n int) {
	for _, b := range m.Blocks {
		if h, ok := b.Mixer.(*layers.H3); ok {
			h.Chunk = n
		}
	}
}

// ChunkLen is the number of positions ScoreNLL and PrefillLast feed at once: the first
// H3 mixer's chunk, or the device's choice in a model without one.
func (m *LM) ChunkLen() int {
	for _, b := range m.Blocks {
		if h, ok := b.Mixer.(*layers.H3); ok {
			return h.ChunkLen()
		}
	}
	return m.Device.DiagSSMChunk()
}

// chunkStates returns a chunked state per block, or nil when a mixer has none (attention,
// and the S4D and shift ablations): such a model is fed whole.
func (m *LM) chunkStates(batch int) ([]*layers.ChunkState, error) {
	var out []*layers.ChunkState
	for _, b := range m.Blocks {
		h, ok := b.Mixer.(*layers.H3)
		if !ok {
			return nil, nil
		}
		s, err := h.NewChunkState(batch)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// feed runs ids[t0:t0+l] of one sequence through the model with the blocks' chunked
// states and returns the logits (1, l, vocab).
func (m *LM) feed(states []*layers.ChunkState, ids []int32, t0, l int) (*tensor.Tensor, error) {
	var logits *autograd.Var
	err := tensor.Catch(func() {
		g := autograd.NoGrad()
		logits = m.run(g, m.embed(g, ids[t0:t0+l], 1, l, t0), keep, func(i int, x *autograd.Var) *autograd.Var {
			return states[i].Forward(x)
		})
	})
	if err != nil {
		return nil, err
	}
	return logits.Value, nil
}

// nll is −log softmax(row)[target], in float64.
func nll(row []float32, target int32) float64 {
	mx := row[0]
	for _, x := range row {
		mx = max(mx, x)
	}
	sum := 0.0
	for _, x := range row {
		sum += math.Exp(float64(x - mx))
	}
	return math.Log(sum) + float64(mx) - float64(row[target])
}

// ScoreNLL returns the summed negative log-likelihood, in nats, of predicting ids[t+1]
// from ids[0..t] for every t from scoreFrom to len(ids)−2, and how many predictions that
// is. A pure H3 model reads the sequence a chunk (ChunkLen) at a time, each block's state
// carried to the next chunk, so that its memory does not grow with len(ids): only one
// chunk's activations and logits are alive at once. Models with attention or the
// ablation mixers run one forward pass over the whole sequence, their memory growing with
// its length (quadratically in attention's scores).
func (m *LM) ScoreNLL(ids []int32, scoreFrom int) (sum float64, count int, err error) {
	n := len(ids) - 1
	switch {
	case n < 1:
		return 0, 0, fmt.Errorf("model: %d tokens to score; at least 2 are needed", len(ids))
	case scoreFrom < 0 || scoreFrom >= n:
		return 0, 0, fmt.Errorf("model: scoring from position %d of %d predictions", scoreFrom, n)
	}
	if err := m.CheckInput(ids, 1, len(ids)); err != nil {
		return 0, 0, err
	}
	v := m.Config.VocabSize
	add := func(logits []float32, t0, l int) {
		for t := max(scoreFrom-t0, 0); t < l; t++ {
			sum += nll(logits[t*v:(t+1)*v], ids[t0+t+1])
			count++
		}
	}
	states, err := m.chunkStates(1)
	if err != nil {
		return 0, 0, err
	}
	if states == nil {
		logits, err := m.Logits(ids[:n], 1, n)
		if err != nil {
			return 0, 0, err
		}
		add(logits.Host(), 0, n)
		return sum, count, nil
	}
	chunk := m.ChunkLen()
	for t0 := 0; t0 < n; t0 += chunk {
		l := min(chunk, n-t0)
		logits, err := m.feed(states, ids, t0, l)
		if err != nil {
			return 0, 0, err
		}
		add(logits.Host(), t0, l)
	}
	return sum, count, nil
}

// PrefillLast is Prefill for one sequence of any length that returns only the logits
// (1, vocab) after its last token. A pure H3 model reads the prompt a chunk at a time, its
// memory independent of the prompt's length, and hands each block's carried state to the
// recurrent one; other models are prefilled whole.
func (s *State) PrefillLast(ids []int32) (*tensor.Tensor, error) {
	m := s.m
	if s.batch != 1 {
		return nil, errors.New("model: PrefillLast takes one sequence")
	}
	if s.pos != 0 {
		return nil, fmt.Errorf("model: prefill needs a fresh state, this one is at position %d", s.pos)
	}
	if err := m.CheckInput(ids, 1, len(ids)); err != nil {
		return nil, err
	}
	v := m.Config.VocabSize
	states, err := m.chunkStates(1)
	if err != nil {
		return nil, err
	}
	if states == nil {
		logits, err := s.Prefill(ids, len(ids))
		if err != nil {
			return nil, err
		}
		return logits.Reshape(len(ids), v).Slice(len(ids)-1, len(ids)), nil
	}
	chunk := m.ChunkLen()
	var last *tensor.Tensor
	for t0 := 0; t0 < len(ids); t0 += chunk {
		l := min(chunk, len(ids)-t0)
		logits, err := m.feed(states, ids, t0, l)
		if err != nil {
			return nil, err
		}
		last = logits.Reshape(l, v).Slice(l-1, l)
	}
	for i, cs := range states {
		if err := cs.Seed(s.mixers[i]); err != nil {
			return nil, fmt.Errorf("model: layer %d: %w", i, err)
		}
	}
	s.pos = len(ids)
	return last, nil
}
