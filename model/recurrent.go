package model

import (
	"fmt"

	"github.com/hungry-ssm/hungry/autograd"
	"github.com/hungry-ssm/hungry/layers"
	"github.com/hungry-ssm/hungry/tensor"
)

// State carries a batch of sequences through the model one token at a time. Each mixer
// keeps its own recurrent state (layers.Recurrent) on the model's device: H3's SSM
// states, stepped by the device (tensor.SSMKernels.H3Step), and attention's key/value
// cache. A step therefore moves only the token ids to the device; the logits it returns
// stay there until the caller reads them.
//
// A State holds copies of the discretised SSM parameters made when it was created: make
// a new one after the parameters change.
type State struct {
	m      *LM
	batch  int
	pos    int
	mixers []layers.MixerState // one per block
}

// NewState returns the state of batch empty sequences.
func (m *LM) NewState(batch int) (*State, error) {
	if batch <= 0 {
		return nil, fmt.Errorf("model: batch must be positive, got %d", batch)
	}
	s := &State{m: m, batch: batch}
	for i, b := range m.Blocks {
		r, ok := b.Mixer.(layers.Recurrent)
		if !ok {
			return nil, fmt.Errorf("model: no recurrent form for mixer %T", b.Mixer)
		}
		ms, err := r.NewState(batch)
		if err != nil {
			return nil, fmt.Errorf("model: layer %d: %w", i, err)
		}
		s.mixers = append(s.mixers, ms)
	}
	return s, nil
}

// Pos is the number of tokens each sequence has consumed.
func (s *State) Pos() int { return s.pos }

// Prefill runs ids (batch × seqLen, batch-major) through the convolutional form and
// leaves the state as if they had been stepped one by one. It returns their logits
// (batch, seqLen, vocab). The state must be fresh.
func (s *State) Prefill(ids []int32, seqLen int) (*tensor.Tensor, error) {
	if s.pos != 0 {
		return nil, fmt.Errorf("model: prefill needs a fresh state, this one is at position %d", s.pos)
	}
	m := s.m
	if err := m.CheckInput(ids, s.batch, seqLen); err != nil {
		return nil, err
	}
	var logits *autograd.Var
	err := tensor.Catch(func() {
		g := autograd.NoGrad()
		logits = m.run(g, m.embed(g, ids, s.batch, seqLen, 0), keep, func(i int, x *autograd.Var) *autograd.Var {
			return s.mixers[i].Prefill(g, x)
		})
	})
	if err != nil {
		return nil, err
	}
	s.pos = seqLen
	return logits.Value, nil
}

// Step feeds one token per sequence and returns the logits (batch, vocab) that predict the
// next one.
func (s *State) Step(tokens []int32) (*tensor.Tensor, error) {
	m := s.m
	if err := m.CheckInput(tokens, s.batch, 1); err != nil {
		return nil, err
	}
	if m.PosEmb != nil && s.pos >= m.Config.MaxPositionEmbeddings {
		return nil, fmt.Errorf("model: position %d exceeds max_position_embeddings %d", s.pos, m.Config.MaxPositionEmbeddings)
	}
	var logits *autograd.Var
	err := tensor.Catch(func() {
		g := autograd.NoGrad()
		logits = m.run(g, s.embedStep(g, tokens), keep, func(i int, x *autograd.Var) *autograd.Var {
			return s.mixers[i].Step(g, x)
		})
	})
	if err != nil {
		return nil, err
	}
	s.pos++
	return logits.Value.Reshape(s.batch, m.Config.VocabSize), nil
}

// embedStep is embed for one position: the position embedding is the table's row at
// s.pos, added as a view, so that only the token ids go to the device.
func (s *State) embedStep(g *autograd.Graph, tokens []int32) *autograd.Var {
	m := s.m
	h := m.WordEmb.Forward(g, tokens, s.batch, 1)
	if m.PosEmb != nil {
		row := m.PosEmb.Weight.Value.Slice(s.pos, s.pos+1)
		h = autograd.Add(g, h, autograd.Constant(row.Reshape(row.Numel())))
	}
	return h
}

// keep is run's dropout in inference: none.
func keep(x *autograd.Var, _ float32) *autograd.Var { return x }
