package layers

import (
	"fmt"
	"math"

	"github.com/hungry-ssm/hungry/autograd"
	"github.com/hungry-ssm/hungry/tensor"
)

// Recurrent is a mixer with a recurrent form: generation feeds it one position at a time
// at a cost independent of the position (H3 and its ablations), or linear in it
// (attention's key/value cache).
type Recurrent interface {
	// NewState returns the state of batch empty sequences, on the mixer's device. It copies
	// the parameters it needs: make a new state after they change.
	NewState(batch int) (MixerState, error)
}

// MixerState carries a batch of sequences through one mixer. Like Forward, its methods
// panic with a *tensor.ShapeError on input of the wrong shape.
type MixerState interface {
	// Prefill maps x (B, L, d) through the convolutional form, as Forward does, and leaves
	// the state as if its L positions had been stepped one by one.
	Prefill(g *autograd.Graph, x *autograd.Var) *autograd.Var
	// Step maps x (B, 1, d), the next position of each sequence, to the mixer's output
	// and advances the state by that position.
	Step(g *autograd.Graph, x *autograd.Var) *autograd.Var
}

var (
	_ Recurrent = (*H3)(nil)
	_ Recurrent = (*S4DMixer)(nil)
	_ Recurrent = (*ShiftMixer)(nil)
	_ Recurrent = (*Attention)(nil)
)

func host64(v *autograd.Var) []float64 {
	d := v.Value.Host()
	out := make([]float64, len(d))
	for i, x := range d {
		out[i] = float64(x)
	}
	return out
}

func filled64(n int, v float64) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = v
	}
	return out
}

func checkBatch(batch int) error {
	if batch <= 0 {
		return fmt.Errorf("batch must be positive, got %d", batch)
	}
	return nil
}

// discrete returns the diagonal SSM's dA and C' per head and mode.
func (s *DiagSSM) discrete() (dA, w []complex128) {
	return tensor.DiagSSMDiscrete(s.LogDt.Value, s.InvAReal.Value, s.AImag.Value, s.B.Value, s.C.Value, s.Disc)
}

// ssmState is the state of H3 and of its ablations: the device's recurrent H3 state,
// between the mixer's projections and its output map.
type ssmState struct {
	st    tensor.H3State
	batch int
	dim   int
	// qkv projects one position; trace is the mixer's convolutional form with the
	// sequences that seed the state.
	qkv   func(g *autograd.Graph, x *autograd.Var) (q, k, v *autograd.Var)
	trace func(g *autograd.Graph, x *autograd.Var) (*autograd.Var, H3Trace)
	out   *Linear
}

func newSSMState(dev tensor.Device, r *tensor.H3Recurrence, batch int, out *Linear) (*ssmState, error) {
	if err := checkBatch(batch); err != nil {
		return nil, err
	}
	if err := r.Check(); err != nil {
		return nil, err
	}
	var st tensor.H3State
	if err := tensor.Catch(func() { st = dev.NewH3State(r, batch) }); err != nil {
		return nil, err
	}
	return &ssmState{st: st, batch: batch, dim: r.Dim, out: out}, nil
}

func checkStepInput(op string, x *autograd.Var, batch, dim int) {
	if s := x.Shape(); len(s) != 3 || s[0] != batch || s[1] != 1 || s[2] != dim {
		panic(&tensor.ShapeError{Op: op, Shapes: [][]int{s}, Msg: fmt.Sprintf("want (%d, 1, %d)", batch, dim)})
	}
}

// Prefill implements MixerState.
func (s *ssmState) Prefill(g *autograd.Graph, x *autograd.Var) *autograd.Var {
	if sh := x.Shape(); len(sh) != 3 || sh[0] != s.batch {
		panic(&tensor.ShapeError{Op: "H3 prefill", Shapes: [][]int{sh}, Msg: fmt.Sprintf("want (%d, L, %d)", s.batch, s.dim)})
	}
	out, tr := s.trace(g, x)
	x.Device().H3Seed(s.st, tr.K.Value, tr.KShifted.Value, tr.V.Value)
	return out
}

// Step implements MixerState.
func (s *ssmState) Step(g *autograd.Graph, x *autograd.Var) *autograd.Var {
	checkStepInput("H3 step", x, s.batch, s.dim)
	q, k, v := s.qkv(g, x)
	dev := x.Device()
	o := dev.Zeros(s.batch, 1, s.dim)
	dev.H3Step(s.st, o, q.Value, k.Value, v.Value)
	return s.out.Forward(g, autograd.Constant(o))
}

// NewState implements Recurrent. The state is the device's (tensor.SSMKernels.H3Step).
func (m *H3) NewState(batch int) (MixerState, error) {
	dA, w := m.Diag.discrete()
	r := &tensor.H3Recurrence{Dim: m.Dim, HeadDim: m.HeadDim, ShiftB: host64(m.Shift.B), ShiftC: host64(m.Shift.C),
		ShiftD: host64(m.Shift.D), DA: dA, W: w, Skip: host64(m.Diag.D)}
	s, err := newSSMState(m.QProj.Weight.Device(), r, batch, m.OutputLinear)
	if err != nil {
		return nil, fmt.Errorf("h3: %w", err)
	}
	s.qkv = func(g *autograd.Graph, x *autograd.Var) (q, k, v *autograd.Var) {
		return m.QProj.Forward(g, x), m.KProj.Forward(g, x), m.VProj.Forward(g, x)
	}
	s.trace = m.ForwardTrace
	return s, nil
}

// passShift is a shift SSM that passes its input through (B = C = 0, D = 1): the S4D
// ablation's recurrence is H3's with the key fixed at 1 and this shift SSM. It has the
// 2·modes taps H3 would, so that a device step written for H3's sizes covers it too.
func passShift(dim, modes int) (b, c, d []float64) {
	return make([]float64, dim*2*modes), make([]float64, dim*2*modes), filled64(dim, 1)
}

// NewState implements Recurrent with H3's step: the key is fixed at 1 and the shift SSM
// passes it through, so z = v.
func (m *S4DMixer) NewState(batch int) (MixerState, error) {
	dA, w := m.Diag.discrete()
	sb, sc, sd := passShift(m.Dim, len(dA)/m.Dim)
	r := &tensor.H3Recurrence{Dim: m.Dim, HeadDim: 1, ShiftB: sb, ShiftC: sc, ShiftD: sd, DA: dA, W: w, Skip: host64(m.Diag.D)}
	s, err := newSSMState(m.QProj.Weight.Device(), r, batch, m.OutputLinear)
	if err != nil {
		return nil, fmt.Errorf("s4d mixer: %w", err)
	}
	dev := m.QProj.Weight.Device()
	ones := func(shape ...int) *autograd.Var {
		t := dev.Zeros(shape...)
		dev.Fill(t, 1)
		return autograd.Constant(t)
	}
	one := ones(batch, 1, m.Dim)
	s.qkv = func(g *autograd.Graph, x *autograd.Var) (q, k, v *autograd.Var) {
		return m.QProj.Forward(g, x), one, m.VProj.Forward(g, x)
	}
	s.trace = func(g *autograd.Graph, u *autograd.Var) (*autograd.Var, H3Trace) {
		l := checkMixerInput("S4DMixer", u, m.Dim)
		q := m.QProj.Forward(g, u)
		v := m.VProj.Forward(g, u)
		y := autograd.CausalConv(g, v, m.Diag.Kernel(g, l), m.Diag.D)
		k := ones(u.Shape()[0], l, m.Dim)
		return m.OutputLinear.Forward(g, autograd.Mul(g, q, y)), H3Trace{K: k, KShifted: k, V: v}
	}
	return s, nil
}

// NewState implements Recurrent with H3's step and a diagonal SSM that passes z through
// (dA = C' = 0, D = 1), with half as many modes as taps like H3's.
func (m *ShiftMixer) NewState(batch int) (MixerState, error) {
	taps := m.Shift.B.Shape()[1]
	modes := max(taps/2, 1)
	r := &tensor.H3Recurrence{Dim: m.Dim, HeadDim: 1, ShiftB: host64(m.Shift.B), ShiftC: host64(m.Shift.C),
		ShiftD: host64(m.Shift.D), DA: make([]complex128, m.Dim*modes), W: make([]complex128, m.Dim*modes), Skip: filled64(m.Dim, 1)}
	s, err := newSSMState(m.QProj.Weight.Device(), r, batch, m.OutputLinear)
	if err != nil {
		return nil, fmt.Errorf("shift mixer: %w", err)
	}
	s.qkv = func(g *autograd.Graph, x *autograd.Var) (q, k, v *autograd.Var) {
		return m.QProj.Forward(g, x), m.KProj.Forward(g, x), m.VProj.Forward(g, x)
	}
	s.trace = func(g *autograd.Graph, u *autograd.Var) (*autograd.Var, H3Trace) {
		checkMixerInput("ShiftMixer", u, m.Dim)
		q := m.QProj.Forward(g, u)
		k := m.KProj.Forward(g, u)
		kt := m.Shift.Forward(g, k)
		v := m.VProj.Forward(g, u)
		return m.OutputLinear.Forward(g, autograd.Mul(g, q, autograd.Mul(g, kt, v))), H3Trace{K: k, KShifted: kt, V: v}
	}
	return s, nil
}

// attnState is attention's key/value cache on the mixer's device: per sequence and head a
// (capacity, hd) matrix, (B·heads, capacity, hd) in all, so that a step multiplies the
// cache as it lies. New positions go in with CopyBlocks; the capacity doubles when full.
// A step attends over the whole capacity, the positions not yet filled masked by −∞ in
// mask (capacity).
type attnState struct {
	a     *Attention
	batch int
	pos   int
	k, v  *tensor.Tensor
	mask  *tensor.Tensor
	capa  int
}

// NewState implements Recurrent.
func (a *Attention) NewState(batch int) (MixerState, error) {
	if err := checkBatch(batch); err != nil {
		return nil, fmt.Errorf("attention: %w", err)
	}
	return &attnState{a: a, batch: batch}, nil
}

// project returns the queries, keys and values of the fused projection (B, L, 3d) of the
// positions s.pos, s.pos+1, …, each (B, heads, L, hd) as in the convolutional form.
// Position embeddings that rotate q and k (rotary) apply here, before the keys enter the
// cache, at positions s.pos + l for l along the third axis.
func (s *attnState) project(g *autograd.Graph, fused *autograd.Var) (q, k, v *autograd.Var) {
	b, l := fused.Shape()[0], fused.Shape()[1]
	heads := s.a.Heads
	hd := s.a.Dim / heads
	parts := autograd.Permute(g, autograd.Reshape(g, fused, b, l, 3, heads, hd), 2, 0, 3, 1, 4) // (3, B, heads, L, hd)
	part := func(i int) *autograd.Var {
		return autograd.Reshape(g, autograd.SliceRows(g, parts, i, i+1), b, heads, l, hd)
	}
	q, k, v = part(0), part(1), part(2)
	return q, k, v
}

// append adds keys and values (B, heads, L, hd) at the next positions.
func (s *attnState) append(k, v *tensor.Tensor) {
	dev := k.Device()
	rows, l, hd := s.batch*s.a.Heads, k.Dim(2), k.Dim(3)
	need := s.pos + l
	if need > s.capa {
		capa := max(need, 2*s.capa, 16)
		nk, nv := dev.Zeros(rows, capa, hd), dev.Zeros(rows, capa, hd)
		if s.pos > 0 {
			dev.CopyBlocks(nk, s.k, rows, s.pos*hd, capa*hd, s.capa*hd)
			dev.CopyBlocks(nv, s.v, rows, s.pos*hd, capa*hd, s.capa*hd)
		}
		s.mask = dev.Zeros(capa)
		dev.Fill(s.mask, float32(math.Inf(-1)))
		dev.Fill(s.mask.Slice(0, s.pos), 0)
		s.k, s.v, s.capa = nk, nv, capa
	}
	at := func(c *tensor.Tensor) *tensor.Tensor {
		n := c.Numel()
		return c.Reshape(n).Slice(s.pos*hd, n)
	}
	dev.CopyBlocks(at(s.k), k, rows, l*hd, s.capa*hd, l*hd)
	dev.CopyBlocks(at(s.v), v, rows, l*hd, s.capa*hd, l*hd)
	dev.Fill(s.mask.Slice(s.pos, need), 0)
	s.pos = need
}

// Prefill implements MixerState.
func (s *attnState) Prefill(g *autograd.Graph, x *autograd.Var) *autograd.Var {
	if sh := x.Shape(); len(sh) != 3 || sh[0] != s.batch {
		panic(&tensor.ShapeError{Op: "attention prefill", Shapes: [][]int{sh}, Msg: fmt.Sprintf("want (%d, L, %d)", s.batch, s.a.Dim)})
	}
	out, fused := s.a.ForwardTrace(g, x)
	_, k, v := s.project(g, fused)
	s.append(k.Value, v.Value)
	return out
}

// Step implements MixerState: the new position attends to every cached one and itself.
func (s *attnState) Step(g *autograd.Graph, x *autograd.Var) *autograd.Var {
	a := s.a
	checkStepInput("attention step", x, s.batch, a.Dim)
	q, k, v := s.project(g, a.Wqkv.Forward(g, x))
	if a.RotaryDim > 0 {
		// Prefill's keys come rotated from ForwardTrace; the new token is at position s.pos.
		q, k = Rotary(g, q, a.RotaryDim, s.pos), Rotary(g, k, a.RotaryDim, s.pos)
	}
	s.append(k.Value, v.Value)
	rows, hd := s.batch*a.Heads, a.Dim/a.Heads
	scores := autograd.MatMul(g, autograd.Reshape(g, q, rows, 1, hd), autograd.Constant(s.k), false, true) // (B·heads, 1, capacity)
	scores = autograd.Add(g, autograd.Scale(g, scores, float32(1/math.Sqrt(float64(hd)))), autograd.Constant(s.mask))
	ctx := autograd.MatMul(g, autograd.Softmax(g, scores), autograd.Constant(s.v), false, false) // (B·heads, 1, hd)
	return a.OutProj.Forward(g, autograd.Reshape(g, ctx, s.batch, 1, a.Dim))
}
