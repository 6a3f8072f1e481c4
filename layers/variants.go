package layers

import (
	"fmt"

	"github.com/hungry-ssm/hungry/autograd"
	"github.com/hungry-ssm/hungry/tensor"
)

// The two ablations of H3 that the paper compares on its synthetic tasks (Table 1): each
// keeps one of H3's two SSMs and the multiplicative gating around it. Both use head_dim 1
// and name their parameters as H3 does, so a checkpoint reads like an H3 one minus the
// missing pieces.

// S4DMixer is the diagonal SSM alone as the mixer, gated as in S4D's language model:
// y = DiagSSM(v) + D ⊙ v, out = output_linear(q ⊙ y). Without the shift SSM and the
// k·v product it cannot compare a token with an earlier one, which is what the paper's
// induction-head task needs.
type S4DMixer struct {
	QProj, VProj, OutputLinear *Linear
	Diag                       *DiagSSM
	Dim                        int
}

// NewS4DMixer returns prefix.{q_proj, v_proj, output_linear} drawn from N(0, std²) and a
// diagonal SSM with one head per channel and dState/2 complex modes (prefix.kernel.kernel.*,
// prefix.D).
func NewS4DMixer(dev tensor.Device, rng *tensor.RNG, prefix string, dim, dState int, disc tensor.Discretization, std float32) (*S4DMixer, error) {
	if err := checkVariantSize("s4d", dim, dState); err != nil {
		return nil, err
	}
	m := &S4DMixer{Dim: dim}
	m.QProj = NewLinear(dev, rng, join(prefix, "q_proj"), dim, dim, true, std)
	m.VProj = NewLinear(dev, rng, join(prefix, "v_proj"), dim, dim, true, std)
	m.Diag = NewDiagSSM(dev, rng, prefix, dim, dState/2, disc)
	m.OutputLinear = NewLinear(dev, rng, join(prefix, "output_linear"), dim, dim, true, std)
	return m, nil
}

// Forward maps u (B, L, d) to (B, L, d).
func (m *S4DMixer) Forward(g *autograd.Graph, u *autograd.Var) *autograd.Var {
	l := checkMixerInput("S4DMixer", u, m.Dim)
	q := m.QProj.Forward(g, u)
	v := m.VProj.Forward(g, u)
	y := autograd.CausalConv(g, v, m.Diag.Kernel(g, l), m.Diag.D)
	return m.OutputLinear.Forward(g, autograd.Mul(g, q, y))
}

// Params implements Module.
func (m *S4DMixer) Params() []*autograd.Var {
	ps := append(m.QProj.Params(), m.VProj.Params()...)
	ps = append(ps, m.Diag.Params()...)
	return append(ps, m.OutputLinear.Params()...)
}

// ShiftMixer is H3 without its diagonal SSM: out = output_linear(q ⊙ (ShiftSSM(k) ⊙ v)).
// The shift SSM only reaches dState positions back and nothing carries the product
// further, so it can relate a token to its recent neighbours but not recall one from
// far back.
type ShiftMixer struct {
	QProj, KProj, VProj, OutputLinear *Linear
	Shift                             *ShiftSSM
	Dim                               int
}

// NewShiftMixer returns prefix.{q_proj, k_proj, v_proj, output_linear} drawn from
// N(0, std²) and a shift SSM of dState taps per channel (prefix.ssm_k_kernel.*,
// prefix.ssm_k_D).
func NewShiftMixer(dev tensor.Device, rng *tensor.RNG, prefix string, dim, dState int, std float32) (*ShiftMixer, error) {
	if err := checkVariantSize("shift", dim, dState); err != nil {
		return nil, err
	}
	m := &ShiftMixer{Dim: dim}
	m.QProj = NewLinear(dev, rng, join(prefix, "q_proj"), dim, dim, true, std)
	m.KProj = NewLinear(dev, rng, join(prefix, "k_proj"), dim, dim, true, std)
	m.VProj = NewLinear(dev, rng, join(prefix, "v_proj"), dim, dim, true, std)
	m.Shift = NewShiftSSM(dev, rng, prefix, dim, dState)
	m.OutputLinear = NewLinear(dev, rng, join(prefix, "output_linear"), dim, dim, true, std)
	return m, nil
}

// Forward maps u (B, L, d) to (B, L, d).
func (m *ShiftMixer) Forward(g *autograd.Graph, u *autograd.Var) *autograd.Var {
	checkMixerInput("ShiftMixer", u, m.Dim)
	q := m.QProj.Forward(g, u)
	kt := m.Shift.Forward(g, m.KProj.Forward(g, u))
	v := m.VProj.Forward(g, u)
	return m.OutputLinear.Forward(g, autograd.Mul(g, q, autograd.Mul(g, kt, v)))
}

// Params implements Module.
func (m *ShiftMixer) Params() []*autograd.Var {
	ps := append(m.QProj.Params(), m.KProj.Params()...)
	ps = append(ps, m.VProj.Params()...)
	ps = append(ps, m.Shift.Params()...)
	return append(ps, m.OutputLinear.Params()...)
}

func checkVariantSize(name string, dim, dState int) error {
	switch {
	case dim <= 0:
		return fmt.Errorf("%s mixer: d_model must be positive, got %d", name, dim)
	case dState < 2 || dState%2 != 0:
		return fmt.Errorf("%s mixer: d_state must be even and positive, got %d", name, dState)
	}
	return nil
}

// checkMixerInput panics with a shape error unless u is (B, L, dim); it returns L.
func checkMixerInput(op string, u *autograd.Var, dim int) int {
	shape := u.Shape()
	if len(shape) != 3 || shape[2] != dim {
		panic(&tensor.ShapeError{Op: op, Shapes: [][]int{shape}, Msg: fmt.Sprintf("want (B, L, %d)", dim)})
	}
	return shape[1]
}
