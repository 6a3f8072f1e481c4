package layers

import (
	"fmt"
	"math"

	"github.com/hungry-ssm/hungry/autograd"
	"github.com/hungry-ssm/hungry/tensor"
)

// ShiftSSM is H3's shift state-space model on each of H channels: a state of N taps
// shifted by one every step (A is the fixed shift, never stored), input weights B and
// read-out C, both learned. Its kernel is a learned FIR filter of N taps, applied with the
// skip term D: y = k * u + D ⊙ u.
type ShiftSSM struct {
	B *autograd.Var // (H, N), initialised to e₁
	C *autograd.Var // (1, H, N), U(±1/√N) as kaiming_uniform_(a=√5) gives
	D *autograd.Var // (H), N(0, 1)
}

// NewShiftSSM returns the parameters named as the official H3 mixer names them:
// prefix.ssm_k_kernel.kernel.B, prefix.ssm_k_kernel.kernel.C and prefix.ssm_k_D.
func NewShiftSSM(dev tensor.Device, rng *tensor.RNG, prefix string, channels, n int) *ShiftSSM {
	b := make([]float32, channels*n)
	for h := 0; h < channels; h++ {
		b[h*n] = 1
	}
	bound := float32(1 / math.Sqrt(float64(n)))
	return &ShiftSSM{
		B: param(dev, join(prefix, "ssm_k_kernel.kernel.B"), autograd.ClassSSM, b, channels, n),
		C: param(dev, join(prefix, "ssm_k_kernel.kernel.C"), autograd.ClassDecay, uniform(rng, channels*n, bound), 1, channels, n),
		D: param(dev, join(prefix, "ssm_k_D"), autograd.ClassNoDecay, normal(rng, channels, 1), channels),
	}
}

// Forward filters u (B, L, H) along the sequence.
func (s *ShiftSSM) Forward(g *autograd.Graph, u *autograd.Var) *autograd.Var {
	l := u.Shape()[1]
	k := autograd.ShiftSSMKernel(g, s.B, s.C, min(l, s.B.Shape()[1]))
	return autograd.ShortConv(g, u, k, s.D)
}

// Params implements Module.
func (s *ShiftSSM) Params() []*autograd.Var { return []*autograd.Var{s.B, s.C, s.D} }

// DiagSSM is the S4D-Lin diagonal state-space model of H3, one per head, with N/2
// complex modes whose conjugates are implicit: A = −exp(inv_A_real) + i·A_imag,
// dt = exp(log_dt), and the skip term D.
type DiagSSM struct {
	LogDt    *autograd.Var // (H), U[ln 1e-3, ln 1e-1]
	InvAReal *autograd.Var // (H, M), ln 0.5
	AImag    *autograd.Var // (H, M), π·n
	B        *autograd.Var // (H, M, 2), 1 + 0i
	C        *autograd.Var // (1, H, M, 2), complex N(0, 1): each part N(0, ½)
	D        *autograd.Var // (H), N(0, 1)
	Disc     tensor.Discretization
}

// NewDiagSSM returns a diagonal SSM of heads heads and modes complex modes named as the
// official SSKernelDiag inside the H3 mixer: prefix.kernel.kernel.{log_dt, inv_A_real,
// A_imag, B, C} and prefix.D.
func NewDiagSSM(dev tensor.Device, rng *tensor.RNG, prefix string, heads, modes int, disc tensor.Discretization) *DiagSSM {
	logDt := make([]float32, heads)
	lo, hi := math.Log(1e-3), math.Log(1e-1)
	for i := range logDt {
		if rng != nil {
			logDt[i] = float32(lo + rng.Float64()*(hi-lo))
		}
	}
	invA := make([]float32, heads*modes)
	aImag := make([]float32, heads*modes)
	b := make([]float32, heads*modes*2)
	for h := 0; h < heads; h++ {
		for n := 0; n < modes; n++ {
			i := h*modes + n
			invA[i] = float32(math.Log(0.5))
			aImag[i] = float32(math.Pi * float64(n))
			b[2*i] = 1
		}
	}
	kp := join(prefix, "kernel.kernel")
	return &DiagSSM{
		LogDt:    param(dev, join(kp, "log_dt"), autograd.ClassSSM, logDt, heads),
		InvAReal: param(dev, join(kp, "inv_A_real"), autograd.ClassSSM, invA, heads, modes),
		AImag:    param(dev, join(kp, "A_imag"), autograd.ClassSSM, aImag, heads, modes),
		B:        param(dev, join(kp, "B"), autograd.ClassSSM, b, heads, modes, 2),
		C:        param(dev, join(kp, "C"), autograd.ClassDecay, normal(rng, heads*modes*2, float32(1/math.Sqrt2)), 1, heads, modes, 2),
		D:        param(dev, join(prefix, "D"), autograd.ClassNoDecay, normal(rng, heads, 1), heads),
		Disc:     disc,
	}
}

// Kernel returns the convolution kernel (H, length).
func (s *DiagSSM) Kernel(g *autograd.Graph, length int) *autograd.Var {
	return autograd.DiagSSMKernel(g, s.LogDt, s.InvAReal, s.AImag, s.B, s.C, length, s.Disc)
}

// Params implements Module.
func (s *DiagSSM) Params() []*autograd.Var {
	return []*autograd.Var{s.LogDt, s.InvAReal, s.AImag, s.B, s.C, s.D}
}

// Heads is the number of independent SSMs.
func (s *DiagSSM) Heads() int { return s.LogDt.Shape()[0] }

// H3 is the H3 mixer: q, k, v = three linear maps of the input; k̃ = ShiftSSM(k);
// per head the outer product z = k̃ ⊗ v is filtered by the diagonal SSM; the result is
// contracted with q and mapped by output_linear. With head_dim 1 the products are
// elementwise.
type H3 struct {
	QProj, KProj, VProj, OutputLinear *Linear
	Shift                             *ShiftSSM
	Diag                              *DiagSSM
	Dim, HeadDim                      int
	Chunk                             int // state passing's chunk length (ChunkLen); 0: the device's
}

// H3Config sizes an H3 mixer.
type H3Config struct {
	Dim     int
	DState  int // shift SSM taps; the diagonal SSM has DState/2 complex modes
	HeadDim int
	Disc    tensor.Discretization
}

// NewH3 returns an H3 mixer named prefix.{q_proj, k_proj, v_proj, output_linear, ...}.
// The four linear maps are drawn from N(0, std²): the official code does not rescale
// output_linear with depth.
func NewH3(dev tensor.Device, rng *tensor.RNG, prefix string, cfg H3Config, std float32) (*H3, error) {
	switch {
	case cfg.Dim <= 0 || cfg.HeadDim <= 0 || cfg.Dim%cfg.HeadDim != 0:
		return nil, fmt.Errorf("h3: d_model %d is not divisible by head_dim %d", cfg.Dim, cfg.HeadDim)
	case cfg.DState < 2 || cfg.DState%2 != 0:
		return nil, fmt.Errorf("h3: d_state must be even and positive, got %d", cfg.DState)
	}
	m := &H3{Dim: cfg.Dim, HeadDim: cfg.HeadDim}
	m.QProj = NewLinear(dev, rng, join(prefix, "q_proj"), cfg.Dim, cfg.Dim, true, std)
	m.KProj = NewLinear(dev, rng, join(prefix, "k_proj"), cfg.Dim, cfg.Dim, true, std)
	m.VProj = NewLinear(dev, rng, join(prefix, "v_proj"), cfg.Dim, cfg.Dim, true, std)
	m.Shift = NewShiftSSM(dev, rng, prefix, cfg.Dim, cfg.DState)
	m.Diag = NewDiagSSM(dev, rng, prefix, cfg.Dim/cfg.HeadDim, cfg.DState/2, cfg.Disc)
	m.OutputLinear = NewLinear(dev, rng, join(prefix, "output_linear"), cfg.Dim, cfg.Dim, true, std)
	return m, nil
}

// Forward maps u (B, L, d) to (B, L, d).
func (m *H3) Forward(g *autograd.Graph, u *autograd.Var) *autograd.Var {
	out, _ := m.ForwardTrace(g, u)
	return out
}

// H3Trace holds the sequences inside an H3 mixer that its recurrent state is made of:
// the key projection before the shift SSM, its output k̃, and the value projection, each
// (B, L, d).
type H3Trace struct {
	K, KShifted, V *autograd.Var
}

// ForwardTrace is Forward that also returns the sequences that seed a recurrent state.
func (m *H3) ForwardTrace(g *autograd.Graph, u *autograd.Var) (*autograd.Var, H3Trace) {
	shape := u.Shape()
	if len(shape) != 3 || shape[2] != m.Dim {
		panic(&tensor.ShapeError{Op: "H3", Shapes: [][]int{shape}, Msg: fmt.Sprintf("want (B, L, %d)", m.Dim)})
	}
	if c := m.ChunkLen(); shape[1] > c {
		return m.forwardChunked(g, u, c)
	}
	q := m.QProj.Forward(g, u)
	k := m.KProj.Forward(g, u)
	kt := m.Shift.Forward(g, k)
	v := m.VProj.Forward(g, u)
	o := m.LongConv(g, kt, v, q)
	return m.OutputLinear.Forward(g, o), H3Trace{K: k, KShifted: kt, V: v}
}

// LongConv is the mixer's long convolution on k̃, v and q (B, L, d): the diagonal SSM's
// kernel for length L, its spectrum (computed once, for the forward and the backward
// pass), and the device's fused convolution, which per head of HeadDim channels filters
// the outer product k̃ ⊗ v with the head's kernel and skip weight and contracts it with q,
// output channels ordered (h j) as the official CUDA kernel orders them. With head_dim 1
// the products are elementwise: q ⊙ (kernel * (k̃ ⊙ v) + D ⊙ k̃ ⊙ v).
func (m *H3) LongConv(g *autograd.Graph, kt, v, q *autograd.Var) *autograd.Var {
	l := kt.Shape()[1]
	khat := autograd.H3Spectrum(g, m.Diag.Kernel(g, l), l)
	return autograd.H3Conv(g, kt, v, q, m.Diag.D, khat, m.HeadDim)
}

// Params implements Module.
func (m *H3) Params() []*autograd.Var {
	ps := append(m.QProj.Params(), m.KProj.Params()...)
	ps = append(ps, m.VProj.Params()...)
	ps = append(ps, m.Shift.Params()...)
	ps = append(ps, m.Diag.Params()...)
	return append(ps, m.OutputLinear.Params()...)
}
