package layers

import (
	"fmt"

	"github.com/hungry-ssm/hungry/autograd"
	"github.com/hungry-ssm/hungry/tensor"
)

// ChunkLen is the chunk length of the mixer's state passing: Chunk when set, the
// device's choice (tensor.StatePassKernels.DiagSSMChunk) otherwise. Sequences longer than
// one chunk are convolved chunk by chunk with the diagonal SSM's state carried between
// chunks (autograd.ChunkedConv), which gives what the single-shot convolution gives.
func (m *H3) ChunkLen() int {
	if m.Chunk > 0 {
		return m.Chunk
	}
	return m.QProj.Weight.Device().DiagSSMChunk()
}

// ssm is the diagonal SSM's parameters as the state-passing ops take them.
func (s *DiagSSM) ssm() autograd.DiagSSM {
	return autograd.DiagSSM{LogDt: s.LogDt, InvAReal: s.InvAReal, AImag: s.AImag, B: s.B, C: s.C, Disc: s.Disc}
}

// repeatHeads repeats each row of x (H, …) over rep consecutive rows: a head's kernel or
// skip weight over its head_dim² outer-product channels, ordered (h i j).
func repeatHeads(g *autograd.Graph, x *autograd.Var, rep int) *autograd.Var {
	if rep == 1 {
		return x
	}
	s := x.Shape()
	zeros := autograd.Constant(x.Device().Zeros(append([]int{rep}, s...)...))
	r := autograd.Add(g, zeros, x)
	if len(s) == 1 {
		return autograd.Reshape(g, autograd.Transpose(g, r), s[0]*rep)
	}
	return autograd.Reshape(g, autograd.Permute(g, r, 1, 0, 2), s[0]*rep, s[1])
}

// outer returns the sequence the diagonal SSM filters: k̃ ⊙ v for head_dim 1, the
// per-head outer products k̃ ⊗ v (B, L, heads·dh²) otherwise, as multiHead forms them.
func (m *H3) outer(g *autograd.Graph, kt, v *autograd.Var, b, l int) *autograd.Var {
	dh := m.HeadDim
	if dh == 1 {
		return autograd.Mul(g, kt, v)
	}
	rows := b * l * (m.Dim / dh)
	z := autograd.MatMul(g, autograd.Reshape(g, kt, rows, dh, 1), autograd.Reshape(g, v, rows, 1, dh), false, false)
	return autograd.Reshape(g, z, b, l, m.Dim*dh)
}

// contract returns o = q ⊙ y for head_dim 1, o[h,j] = Σᵢ q[h·dh+i]·y[h,i,j] otherwise.
func (m *H3) contract(g *autograd.Graph, q, y *autograd.Var, b, l int) *autograd.Var {
	dh := m.HeadDim
	if dh == 1 {
		return autograd.Mul(g, q, y)
	}
	rows := b * l * (m.Dim / dh)
	o := autograd.MatMul(g, autograd.Reshape(g, q, rows, 1, dh), autograd.Reshape(g, y, rows, dh, dh), false, false)
	return autograd.Reshape(g, o, b, l, m.Dim)
}

// forwardChunked is ForwardTrace for sequences longer than one chunk of chunk positions:
// the diagonal SSM convolves chunk by chunk with its state passed on, everything else is
// position-wise or the shift SSM's 64-tap convolution.
func (m *H3) forwardChunked(g *autograd.Graph, u *autograd.Var, chunk int) (*autograd.Var, H3Trace) {
	b, l := u.Shape()[0], u.Shape()[1]
	q := m.QProj.Forward(g, u)
	k := m.KProj.Forward(g, u)
	kt := m.Shift.Forward(g, k)
	v := m.VProj.Forward(g, u)
	rep := m.HeadDim * m.HeadDim
	kernel := repeatHeads(g, m.Diag.Kernel(g, chunk), rep)
	y := autograd.ChunkedConv(g, m.outer(g, kt, v, b, l), kernel, repeatHeads(g, m.Diag.D, rep), m.Diag.ssm())
	return m.OutputLinear.Forward(g, m.contract(g, q, y, b, l)), H3Trace{K: k, KShifted: kt, V: v}
}

// ChunkState carries a batch of sequences through an H3 mixer a chunk at a time, for
// inference with memory independent of the sequence's length: the last N key projections
// (what the shift SSM reads back) and the diagonal SSM's modes (B, C, N/2, 2). Forward of
// consecutive chunks gives what Forward of their concatenation gives.
type ChunkState struct {
	m     *H3
	batch int
	pos   int
	tail  *tensor.Tensor        // (B, N, d): the key projections of the last N positions, zero before the first
	x     *tensor.Tensor        // (B, C, M, 2), nil before the first chunk
	kern  map[int]*autograd.Var // repeated kernels by chunk length
	skip  *autograd.Var         // D repeated over each head's channels
}

// NewChunkState returns the state of batch empty sequences. It reads the parameters as
// they are when chunks are fed: make a new state after they change.
func (m *H3) NewChunkState(batch int) (*ChunkState, error) {
	if err := checkBatch(batch); err != nil {
		return nil, fmt.Errorf("h3: %w", err)
	}
	dev := m.QProj.Weight.Device()
	taps := m.Shift.B.Shape()[1]
	return &ChunkState{m: m, batch: batch, tail: dev.Zeros(batch, taps, m.Dim), kern: map[int]*autograd.Var{}}, nil
}

// Pos is the number of positions the state has consumed.
func (s *ChunkState) Pos() int { return s.pos }

// Forward maps the next chunk x (B, Lc, d) of each sequence to the mixer's output and
// advances the state past it. It records nothing for a backward pass.
func (s *ChunkState) Forward(x *autograd.Var) *autograd.Var {
	m := s.m
	sh := x.Shape()
	if len(sh) != 3 || sh[0] != s.batch || sh[2] != m.Dim || sh[1] < 1 {
		panic(&tensor.ShapeError{Op: "H3 chunk", Shapes: [][]int{sh}, Msg: fmt.Sprintf("want (%d, L, %d)", s.batch, m.Dim)})
	}
	g := autograd.NoGrad()
	dev := x.Device()
	b, l, d := s.batch, sh[1], m.Dim
	taps := s.tail.Dim(1)
	rep := m.HeadDim * m.HeadDim
	q := m.QProj.Forward(g, x)
	k := m.KProj.Forward(g, x)
	v := m.VProj.Forward(g, x)
	// The shift SSM over the last N keys and this chunk's; its first N outputs are the
	// previous chunk's and are dropped.
	cat := dev.Zeros(b, taps+l, d)
	dev.CopyBlocks(cat, s.tail, b, taps*d, (taps+l)*d, taps*d)
	dev.CopyBlocks(cat.Reshape(cat.Numel()).Slice(taps*d, cat.Numel()), k.Value, b, l*d, (taps+l)*d, l*d)
	ktAll := m.Shift.Forward(g, autograd.Constant(cat)).Value
	kt := dev.Zeros(b, l, d)
	dev.CopyBlocks(kt, ktAll.Reshape(ktAll.Numel()).Slice(taps*d, ktAll.Numel()), b, l*d, l*d, (taps+l)*d)
	dev.CopyBlocks(s.tail, cat.Reshape(cat.Numel()).Slice(l*d, cat.Numel()), b, taps*d, taps*d, (taps+l)*d)

	z := m.outer(g, autograd.Constant(kt), v, b, l).Value
	kern, ok := s.kern[l]
	if !ok {
		kern = repeatHeads(g, m.Diag.Kernel(g, l), rep)
		s.kern[l] = kern
	}
	if s.skip == nil {
		s.skip = repeatHeads(g, m.Diag.D, rep)
	}
	y := dev.Zeros(z.Shape()...)
	dev.CausalConv(y, z, kern.Value, s.skip.Value)
	p := m.Diag
	if s.x != nil {
		dev.DiagSSMStateOut(y, s.x, p.LogDt.Value, p.InvAReal.Value, p.AImag.Value, p.B.Value, p.C.Value, p.Disc)
	}
	next := dev.Zeros(b, z.Dim(2), p.AImag.Shape()[1], 2)
	dev.DiagSSMStateNext(next, s.x, z, p.LogDt.Value, p.InvAReal.Value, p.AImag.Value, p.B.Value, p.C.Value, p.Disc)
	s.x = next
	s.pos += l
	return m.OutputLinear.Forward(g, m.contract(g, q, autograd.Constant(y), b, l))
}

// Seed sets st, a recurrent state of this mixer (H3.NewState) for the same batch, to
// what stepping through every position fed so far would have left: the shift SSM from
// the last N keys, the diagonal SSM's modes from the carried ones.
func (s *ChunkState) Seed(st MixerState) error {
	ss, ok := st.(*ssmState)
	if !ok || ss.batch != s.batch || ss.dim != s.m.Dim {
		return fmt.Errorf("h3: cannot seed a %T of this mixer's chunked state", st)
	}
	return tensor.Catch(func() {
		dev := s.tail.Device()
		// H3Seed reads the keys for the shift SSM; the diagonal modes it leaves are then
		// replaced by the carried ones, so the other two sequences do not matter.
		dev.H3Seed(ss.st, s.tail, s.tail, s.tail)
		if s.x != nil {
			dev.SetH3Diag(ss.st, s.x)
		}
	})
}
