package model

import (
	"fmt"
	"math"

	"github.com/hungry-ssm/hungry/autograd"
	"github.com/hungry-ssm/hungry/layers"
	"github.com/hungry-ssm/hungry/tensor"
)

// State carries a batch of sequences through the model one token at a time: per layer
// the shift SSM's taps (d × N real), the diagonal SSM's modes (H × N/2 complex for each of
// the dh² entries of a head) or attention's key/value cache. Everything but the state
// updates runs through the ordinary ops on the model's device; the states themselves are
// kept on the host in float64, because the diagonal SSM's slowest modes (|dA| ≈ 1 − 5e-4)
// sum a few thousand steps, enough for float32 rounding of dA and of the state to reach
// 1e-4.
//
// A State holds copies of the discretised SSM parameters made when it was created: make
// a new one after the parameters change.
type State struct {
	m      *LM
	batch  int
	pos    int
	layers []any // *h3State or *attnState, one per block
}

type h3State struct {
	mixer       *layers.H3
	d, dh, n, m int
	shiftB      []float64    // (d, n)
	shiftC      []float64    // (d, n)
	shiftD      []float64    // (d)
	dA, w       []complex128 // (heads, m)
	skip        []float64    // (heads)
	shift       []float64    // (batch, d, n)
	diag        []complex128 // (batch, heads, dh, dh, m)
}

type attnState struct {
	mixer *layers.Attention
	// k and v hold, per (batch, head), the keys and values of every position so far.
	k, v [][]float32
}

// NewState returns the state of batch empty sequences.
func (m *LM) NewState(batch int) (*State, error) {
	if batch <= 0 {
		return nil, fmt.Errorf("model: batch must be positive, got %d", batch)
	}
	s := &State{m: m, batch: batch}
	for _, b := range m.Blocks {
		switch mx := b.Mixer.(type) {
		case *layers.H3:
			s.layers = append(s.layers, newH3State(mx, batch))
		case *layers.Attention:
			s.layers = append(s.layers, &attnState{mixer: mx, k: make([][]float32, batch*mx.Heads), v: make([][]float32, batch*mx.Heads)})
		default:
			return nil, fmt.Errorf("model: no recurrent form for mixer %T", b.Mixer)
		}
	}
	return s, nil
}

func host64(v *autograd.Var) []float64 {
	d := v.Value.Host()
	out := make([]float64, len(d))
	for i, x := range d {
		out[i] = float64(x)
	}
	return out
}

func newH3State(mx *layers.H3, batch int) *h3State {
	st := &h3State{mixer: mx, d: mx.Dim, dh: mx.HeadDim, n: mx.Shift.B.Shape()[1], m: mx.Diag.InvAReal.Shape()[1]}
	st.shiftB, st.shiftC, st.shiftD = host64(mx.Shift.B), host64(mx.Shift.C), host64(mx.Shift.D)
	dg := mx.Diag
	st.dA, st.w = tensor.DiagSSMDiscrete(dg.LogDt.Value, dg.InvAReal.Value, dg.AImag.Value, dg.B.Value, dg.C.Value, dg.Disc)
	st.skip = host64(dg.D)
	heads := st.d / st.dh
	st.shift = make([]float64, batch*st.d*st.n)
	st.diag = make([]complex128, batch*heads*st.dh*st.dh*st.m)
	return st
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
		keep := func(x *autograd.Var, _ float32) *autograd.Var { return x }
		logits = m.run(g, m.embed(g, ids, s.batch, seqLen, 0), keep, func(i int, x *autograd.Var) *autograd.Var {
			switch st := s.layers[i].(type) {
			case *h3State:
				out, tr := st.mixer.ForwardTrace(g, x)
				st.seed(s.batch, seqLen, tr)
				return out
			case *attnState:
				out, qkv := st.mixer.ForwardTrace(g, x)
				st.append(s.batch, seqLen, qkv.Value.Host())
				return out
			}
			panic("unreachable")
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
		keep := func(x *autograd.Var, _ float32) *autograd.Var { return x }
		logits = m.run(g, m.embed(g, tokens, s.batch, 1, s.pos), keep, func(i int, x *autograd.Var) *autograd.Var {
			switch st := s.layers[i].(type) {
			case *h3State:
				return st.step(g, x, s.batch)
			case *attnState:
				return st.step(g, x, s.batch)
			}
			panic("unreachable")
		})
	})
	if err != nil {
		return nil, err
	}
	s.pos++
	return logits.Value.Reshape(s.batch, m.Config.VocabSize), nil
}

// seed sets the states to what stepping the traced sequences would have left:
// shift taps s[n] = Σ_{j≤n} B[n−j]·k[L−1−j], and diagonal modes x = Σ_t dA^(L−1−t)·z[t]
// by running the recurrence over z = k̃ ⊗ v.
func (st *h3State) seed(batch, seqLen int, tr layers.H3Trace) {
	k, kt, v := tr.K.Value.Host(), tr.KShifted.Value.Host(), tr.V.Value.Host()
	d, n := st.d, st.n
	for b := 0; b < batch; b++ {
		for c := 0; c < d; c++ {
			s := st.shift[(b*d+c)*n : (b*d+c+1)*n]
			for i := range s {
				acc := 0.0
				for j := 0; j <= i && j < seqLen; j++ {
					acc += st.shiftB[c*n+i-j] * float64(k[(b*seqLen+seqLen-1-j)*d+c])
				}
				s[i] = acc
			}
		}
	}
	dh, heads := st.dh, d/st.dh
	for b := 0; b < batch; b++ {
		for h := 0; h < heads; h++ {
			dA := st.dA[h*st.m : (h+1)*st.m]
			for i := 0; i < dh; i++ {
				for j := 0; j < dh; j++ {
					x := st.diag[((((b*heads+h)*dh+i)*dh)+j)*st.m:][:st.m]
					for t := 0; t < seqLen; t++ {
						row := (b*seqLen + t) * d
						z := complex(float64(kt[row+h*dh+i])*float64(v[row+h*dh+j]), 0)
						for mm := range x {
							x[mm] = dA[mm]*x[mm] + z
						}
					}
				}
			}
		}
	}
}

// step advances one position: the shift SSM on the key, the outer product with the value,
// the diagonal SSM, and the contraction with the query.
func (st *h3State) step(g *autograd.Graph, x *autograd.Var, batch int) *autograd.Var {
	mx := st.mixer
	q := mx.QProj.Forward(g, x).Value.Host()
	k := mx.KProj.Forward(g, x).Value.Host()
	v := mx.VProj.Forward(g, x).Value.Host()
	d, n, dh := st.d, st.n, st.dh
	heads := d / dh
	kt := make([]float64, d)
	o := make([]float32, batch*d)
	for b := 0; b < batch; b++ {
		for c := 0; c < d; c++ {
			s := st.shift[(b*d+c)*n : (b*d+c+1)*n]
			copy(s[1:], s[:n-1])
			s[0] = 0
			u := float64(k[b*d+c])
			y := 0.0
			for i := range s {
				s[i] += st.shiftB[c*n+i] * u
				y += st.shiftC[c*n+i] * s[i]
			}
			kt[c] = y + st.shiftD[c]*u
		}
		for h := 0; h < heads; h++ {
			dA, w := st.dA[h*st.m:(h+1)*st.m], st.w[h*st.m:(h+1)*st.m]
			for i := 0; i < dh; i++ {
				qi := float64(q[b*d+h*dh+i])
				for j := 0; j < dh; j++ {
					zr := kt[h*dh+i] * float64(v[b*d+h*dh+j])
					z := complex(zr, 0)
					xs := st.diag[((((b*heads+h)*dh+i)*dh)+j)*st.m:][:st.m]
					acc := 0.0
					for mm := range xs {
						xs[mm] = dA[mm]*xs[mm] + z
						acc += real(w[mm] * xs[mm])
					}
					o[b*d+h*dh+j] += float32(qi * (2*acc + st.skip[h]*zr))
				}
			}
		}
	}
	ov := autograd.Constant(x.Device().FromHost(o, batch, 1, d))
	return mx.OutputLinear.Forward(g, ov)
}

// append adds the keys and values of qkv (batch, L, 3d) to the cache.
func (st *attnState) append(batch, seqLen int, qkv []float32) {
	d, heads := st.mixer.Dim, st.mixer.Heads
	hd := d / heads
	for b := 0; b < batch; b++ {
		for t := 0; t < seqLen; t++ {
			row := qkv[(b*seqLen+t)*3*d:]
			for h := 0; h < heads; h++ {
				st.k[b*heads+h] = append(st.k[b*heads+h], row[d+h*hd:d+(h+1)*hd]...)
				st.v[b*heads+h] = append(st.v[b*heads+h], row[2*d+h*hd:2*d+(h+1)*hd]...)
			}
		}
	}
}

// step attends from one new position to every cached one, itself included.
func (st *attnState) step(g *autograd.Graph, x *autograd.Var, batch int) *autograd.Var {
	a := st.mixer
	qkv := a.Wqkv.Forward(g, x).Value.Host()
	st.append(batch, 1, qkv)
	d, heads := a.Dim, a.Heads
	hd := d / heads
	scale := 1 / math.Sqrt(float64(hd))
	ctx := make([]float32, batch*d)
	for b := 0; b < batch; b++ {
		for h := 0; h < heads; h++ {
			q := qkv[b*3*d+h*hd : b*3*d+(h+1)*hd]
			keys, vals := st.k[b*heads+h], st.v[b*heads+h]
			n := len(keys) / hd
			scores := make([]float64, n)
			mx := math.Inf(-1)
			for t := range scores {
				s := 0.0
				for e := 0; e < hd; e++ {
					s += float64(q[e]) * float64(keys[t*hd+e])
				}
				scores[t] = s * scale
				mx = math.Max(mx, scores[t])
			}
			sum := 0.0
			for t := range scores {
				scores[t] = math.Exp(scores[t] - mx)
				sum += scores[t]
			}
			for e := 0; e < hd; e++ {
				acc := 0.0
				for t := range scores {
					acc += scores[t] * float64(vals[t*hd+e])
				}
				ctx[b*d+h*hd+e] = float32(acc / sum)
			}
		}
	}
	return a.OutProj.Forward(g, autograd.Constant(x.Device().FromHost(ctx, batch, 1, d)))
}
