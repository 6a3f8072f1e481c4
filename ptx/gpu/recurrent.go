package gpu

import (
	"fmt"

	"github.com/hungry-ssm/hungry/tensor"
)

// The recurrent H3 step (tensor.SSMKernels' NewH3State, H3Seed and H3Step). The h3_step
// kernel covers head_dim 1 with 64 shift taps and 32 complex modes, the official H3's
// d_state 64; other shapes keep a CPU state on the host (counted as HostFallbacks).
//
// The kernel's state and parameters are float32, where the CPU keeps float64: rounding
// dA to float32 moves a slow mode's pole by up to 2⁻²⁴ relative, and after t steps the
// state is off by about t·2⁻²⁴ of its size, so a generation of a few thousand tokens
// drifts by ~1e-4 of the diagonal SSM's output, below what greedy decoding resolves in a
// trained model. Tests compare against the CPU over short generations with that bound.

const (
	h3StepTaps  = 64
	h3StepModes = 32
)

// h3State is the device's tensor.H3State: device tensors for the kernel, or a CPU state.
type h3State struct {
	r     *tensor.H3Recurrence
	batch int
	// shift (batch, d, 64) and diag (batch, d, 32 complex) are updated in place by the
	// kernel; par holds its parameters in launch order: shift B, C, D, then dA, dB, C'
	// (as re, im pairs) and the skip D.
	shift, diag *tensor.Tensor
	par         [7]*tensor.Tensor
	host        tensor.H3State
}

func (s *h3State) Batch() int                       { return s.batch }
func (s *h3State) Recurrence() *tensor.H3Recurrence { return s.r }

// h3Fallback names the case the kernel does not cover, or "" when it does.
func h3Fallback(r *tensor.H3Recurrence) string {
	switch {
	case r.HeadDim != 1:
		return "H3Step(head_dim>1)"
	case r.Taps() != h3StepTaps || r.Modes() != h3StepModes:
		return "H3Step(d_state≠64)"
	}
	return ""
}

// NewH3State implements tensor.SSMKernels.
func (d *Device) NewH3State(r *tensor.H3Recurrence, batch int) tensor.H3State {
	host := tensor.DefaultCPU().NewH3State(r, batch) // checks r and batch
	r = host.Recurrence()
	s := &h3State{r: r, batch: batch}
	if h3Fallback(r) != "" {
		s.host = host
		return s
	}
	dim := r.Dim
	f32 := func(v []float64) []float32 {
		out := make([]float32, len(v))
		for i, x := range v {
			out[i] = float32(x)
		}
		return out
	}
	pairs := func(v []complex128) []float32 {
		out := make([]float32, 2*len(v))
		for i, x := range v {
			out[2*i], out[2*i+1] = float32(real(x)), float32(imag(x))
		}
		return out
	}
	// The CPU's recurrence adds z itself (dB = 1); the kernel multiplies it by dB.
	one := make([]complex128, len(r.DA))
	for i := range one {
		one[i] = 1
	}
	s.par = [7]*tensor.Tensor{
		d.FromHost(f32(r.ShiftB), dim, h3StepTaps), d.FromHost(f32(r.ShiftC), dim, h3StepTaps), d.FromHost(f32(r.ShiftD), dim),
		d.FromHost(pairs(r.DA), dim, 2*h3StepModes), d.FromHost(pairs(one), dim, 2*h3StepModes),
		d.FromHost(pairs(r.W), dim, 2*h3StepModes), d.FromHost(f32(r.Skip), dim),
	}
	s.shift = d.Zeros(batch, dim, h3StepTaps)
	s.diag = d.Zeros(batch, dim, 2*h3StepModes)
	return s
}

func (d *Device) h3State(op string, st tensor.H3State) *h3State {
	s, ok := st.(*h3State)
	if !ok {
		panic(&tensor.ShapeError{Op: op, Msg: fmt.Sprintf("a %T state passed to %s", st, d.Name())})
	}
	return s
}

// H3Seed implements tensor.SSMKernels by stepping the kernel over the sequence from the
// zero state, so that a seeded state is exactly what the steps would have left; kShifted
// is not needed, since the kernel runs the shift SSM itself.
func (d *Device) H3Seed(st tensor.H3State, k, kShifted, v *tensor.Tensor) {
	s := d.h3State("H3Seed", st)
	l := tensor.H3SeedShapes("H3Seed", st, k, kShifted, v)
	if s.host != nil {
		d.onHost(h3Fallback(s.r), []*tensor.Tensor{k, kShifted, v}, nil, func(c *tensor.CPU, h []*tensor.Tensor) {
			c.H3Seed(s.host, h[0], h[1], h[2])
		})
		return
	}
	d.Fill(s.shift, 0)
	d.Fill(s.diag, 0)
	b, dim := s.batch, s.r.Dim
	// Positions first, so that each step reads a contiguous (batch, d) slice.
	kp, vp := d.empty(l, b, dim), d.empty(l, b, dim)
	d.Permute(kp, k, []int{1, 0, 2}, false)
	d.Permute(vp, v, []int{1, 0, 2}, false)
	o := d.empty(b, dim)
	for t := 0; t < l; t++ {
		kt := kp.Slice(t, t+1)
		d.h3Step(s, o, kt, kt, vp.Slice(t, t+1))
	}
}

// H3Step implements tensor.SSMKernels.
func (d *Device) H3Step(st tensor.H3State, o, q, k, v *tensor.Tensor) {
	s := d.h3State("H3Step", st)
	tensor.H3StepShapes("H3Step", st, o, q, k, v)
	if s.host != nil {
		d.onHost(h3Fallback(s.r), []*tensor.Tensor{o, q, k, v}, []int{0}, func(c *tensor.CPU, h []*tensor.Tensor) {
			c.H3Step(s.host, h[0], h[1], h[2], h[3])
		})
		return
	}
	d.h3Step(s, o, q, k, v)
}

func (d *Device) h3Step(s *h3State, o, q, k, v *tensor.Tensor) {
	n := s.batch * s.r.Dim
	p := s.par
	d.launch("h3_step_f32", [3]int{ceilDiv(n, 256), 1, 1}, 0, aPtr(d.ptr(o)), aPtr(d.ptr(s.shift)), aPtr(d.ptr(s.diag)),
		aPtr(d.ptr(q)), aPtr(d.ptr(k)), aPtr(d.ptr(v)), aPtr(d.ptr(p[0])), aPtr(d.ptr(p[1])), aPtr(d.ptr(p[2])),
		aPtr(d.ptr(p[3])), aPtr(d.ptr(p[4])), aPtr(d.ptr(p[5])), aPtr(d.ptr(p[6])), aU32(s.batch), aU32(s.r.Dim))
}
