package tensor

import (
	"fmt"
	"math/cmplx"
)

// StatePassKernels carry the diagonal SSM's state between chunks of a sequence, the H3
// paper's state passing: a sequence longer than one convolution is split into chunks of
// Lc positions, each convolved with the kernel's first Lc taps, and what earlier chunks
// leave behind enters through the modes' state. Per channel c (of head h = c/(C/H)) and
// mode n, with dA = z and C' = w as DiagSSMKernel defines them, the recurrence
// x ← z·x + u, y = 2·Re Σₙ w·x + D·u gives for a chunk of inputs u[0..Lc) after state x:
//
//	y[t]  = (causal convolution of the chunk) + 2·Re Σₙ w·z^(t+1)·x
//	x_new = z^Lc·x + Σ_t z^(Lc−1−t)·u[t]
//
// States are (B, C, N, 2) tensors of real/imaginary pairs; sequences are (B, L, C),
// channels last, with C a multiple of H (head_dim² channels per head when head_dim > 1).
// The parameters are the diagonal SSM's, as SSMKernels takes them. The backward kernels
// add to the gradients they are given; nil ones are skipped.
type StatePassKernels interface {
	// DiagSSMChunk is the chunk length the device convolves at once: what keeps one
	// chunk's FFTs in cache on the CPU.
	DiagSSMChunk() int
	// DiagSSMStateOut adds the state's contribution 2·Re Σₙ w·z^(t+1)·x to y (B, L, C).
	DiagSSMStateOut(y, x, logDt, invAReal, aImag, b, c *Tensor, disc Discretization)
	// DiagSSMStateOutBackward adds the gradients of x and the parameters given dy.
	DiagSSMStateOutBackward(dy, x, logDt, invAReal, aImag, b, c *Tensor, disc Discretization,
		dx, dLogDt, dInvAReal, dAImag, dB, dC *Tensor)
	// DiagSSMStateNext writes xNew = z^L·x + Σ_t z^(L−1−t)·u[t] for u (B, L, C); x nil is
	// the zero state.
	DiagSSMStateNext(xNew, x, u, logDt, invAReal, aImag, b, c *Tensor, disc Discretization)
	// DiagSSMStateNextBackward adds the gradients of x, u and the parameters given dxNew.
	DiagSSMStateNextBackward(dxNew, x, u, logDt, invAReal, aImag, b, c *Tensor, disc Discretization,
		dx, du, dLogDt, dInvAReal, dAImag, dB, dC *Tensor)
	// SetH3Diag overwrites the diagonal SSM modes of a recurrent H3 state with x
	// (batch, C, M, 2), whose channels are the state's (head, i, j) outer-product entries:
	// how a chunked prefill hands its carried state to generation.
	SetH3Diag(st H3State, x *Tensor)
}

// DefaultDiagSSMChunk is the CPU's chunk: a channel's FFT of 2·8192 points (64 KiB of
// spectrum) and its kernel stay in a Zen 5 core's 1 MiB L2 cache, and with the default
// model's 32 modes the state's O(Lc·N) work per chunk stays below the FFTs' cost.
const DefaultDiagSSMChunk = 8192

// StateShapes checks the operands of a state-passing kernel and returns B, L, C, H, N
// (the number of complex modes). u (B, L, C) and x (B, C, N, 2) may each be nil, not both.
func StateShapes(op string, u, x, logDt, invAReal, aImag, b, c *Tensor) (batch, length, channels, heads, modes int) {
	heads, modes = DiagSSMShapes(op, logDt, invAReal, aImag, b, c)
	var shapes [][]int
	for _, t := range []*Tensor{u, x} {
		if t != nil {
			shapes = append(shapes, t.shape)
		}
	}
	bad := func(msg string) { panic(&ShapeError{Op: op, Shapes: shapes, Msg: msg}) }
	switch {
	case u != nil:
		if u.Rank() != 3 || u.shape[1] < 1 {
			bad("sequence must be (B, L, C)")
		}
		batch, length, channels = u.shape[0], u.shape[1], u.shape[2]
	case x != nil:
		if x.Rank() != 4 {
			bad("state must be (B, C, N, 2)")
		}
		batch, channels = x.shape[0], x.shape[1]
	default:
		bad("neither a sequence nor a state")
	}
	if channels < heads || channels%heads != 0 {
		bad(fmt.Sprintf("%d channels do not split over %d heads", channels, heads))
	}
	if x != nil && !SameShape(x.shape, []int{batch, channels, modes, 2}) {
		bad(fmt.Sprintf("state must be (%d, %d, %d, 2)", batch, channels, modes))
	}
	return batch, length, channels, heads, modes
}

func checkSame(op string, g, like *Tensor, what string) {
	if g != nil && !SameShape(g.shape, like.shape) {
		panic(&ShapeError{Op: op, Shapes: [][]int{g.shape, like.shape}, Msg: what + " is not shaped like its operand"})
	}
}

// diagModes returns every head's modes, (H, N) row-major.
func diagModes(logDt, invAReal, aImag, b, c *Tensor, h, n int, disc Discretization) []diagMode {
	ms := make([]diagMode, h*n)
	for hh := 0; hh < h; hh++ {
		for j := 0; j < n; j++ {
			ms[hh*n+j] = diagModeAt(logDt.data, invAReal.data, aImag.data, b.data, c.data, hh, n, j, disc)
		}
	}
	return ms
}

// paramGrads turns the gradients of a head's C' = w and dA = z (g_w, g_z in the
// convention of DiagSSMKernelBackward) into those of the stored parameters.
func paramGrads(ms []diagMode, hh, n int, gW, gZ []complex128, dLogDt, dInvAReal, dAImag, dB, dC *Tensor) {
	gLogDt := 0.0
	for j := 0; j < n; j++ {
		m := &ms[hh*n+j]
		gF := gW[j] * cmplx.Conj(m.bc)
		gA := gZ[j]*cmplx.Conj(m.dzdA) + gF*cmplx.Conj(m.dfdA)
		gDt := real(gZ[j]*cmplx.Conj(m.dzdDt)) + real(gF*cmplx.Conj(m.dfdDt))
		gLogDt += gDt * m.dt
		i := hh*n + j
		if dInvAReal != nil {
			dInvAReal.data[i] += float32(real(gA) * m.aRealEx)
		}
		if dAImag != nil {
			dAImag.data[i] += float32(imag(gA))
		}
		if dB != nil {
			g := gW[j] * cmplx.Conj(m.cParam*m.f)
			dB.data[2*i] += float32(real(g))
			dB.data[2*i+1] += float32(imag(g))
		}
		if dC != nil {
			g := gW[j] * cmplx.Conj(m.bParam*m.f)
			dC.data[2*i] += float32(real(g))
			dC.data[2*i+1] += float32(imag(g))
		}
	}
	if dLogDt != nil {
		dLogDt.data[hh] += float32(gLogDt)
	}
}

// DiagSSMChunk implements StatePassKernels.
func (c *CPU) DiagSSMChunk() int { return DefaultDiagSSMChunk }

// stateAt reads mode j of channel ch of sequence bb from a (B, C, N, 2) state.
func stateAt(x []float32, bb, ch, nc, n, j int) complex128 {
	i := ((bb*nc+ch)*n + j) * 2
	return complex(float64(x[i]), float64(x[i+1]))
}

// DiagSSMStateOut implements StatePassKernels. Per channel the modes' terms
// p = w·z^(t+1)·x advance by one multiplication per position, in float64 like the
// kernel's powers, real and imaginary parts apart with the modes innermost.
func (c *CPU) DiagSSMStateOut(y, x, logDt, invAReal, aImag, b, cp *Tensor, disc Discretization) {
	nb, l, nc, h, n := StateShapes("DiagSSMStateOut", y, x, logDt, invAReal, aImag, b, cp)
	ms := diagModes(logDt, invAReal, aImag, b, cp, h, n, disc)
	rep := nc / h
	c.For(nb*nc, 1, func(lo, hi int) {
		pr, pi := make([]float64, n), make([]float64, n)
		zr, zi := make([]float64, n), make([]float64, n)
		// Slices of one length, so that the compiler drops the inner loop's bounds checks.
		pi, zr, zi = pi[:len(pr)], zr[:len(pr)], zi[:len(pr)]
		for task := lo; task < hi; task++ {
			bb, ch := task/nc, task%nc
			hh := ch / rep
			for j := 0; j < n; j++ {
				m := &ms[hh*n+j]
				p := m.w * m.z * stateAt(x.data, bb, ch, nc, n, j)
				pr[j], pi[j] = real(p), imag(p)
				zr[j], zi[j] = real(m.z), imag(m.z)
			}
			out := y.data[bb*l*nc+ch:]
			for t := 0; t < l; t++ {
				s := 0.0
				for j := range pr {
					r, i := pr[j], pi[j]
					s += r
					pr[j] = r*zr[j] - i*zi[j]
					pi[j] = r*zi[j] + i*zr[j]
				}
				out[t*nc] += float32(2 * s)
			}
		}
	})
}

// DiagSSMStateOutBackward implements StatePassKernels. With S0 = Σ_t dy[t]·z^t and
// S1 = Σ_t (t+1)·dy[t]·z^t: g_x = 2·conj(w·z·S0), g_w = 2·conj(x·z·S0) and
// g_z = 2·conj(w·x·S1), summed over the sequences and channels of a head. The workers
// split the heads, so that each owns its parameters' gradients.
func (c *CPU) DiagSSMStateOutBackward(dy, x, logDt, invAReal, aImag, b, cp *Tensor, disc Discretization,
	dx, dLogDt, dInvAReal, dAImag, dB, dC *Tensor) {
	nb, l, nc, h, n := StateShapes("DiagSSMStateOutBackward", dy, x, logDt, invAReal, aImag, b, cp)
	checkSame("DiagSSMStateOutBackward", dx, x, "state gradient")
	ms := diagModes(logDt, invAReal, aImag, b, cp, h, n, disc)
	rep := nc / h
	params := dLogDt != nil || dInvAReal != nil || dAImag != nil || dB != nil || dC != nil
	c.For(h, 1, func(lo, hi int) {
		pr, pi := make([]float64, n), make([]float64, n)
		zr, zi := make([]float64, n), make([]float64, n)
		s0r, s0i := make([]float64, n), make([]float64, n)
		s1r, s1i := make([]float64, n), make([]float64, n)
		pi, zr, zi = pi[:len(pr)], zr[:len(pr)], zi[:len(pr)]
		s0r, s0i, s1r, s1i = s0r[:len(pr)], s0i[:len(pr)], s1r[:len(pr)], s1i[:len(pr)]
		gW, gZ := make([]complex128, n), make([]complex128, n)
		for hh := lo; hh < hi; hh++ {
			clear(gW)
			clear(gZ)
			for bb := 0; bb < nb; bb++ {
				for ch := hh * rep; ch < (hh+1)*rep; ch++ {
					for j := 0; j < n; j++ {
						m := &ms[hh*n+j]
						pr[j], pi[j] = 1, 0
						zr[j], zi[j] = real(m.z), imag(m.z)
						s0r[j], s0i[j], s1r[j], s1i[j] = 0, 0, 0, 0
					}
					g := dy.data[bb*l*nc+ch:]
					for t := 0; t < l; t++ {
						g0 := float64(g[t*nc])
						g1 := float64(t+1) * g0
						for j := range pr {
							r, i := pr[j], pi[j]
							s0r[j] += g0 * r
							s0i[j] += g0 * i
							s1r[j] += g1 * r
							s1i[j] += g1 * i
							pr[j] = r*zr[j] - i*zi[j]
							pi[j] = r*zi[j] + i*zr[j]
						}
					}
					for j := 0; j < n; j++ {
						m := &ms[hh*n+j]
						s0, s1 := complex(s0r[j], s0i[j]), complex(s1r[j], s1i[j])
						xv := stateAt(x.data, bb, ch, nc, n, j)
						if dx != nil {
							gx := 2 * cmplx.Conj(m.w*m.z*s0)
							k := ((bb*nc+ch)*n + j) * 2
							dx.data[k] += float32(real(gx))
							dx.data[k+1] += float32(imag(gx))
						}
						gW[j] += 2 * cmplx.Conj(xv*m.z*s0)
						gZ[j] += 2 * cmplx.Conj(m.w*xv*s1)
					}
				}
			}
			if params {
				paramGrads(ms, hh, n, gW, gZ, dLogDt, dInvAReal, dAImag, dB, dC)
			}
		}
	})
}

// DiagSSMStateNext implements StatePassKernels by Horner's rule over the chunk:
// x ← z·x + u[t].
func (c *CPU) DiagSSMStateNext(xNew, x, u, logDt, invAReal, aImag, b, cp *Tensor, disc Discretization) {
	nb, l, nc, h, n := StateShapes("DiagSSMStateNext", u, x, logDt, invAReal, aImag, b, cp)
	if !SameShape(xNew.shape, []int{nb, nc, n, 2}) {
		panic(&ShapeError{Op: "DiagSSMStateNext", Shapes: [][]int{xNew.shape, u.shape}, Msg: fmt.Sprintf("new state must be (%d, %d, %d, 2)", nb, nc, n)})
	}
	ms := diagModes(logDt, invAReal, aImag, b, cp, h, n, disc)
	rep := nc / h
	c.For(nb*nc, 1, func(lo, hi int) {
		ar, ai := make([]float64, n), make([]float64, n)
		zr, zi := make([]float64, n), make([]float64, n)
		ai, zr, zi = ai[:len(ar)], zr[:len(ar)], zi[:len(ar)]
		for task := lo; task < hi; task++ {
			bb, ch := task/nc, task%nc
			hh := ch / rep
			for j := 0; j < n; j++ {
				m := &ms[hh*n+j]
				zr[j], zi[j] = real(m.z), imag(m.z)
				ar[j], ai[j] = 0, 0
				if x != nil {
					v := stateAt(x.data, bb, ch, nc, n, j)
					ar[j], ai[j] = real(v), imag(v)
				}
			}
			in := u.data[bb*l*nc+ch:]
			for t := 0; t < l; t++ {
				v := float64(in[t*nc])
				for j := range ar {
					r, i := ar[j], ai[j]
					ar[j] = r*zr[j] - i*zi[j] + v
					ai[j] = r*zi[j] + i*zr[j]
				}
			}
			out := xNew.data[(bb*nc+ch)*n*2:]
			for j := 0; j < n; j++ {
				out[2*j], out[2*j+1] = float32(ar[j]), float32(ai[j])
			}
		}
	})
}

// DiagSSMStateNextBackward implements StatePassKernels. With G = g_xNew:
// g_x = G·conj(z^L), ∂loss/∂u[t] = Re Σₙ G·conj(z)^(L−1−t), and g_z = G·conj(∂xNew/∂z),
// the derivative carried through Horner's rule beside the state itself.
func (c *CPU) DiagSSMStateNextBackward(dxNew, x, u, logDt, invAReal, aImag, b, cp *Tensor, disc Discretization,
	dx, du, dLogDt, dInvAReal, dAImag, dB, dC *Tensor) {
	nb, l, nc, h, n := StateShapes("DiagSSMStateNextBackward", u, x, logDt, invAReal, aImag, b, cp)
	if !SameShape(dxNew.shape, []int{nb, nc, n, 2}) {
		panic(&ShapeError{Op: "DiagSSMStateNextBackward", Shapes: [][]int{dxNew.shape, u.shape}, Msg: fmt.Sprintf("state gradient must be (%d, %d, %d, 2)", nb, nc, n)})
	}
	if x != nil {
		checkSame("DiagSSMStateNextBackward", dx, x, "state gradient")
	}
	checkSame("DiagSSMStateNextBackward", du, u, "input gradient")
	ms := diagModes(logDt, invAReal, aImag, b, cp, h, n, disc)
	rep := nc / h
	params := dLogDt != nil || dInvAReal != nil || dAImag != nil || dB != nil || dC != nil
	c.For(h, 1, func(lo, hi int) {
		ar, ai := make([]float64, n), make([]float64, n)
		er, ei := make([]float64, n), make([]float64, n)
		zr, zi := make([]float64, n), make([]float64, n)
		gr, gi := make([]float64, n), make([]float64, n)
		dr, di := make([]float64, n), make([]float64, n)
		ai, er, ei, zr, zi, dr, di = ai[:len(ar)], er[:len(ar)], ei[:len(ar)], zr[:len(ar)], zi[:len(ar)], dr[:len(ar)], di[:len(ar)]
		gZ, gW := make([]complex128, n), make([]complex128, n)
		for hh := lo; hh < hi; hh++ {
			clear(gZ)
			for bb := 0; bb < nb; bb++ {
				for ch := hh * rep; ch < (hh+1)*rep; ch++ {
					base := (bb*nc + ch) * n * 2
					for j := 0; j < n; j++ {
						m := &ms[hh*n+j]
						zr[j], zi[j] = real(m.z), imag(m.z)
						gr[j], gi[j] = float64(dxNew.data[base+2*j]), float64(dxNew.data[base+2*j+1])
					}
					// du[t] = Re Σ G·conj(z)^(L−1−t), walking t down from L−1 with
					// e = G·conj(z)^(L−1−t); after the walk e = G·conj(z)^L = g_x.
					if du != nil || dx != nil {
						copy(er, gr)
						copy(ei, gi)
						var g []float32
						if du != nil {
							g = du.data[bb*l*nc+ch:]
						}
						for t := l - 1; t >= 0; t-- {
							s := 0.0
							for j := range er {
								r, i := er[j], ei[j]
								s += r
								// e·conj(z)
								er[j] = r*zr[j] + i*zi[j]
								ei[j] = i*zr[j] - r*zi[j]
							}
							if du != nil {
								g[t*nc] += float32(s)
							}
						}
						if dx != nil && x != nil {
							for j := 0; j < n; j++ {
								dx.data[base+2*j] += float32(er[j])
								dx.data[base+2*j+1] += float32(ei[j])
							}
						}
					}
					if !params {
						continue
					}
					// Horner's rule with its derivative in z: d ← d·z + a, a ← a·z + u.
					for j := 0; j < n; j++ {
						dr[j], di[j] = 0, 0
						ar[j], ai[j] = 0, 0
						if x != nil {
							v := stateAt(x.data, bb, ch, nc, n, j)
							ar[j], ai[j] = real(v), imag(v)
						}
					}
					in := u.data[bb*l*nc+ch:]
					for t := 0; t < l; t++ {
						v := float64(in[t*nc])
						for j := range ar {
							r, i := ar[j], ai[j]
							pr, pi := dr[j], di[j]
							dr[j] = pr*zr[j] - pi*zi[j] + r
							di[j] = pr*zi[j] + pi*zr[j] + i
							ar[j] = r*zr[j] - i*zi[j] + v
							ai[j] = r*zi[j] + i*zr[j]
						}
					}
					for j := 0; j < n; j++ {
						gZ[j] += complex(gr[j], gi[j]) * cmplx.Conj(complex(dr[j], di[j]))
					}
				}
			}
			if params {
				paramGrads(ms, hh, n, gW, gZ, dLogDt, dInvAReal, dAImag, dB, dC)
			}
		}
	})
}

// SetH3Diag implements StatePassKernels.
func (c *CPU) SetH3Diag(st H3State, x *Tensor) {
	s := c.h3State("SetH3Diag", st)
	r := s.r
	nc, m := r.Heads()*r.HeadDim*r.HeadDim, r.Modes()
	if !SameShape(x.shape, []int{s.batch, nc, m, 2}) {
		panic(&ShapeError{Op: "SetH3Diag", Shapes: [][]int{x.shape}, Msg: fmt.Sprintf("state must be (%d, %d, %d, 2)", s.batch, nc, m)})
	}
	for i := range s.diag {
		s.diag[i] = complex(float64(x.data[2*i]), float64(x.data[2*i+1]))
	}
}
