package tensor

import (
	"fmt"
	"math"
	"math/cmplx"
)

// Discretization turns the continuous diagonal state matrix A and the step dt into the
// discrete recurrence x ← dA·x + dB·u.
type Discretization int

const (
	// ZOH is the zero-order hold: dA = exp(dt·A), dB = (exp(dt·A) − 1)/A.
	ZOH Discretization = iota
	// Bilinear is the Tustin transform: dA = (1 + dt·A/2)/(1 − dt·A/2),
	// dB = dt/(1 − dt·A/2). It is what the official SSKernelDiag uses by default.
	Bilinear
)

// String returns the name the model configuration uses.
func (d Discretization) String() string {
	switch d {
	case ZOH:
		return "zoh"
	case Bilinear:
		return "bilinear"
	}
	return fmt.Sprintf("Discretization(%d)", int(d))
}

// ParseDiscretization maps "zoh" and "bilinear" to their Discretization.
func ParseDiscretization(s string) (Discretization, error) {
	switch s {
	case "zoh":
		return ZOH, nil
	case "bilinear":
		return Bilinear, nil
	}
	return 0, fmt.Errorf("unknown SSM discretization %q (want \"zoh\" or \"bilinear\")", s)
}

// SSMKernels turn state-space parameters into convolution kernels and step H3's
// recurrence (H3Recurrence) one position at a time.
//
// The diagonal SSM (S4D) of H heads with N complex modes is stored as the official
// SSKernelDiag stores it: logDt (H), invAReal (H, N), aImag (H, N), and B and C as
// (H, N, 2) real/imaginary pairs (C may carry a leading channel axis of 1). With
// dt = exp(logDt) and A = −exp(invAReal) + i·aImag its kernel is
//
//	K[h, l] = 2·Re Σₙ C'[h,n]·dA[h,n]ˡ,   C' = B·C·dB
//
// The shift SSM of H channels with N taps stores B (H, N) and C (H, N) (or (1, H, N)); A
// is the fixed shift, so its kernel is a correlation: k[h, i] = Σₙ B[h,n]·C[h,n+i].
type SSMKernels interface {
	// DiagSSMKernel writes the kernel K (H, L) of the diagonal SSM.
	DiagSSMKernel(k, logDt, invAReal, aImag, b, c *Tensor, disc Discretization)
	// DiagSSMKernelBackward adds ∂loss/∂parameter to each gradient tensor given dK, the
	// gradient of the kernel. A nil gradient tensor is skipped.
	DiagSSMKernelBackward(dk, logDt, invAReal, aImag, b, c *Tensor, disc Discretization,
		dLogDt, dInvAReal, dAImag, dB, dC *Tensor)
	// ShiftSSMKernel writes the first Lk = k.Dim(1) ≤ N taps of the shift SSM's kernel
	// (the rest are zero).
	ShiftSSMKernel(k, b, c *Tensor)
	// ShiftSSMKernelBackward adds the gradients of B and C (either may be nil) given dk.
	ShiftSSMKernelBackward(dk, b, c, dB, dC *Tensor)

	// NewH3State returns the zero recurrent state of batch sequences through r, kept in
	// the device's memory and in the precision its H3Step needs.
	NewH3State(r *H3Recurrence, batch int) H3State
	// H3Seed sets st to what stepping through every position of k, kShifted and v
	// (batch, L, d) from the zero state leaves: the key projection, its shift-SSM output
	// and the value projection of a convolutional pass.
	H3Seed(st H3State, k, kShifted, v *Tensor)
	// H3Step advances st by one position given its projections q, k and v (batch, d) and
	// writes the contraction o (batch, d) that the mixer's output map takes.
	H3Step(st H3State, o, q, k, v *Tensor)
}

// DiagSSMShapes checks the parameters of a diagonal SSM and returns H and N. It panics
// with a *ShapeError naming the shapes when they do not fit.
func DiagSSMShapes(op string, logDt, invAReal, aImag, b, c *Tensor) (h, n int) {
	bad := func(msg string) {
		panic(&ShapeError{Op: op, Shapes: [][]int{logDt.shape, invAReal.shape, aImag.shape, b.shape, c.shape}, Msg: msg})
	}
	if logDt.Rank() != 1 || invAReal.Rank() != 2 {
		bad("want log_dt (H) and inv_A_real (H, N)")
	}
	h, n = logDt.shape[0], invAReal.shape[1]
	if invAReal.shape[0] != h || !SameShape(aImag.shape, invAReal.shape) {
		bad("inv_A_real and A_imag must be (H, N)")
	}
	if !SameShape(b.shape, []int{h, n, 2}) {
		bad("B must be (H, N, 2)")
	}
	if !SameShape(c.shape, []int{h, n, 2}) && !SameShape(c.shape, []int{1, h, n, 2}) {
		bad("C must be (H, N, 2) or (1, H, N, 2)")
	}
	return h, n
}

// ShiftSSMShapes checks the parameters of a shift SSM and returns H and N.
func ShiftSSMShapes(op string, b, c *Tensor) (h, n int) {
	if b.Rank() != 2 {
		panic(&ShapeError{Op: op, Shapes: [][]int{b.shape, c.shape}, Msg: "B must be (H, N)"})
	}
	h, n = b.shape[0], b.shape[1]
	if !SameShape(c.shape, b.shape) && !SameShape(c.shape, []int{1, h, n}) {
		panic(&ShapeError{Op: op, Shapes: [][]int{b.shape, c.shape}, Msg: "C must be (H, N) or (1, H, N)"})
	}
	return h, n
}

// diagMode is one discretised mode of a diagonal SSM and what its gradient needs, all in
// float64 so that powers up to L = 8192 lose no more than about L·2⁻⁵³ relative.
type diagMode struct {
	dt      float64
	a       complex128 // continuous A
	bc      complex128 // B·C
	f       complex128 // dB: the factor that turns B·C into C'
	z       complex128 // dA
	w       complex128 // C' = B·C·dB
	dzdA    complex128
	dzdDt   complex128
	dfdA    complex128
	dfdDt   complex128
	bParam  complex128
	cParam  complex128
	aRealEx float64 // A's real part, = −exp(invAReal), also ∂Re A/∂invAReal
}

// phi1 returns (eˣ − 1)/x and its derivative, by their Taylor series where the closed
// forms cancel catastrophically (|x| < 1e-2 leaves a truncation error below 1e-16).
func phi1(x complex128) (v, dv complex128) {
	if cmplx.Abs(x) < 1e-2 {
		v = 1 + x*(1.0/2+x*(1.0/6+x*(1.0/24+x*(1.0/120+x*(1.0/720+x/5040)))))
		dv = 1.0/2 + x*(2.0/6+x*(3.0/24+x*(4.0/120+x*(5.0/720+x*(6.0/5040+x*7.0/40320)))))
		return v, dv
	}
	e := cmplx.Exp(x)
	v = (e - 1) / x
	dv = (x*e - e + 1) / (x * x)
	return v, dv
}

func newDiagMode(logDt float32, invAReal, aImag float32, br, bi, cr, ci float32, disc Discretization) diagMode {
	var m diagMode
	m.dt = math.Exp(float64(logDt))
	m.aRealEx = -math.Exp(float64(invAReal))
	m.a = complex(m.aRealEx, float64(aImag))
	m.bParam = complex(float64(br), float64(bi))
	m.cParam = complex(float64(cr), float64(ci))
	m.bc = m.bParam * m.cParam
	dt := complex(m.dt, 0)
	x := dt * m.a
	switch disc {
	case ZOH:
		m.z = cmplx.Exp(x)
		p, dp := phi1(x)
		// dB = (e^{dtA} − 1)/A = dt·φ1(dt·A).
		m.f = dt * p
		m.dzdA = dt * m.z
		m.dzdDt = m.a * m.z
		m.dfdA = dt * dt * dp
		m.dfdDt = m.z
	case Bilinear:
		den := 1 - x/2
		inv2 := 1 / (den * den)
		m.z = (1 + x/2) / den
		m.f = dt / den
		m.dzdA = dt * inv2
		m.dzdDt = m.a * inv2
		m.dfdA = dt * dt / 2 * inv2
		m.dfdDt = inv2
	default:
		panic(fmt.Sprintf("tensor: unknown discretization %d", int(disc)))
	}
	m.w = m.bc * m.f
	return m
}

func diagModeAt(logDt, invAReal, aImag, b, c []float32, h, n, j int, disc Discretization) diagMode {
	i := h*n + j
	return newDiagMode(logDt[h], invAReal[i], aImag[i], b[2*i], b[2*i+1], c[2*i], c[2*i+1], disc)
}

// DiagSSMKernel implements SSMKernels.
func (c *CPU) DiagSSMKernel(k, logDt, invAReal, aImag, b, cp *Tensor, disc Discretization) {
	h, n := DiagSSMShapes("DiagSSMKernel", logDt, invAReal, aImag, b, cp)
	if k.Rank() != 2 || k.shape[0] != h {
		panic(&ShapeError{Op: "DiagSSMKernel", Shapes: [][]int{k.shape, logDt.shape}, Msg: "K must be (H, L)"})
	}
	L := k.shape[1]
	c.For(h, 1, func(lo, hi int) {
		// Real and imaginary parts in separate arrays, modes in the inner loop: each mode's
		// powers form a serial chain of multiplications, and interleaving the modes lets
		// the chains overlap instead of waiting on each other.
		work := c.f64(4 * n)
		defer c.putF64(work)
		pr, pi, zr, zi := work[:n], work[n:2*n], work[2*n:3*n], work[3*n:]
		for hh := lo; hh < hi; hh++ {
			for j := 0; j < n; j++ {
				m := diagModeAt(logDt.data, invAReal.data, aImag.data, b.data, cp.data, hh, n, j, disc)
				// p = C'·dAˡ by repeated multiplication: each step adds one rounding, so
				// the error after 8192 steps stays near 1e-12 relative.
				pr[j], pi[j] = real(m.w), imag(m.w)
				zr[j], zi[j] = real(m.z), imag(m.z)
			}
			row := k.data[hh*L : (hh+1)*L]
			pi, zr, zi := pi[:len(pr)], zr[:len(pr)], zi[:len(pr)]
			for l := range row {
				s := 0.0
				for j := range pr {
					r, i := pr[j], pi[j]
					s += r
					pr[j] = r*zr[j] - i*zi[j]
					pi[j] = r*zi[j] + i*zr[j]
				}
				row[l] = float32(2 * s)
			}
		}
	})
}

// DiagSSMKernelBackward implements SSMKernels.
//
// Complex parameters are handled through g_u = ∂loss/∂Re u + i·∂loss/∂Im u. For a
// holomorphic w = f(u), g_u = g_w·conj(f′(u)); for a real t, ∂loss/∂t = Re(g_w·conj(∂w/∂t)).
// With K[l] = 2·Re(C'·zˡ): g_C' = 2·conj(Σ dK[l]·zˡ) and g_z = 2·conj(C'·Σ l·dK[l]·zˡ⁻¹).
func (c *CPU) DiagSSMKernelBackward(dk, logDt, invAReal, aImag, b, cp *Tensor, disc Discretization,
	dLogDt, dInvAReal, dAImag, dB, dC *Tensor) {
	h, n := DiagSSMShapes("DiagSSMKernelBackward", logDt, invAReal, aImag, b, cp)
	if dk.Rank() != 2 || dk.shape[0] != h {
		panic(&ShapeError{Op: "DiagSSMKernelBackward", Shapes: [][]int{dk.shape, logDt.shape}, Msg: "dK must be (H, L)"})
	}
	L := dk.shape[1]
	c.For(h, 1, func(lo, hi int) {
		// The default model's 32 modes fit on the stack; larger states take the heap.
		var onStack [32]diagMode
		modes := onStack[:min(n, len(onStack))]
		if n > len(onStack) {
			modes = make([]diagMode, n)
		}
		// Powers zˡ and the two sums, split into real and imaginary arrays with the modes
		// innermost, as in DiagSSMKernel. The arrays come from the scratch store.
		work := c.f64(8 * n)
		defer c.putF64(work)
		pr, pi, zr, zi := work[:n], work[n:2*n], work[2*n:3*n], work[3*n:4*n]
		s0r, s0i, s1r, s1i := work[4*n:5*n], work[5*n:6*n], work[6*n:7*n], work[7*n:]
		for hh := lo; hh < hi; hh++ {
			for j := range modes {
				modes[j] = diagModeAt(logDt.data, invAReal.data, aImag.data, b.data, cp.data, hh, n, j, disc)
				pr[j], pi[j] = 1, 0
				zr[j], zi[j] = real(modes[j].z), imag(modes[j].z)
				s0r[j], s0i[j], s1r[j], s1i[j] = 0, 0, 0, 0
			}
			dkRow := dk.data[hh*L : (hh+1)*L]
			pi, zr, zi := pi[:len(pr)], zr[:len(pr)], zi[:len(pr)]
			s0r, s0i, s1r, s1i := s0r[:len(pr)], s0i[:len(pr)], s1r[:len(pr)], s1i[:len(pr)]
			for l := 0; l < L; l++ {
				g0 := float64(dkRow[l])
				g1 := 0.0
				if l+1 < L {
					g1 = float64(l+1) * float64(dkRow[l+1])
				}
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
			gLogDt := 0.0
			for j := range modes {
				m := &modes[j]
				s0, s1 := complex(s0r[j], s0i[j]), complex(s1r[j], s1i[j])
				gW := 2 * cmplx.Conj(s0)
				gZ := 2 * cmplx.Conj(m.w*s1)
				gF := gW * cmplx.Conj(m.bc)
				gA := gZ*cmplx.Conj(m.dzdA) + gF*cmplx.Conj(m.dfdA)
				gDt := real(gZ*cmplx.Conj(m.dzdDt)) + real(gF*cmplx.Conj(m.dfdDt))
				gLogDt += gDt * m.dt
				i := hh*n + j
				if dInvAReal != nil {
					dInvAReal.data[i] += float32(real(gA) * m.aRealEx)
				}
				if dAImag != nil {
					dAImag.data[i] += float32(imag(gA))
				}
				if dB != nil {
					g := gW * cmplx.Conj(m.cParam*m.f)
					dB.data[2*i] += float32(real(g))
					dB.data[2*i+1] += float32(imag(g))
				}
				if dC != nil {
					g := gW * cmplx.Conj(m.bParam*m.f)
					dC.data[2*i] += float32(real(g))
					dC.data[2*i+1] += float32(imag(g))
				}
			}
			if dLogDt != nil {
				dLogDt.data[hh] += float32(gLogDt)
			}
		}
	})
}

func checkShiftKernel(op string, k *Tensor, h, n int) int {
	if k.Rank() != 2 || k.shape[0] != h || k.shape[1] > n {
		panic(&ShapeError{Op: op, Shapes: [][]int{k.shape, {h, n}}, Msg: "kernel must be (H, Lk) with Lk ≤ N"})
	}
	return k.shape[1]
}

// ShiftSSMKernel implements SSMKernels.
func (c *CPU) ShiftSSMKernel(k, b, cp *Tensor) {
	h, n := ShiftSSMShapes("ShiftSSMKernel", b, cp)
	lk := checkShiftKernel("ShiftSSMKernel", k, h, n)
	c.For(h, 4, func(lo, hi int) {
		for hh := lo; hh < hi; hh++ {
			br, cr := b.data[hh*n:(hh+1)*n], cp.data[hh*n:(hh+1)*n]
			for i := 0; i < lk; i++ {
				s := 0.0
				for j := 0; j+i < n; j++ {
					s += float64(br[j]) * float64(cr[j+i])
				}
				k.data[hh*lk+i] = float32(s)
			}
		}
	})
}

// ShiftSSMKernelBackward implements SSMKernels.
func (c *CPU) ShiftSSMKernelBackward(dk, b, cp, dB, dC *Tensor) {
	h, n := ShiftSSMShapes("ShiftSSMKernelBackward", b, cp)
	lk := checkShiftKernel("ShiftSSMKernelBackward", dk, h, n)
	c.For(h, 4, func(lo, hi int) {
		for hh := lo; hh < hi; hh++ {
			br, cr := b.data[hh*n:(hh+1)*n], cp.data[hh*n:(hh+1)*n]
			g := dk.data[hh*lk : (hh+1)*lk]
			if dB != nil {
				// ∂k[i]/∂B[j] = C[j+i].
				row := dB.data[hh*n : (hh+1)*n]
				for j := range row {
					s := 0.0
					for i := 0; i < lk && j+i < n; i++ {
						s += float64(g[i]) * float64(cr[j+i])
					}
					row[j] += float32(s)
				}
			}
			if dC != nil {
				// ∂k[i]/∂C[m] = B[m−i].
				row := dC.data[hh*n : (hh+1)*n]
				for m := range row {
					s := 0.0
					for i := 0; i < lk && i <= m; i++ {
						s += float64(g[i]) * float64(br[m-i])
					}
					row[m] += float32(s)
				}
			}
		}
	})
}

// DiagSSMDiscrete returns, per head and mode ((H, N) row-major), dA and C' = B·C·dB in
// float64: what the recurrent form x ← dA·x + u, y = 2·Re Σₙ C'·x needs. Its kernel is
// the one DiagSSMKernel computes. The parameters may live on any device.
func DiagSSMDiscrete(logDt, invAReal, aImag, b, c *Tensor, disc Discretization) (dA, w []complex128) {
	h, n := DiagSSMShapes("DiagSSMDiscrete", logDt, invAReal, aImag, b, c)
	ld, ar, ai, bd, cd := logDt.Host(), invAReal.Host(), aImag.Host(), b.Host(), c.Host()
	dA = make([]complex128, h*n)
	w = make([]complex128, h*n)
	for hh := 0; hh < h; hh++ {
		for j := 0; j < n; j++ {
			m := diagModeAt(ld, ar, ai, bd, cd, hh, n, j, disc)
			dA[hh*n+j], w[hh*n+j] = m.z, m.w
		}
	}
	return dA, w
}
