package gpu

import (
	"fmt"
	"runtime"

	"github.com/hungry-ssm/hungry/ptx/driver"
	"github.com/hungry-ssm/hungry/ptx/kernels"
	"github.com/hungry-ssm/hungry/tensor"
)

// Generation's device work: CopyBlocks, which writes attention's key/value cache, and
// the recurrent H3 step (tensor.SSMKernels' NewH3State, H3Seed and H3Step) on the
// h3_step kernel, which runs a shift SSM of 64 taps and a diagonal SSM of 32 complex modes
// per channel (the official H3's d_state 64); other sizes keep a CPU state on the host
// (counted as HostFallbacks). The kernel is written for head_dim 1, where the whole
// mixer is one launch. With heads of dh > 1 it runs twice: once over the d channels
// with the diagonal SSM passed through, which leaves the shift SSM's output k̃; then over
// the dh² entries of every head's outer product z = k̃ ⊗ v, laid out (i, batch, head, j)
// as a batch of dh·B sequences of d channels, with the shift SSM passed through and the
// head's parameters repeated over j. The second launch multiplies by q[h·dh+i], and a
// column sum over i gives o. The expansions are strided gathers with the permute kernel.
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
	host  tensor.H3State
	// first is the launch over the d channels (all of the mixer for head_dim 1); entries
	// is the launch over the heads' outer products (nil for head_dim 1).
	first, entries *h3Launch
}

// h3Launch is what one h3_step launch updates and reads: the states, shift (batch, d, 64)
// and diag (batch, d, 32 complex), and the parameters in launch order: shift B, C, D,
// then dA, dB, C' (as re, im pairs) and the skip D. A state that a launch passes through
// stays zero.
type h3Launch struct {
	batch, dim  int
	shift, diag *tensor.Tensor
	par         [7]*tensor.Tensor
}

func (s *h3State) Batch() int                       { return s.batch }
func (s *h3State) Recurrence() *tensor.H3Recurrence { return s.r }

// h3Fallback names the case the kernel does not cover, or "" when it does.
func h3Fallback(r *tensor.H3Recurrence) string {
	if r.Taps() != h3StepTaps || r.Modes() != h3StepModes {
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
	dim, dh := r.Dim, r.HeadDim
	f32 := func(v []float64) []float32 {
		out := make([]float32, len(v))
		for i, x := range v {
			out[i] = float32(x)
		}
		return out
	}
	// perChannel lays out per-head complex values (heads, 32) as (d, 64) re, im pairs,
	// each head's repeated over its dh channels.
	perChannel := func(v []complex128) *tensor.Tensor {
		out := make([]float32, 0, 2*dim*h3StepModes)
		for c := 0; c < dim; c++ {
			for _, x := range v[c/dh*h3StepModes : (c/dh+1)*h3StepModes] {
				out = append(out, float32(real(x)), float32(imag(x)))
			}
		}
		return d.FromHost(out, dim, 2*h3StepModes)
	}
	skip := make([]float64, dim)
	for c := range skip {
		skip[c] = r.Skip[c/dh]
	}
	// The CPU's recurrence adds z itself (dB = 1); the kernel multiplies it by dB.
	one := make([]complex128, len(r.DA))
	for i := range one {
		one[i] = 1
	}
	shiftB, shiftC, shiftD := d.FromHost(f32(r.ShiftB), dim, h3StepTaps), d.FromHost(f32(r.ShiftC), dim, h3StepTaps), d.FromHost(f32(r.ShiftD), dim)
	diag := [4]*tensor.Tensor{perChannel(r.DA), perChannel(one), perChannel(r.W), d.FromHost(f32(skip), dim)}
	if dh == 1 {
		s.first = &h3Launch{batch: batch, dim: dim, shift: d.Zeros(batch, dim, h3StepTaps), diag: d.Zeros(batch, dim, 2*h3StepModes),
			par: [7]*tensor.Tensor{shiftB, shiftC, shiftD, diag[0], diag[1], diag[2], diag[3]}}
		return s
	}
	zeros, ones := d.Zeros(dim, h3StepTaps), d.filled(dim, 1)
	s.first = &h3Launch{batch: batch, dim: dim, shift: d.Zeros(batch, dim, h3StepTaps), diag: d.Zeros(batch, dim, 2*h3StepModes),
		par: [7]*tensor.Tensor{shiftB, shiftC, shiftD, zeros, zeros, zeros, ones}}
	n := dh * batch
	s.entries = &h3Launch{batch: n, dim: dim, shift: d.Zeros(n, dim, h3StepTaps), diag: d.Zeros(n, dim, 2*h3StepModes),
		par: [7]*tensor.Tensor{zeros, zeros, ones, diag[0], diag[1], diag[2], diag[3]}}
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
	for _, ln := range []*h3Launch{s.first, s.entries} {
		if ln != nil {
			d.Fill(ln.shift, 0)
			d.Fill(ln.diag, 0)
		}
	}
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
	if s.entries == nil {
		d.launchH3Step(s.first, o, q, k, v)
		return
	}
	b, dim, dh := s.batch, s.r.Dim, s.r.HeadDim
	ones := d.filled(b*dim, 1)
	kt := d.empty(b, dim)
	d.launchH3Step(s.first, kt, ones, k, ones)
	n := dh * b * dim
	qx, kx, vx, ox := d.empty(n), d.empty(n), d.empty(n), d.empty(n)
	d.expandHeads(qx, q, b, dh, false)
	d.expandHeads(kx, kt, b, dh, false)
	d.expandHeads(vx, v, b, dh, true)
	d.launchH3Step(s.entries, ox, qx, kx, vx)
	d.SumAxis(o, ox.Reshape(dh, b*dim), 0, 1, false)
}

// expandHeads writes out (dh, batch, heads, dh) from x (batch, heads, dh): out[i,b,h,j] is
// x[b,h,j] when byColumn, x[b,h,i] otherwise. It is the permute kernel with a zero stride.
func (d *Device) expandHeads(out, x *tensor.Tensor, batch, dh int, byColumn bool) {
	heads := x.Numel() / (batch * dh)
	n := out.Numel()
	si, sj := 1, 0
	if byColumn {
		si, sj = 0, 1
	}
	d.run(kernels.PermuteF32(d, d.p(out), d.p(x), u32(n),
		1, 1, u32(dh), u32(batch), u32(heads), u32(dh),
		0, 0, u32(si), u32(heads*dh), u32(dh), u32(sj), false))
}

func (d *Device) launchH3Step(l *h3Launch, o, q, k, v *tensor.Tensor) {
	p := l.par
	d.run(kernels.H3StepF32(d, d.p(o), d.p(l.shift), d.p(l.diag), d.p(q), d.p(k), d.p(v),
		d.p(p[0]), d.p(p[1]), d.p(p[2]), d.p(p[3]), d.p(p[4]), d.p(p[5]), d.p(p[6]), u32(l.batch), u32(l.dim)))
}

// CopyBlocks implements tensor.Device with one device-to-device copy per block, or one
// for all when the blocks are contiguous on both sides.
func (d *Device) CopyBlocks(dst, src *tensor.Tensor, n, size, dstStride, srcStride int) {
	tensor.CheckBlocks(dst, src, n, size, dstStride, srcStride)
	if n == 0 || size == 0 {
		return
	}
	pd, ps := d.addr(dst), d.addr(src)
	defer runtime.KeepAlive(dst)
	defer runtime.KeepAlive(src)
	if dstStride == size && srcStride == size {
		d.check("CopyBlocks", d.be.CopyDtoD(pd, ps, 4*int64(n*size)))
		return
	}
	for i := 0; i < n; i++ {
		d.check("CopyBlocks", d.be.CopyDtoD(pd+driver.DevicePtr(4*i*dstStride), ps+driver.DevicePtr(4*i*srcStride), 4*int64(size)))
	}
}
