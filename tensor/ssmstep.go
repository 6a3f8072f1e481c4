package tensor

import (
	"fmt"
	"slices"
)

// H3Recurrence is the recurrent form of an H3 mixer, its parameters discretised once on
// the host in float64. Per channel c of Dim, the shift SSM keeps N taps s:
//
//	s ← shift(s) + ShiftB[c]·k,   k̃ = ShiftC[c]·s + ShiftD[c]·k
//
// and per head h (Dim/HeadDim of them) each entry (i, j) of the outer product
// z = k̃[h·dh+i]·v[h·dh+j] drives M complex modes x of the diagonal SSM:
//
//	x ← DA[h]·x + z,   y = 2·Re Σₘ W[h]·x + Skip[h]·z,   o[h·dh+j] = Σᵢ q[h·dh+i]·y
//
// which is the convolutional form's arithmetic (DiagSSMDiscrete gives DA and W). A
// mixer without one of the SSMs passes it through: ShiftB = ShiftC = 0 and ShiftD = 1, or
// DA = W = 0 and Skip = 1.
type H3Recurrence struct {
	Dim, HeadDim           int
	ShiftB, ShiftC, ShiftD []float64    // (Dim, N), (Dim, N), (Dim)
	DA, W                  []complex128 // (heads, M)
	Skip                   []float64    // (heads)
}

// Heads is Dim/HeadDim.
func (r *H3Recurrence) Heads() int { return r.Dim / r.HeadDim }

// Taps is the shift SSM's N.
func (r *H3Recurrence) Taps() int { return len(r.ShiftB) / r.Dim }

// Modes is the diagonal SSM's M.
func (r *H3Recurrence) Modes() int { return len(r.DA) / r.Heads() }

// Check reports a recurrence whose sizes do not fit together.
func (r *H3Recurrence) Check() error {
	if r.Dim <= 0 || r.HeadDim <= 0 || r.Dim%r.HeadDim != 0 {
		return fmt.Errorf("h3 recurrence: %d channels do not split into heads of %d", r.Dim, r.HeadDim)
	}
	n, heads := len(r.ShiftB)/r.Dim, r.Heads()
	switch {
	case n == 0 || len(r.ShiftB) != r.Dim*n || len(r.ShiftC) != r.Dim*n || len(r.ShiftD) != r.Dim:
		return fmt.Errorf("h3 recurrence: shift SSM of %d, %d and %d values for %d channels", len(r.ShiftB), len(r.ShiftC), len(r.ShiftD), r.Dim)
	case len(r.DA) == 0 || len(r.DA)%heads != 0 || len(r.W) != len(r.DA) || len(r.Skip) != heads:
		return fmt.Errorf("h3 recurrence: diagonal SSM of %d, %d and %d values for %d heads", len(r.DA), len(r.W), len(r.Skip), heads)
	}
	return nil
}

// H3State is a device's recurrent state of an H3 mixer over a batch of sequences, made
// by its NewH3State and usable only by that device. It holds its own copy of the
// recurrence.
type H3State interface {
	// Batch is the number of sequences.
	Batch() int
	// Recurrence is the form the state was made for.
	Recurrence() *H3Recurrence
}

// H3StepShapes checks the operands of H3Step: q, k, v and o hold (batch, d) each.
func H3StepShapes(op string, st H3State, o, q, k, v *Tensor) {
	want := st.Batch() * st.Recurrence().Dim
	for _, t := range []*Tensor{o, q, k, v} {
		if t.Numel() != want {
			panic(&ShapeError{Op: op, Shapes: [][]int{o.shape, q.shape, k.shape, v.shape},
				Msg: fmt.Sprintf("o, q, k and v must hold (batch %d, d %d)", st.Batch(), st.Recurrence().Dim)})
		}
	}
}

// H3SeedShapes checks the operands of H3Seed, three (batch, L, d) sequences, and returns L.
func H3SeedShapes(op string, st H3State, k, kShifted, v *Tensor) int {
	b, d := st.Batch(), st.Recurrence().Dim
	if k.Rank() != 3 || k.shape[0] != b || k.shape[2] != d || !SameShape(kShifted.shape, k.shape) || !SameShape(v.shape, k.shape) {
		panic(&ShapeError{Op: op, Shapes: [][]int{k.shape, kShifted.shape, v.shape}, Msg: fmt.Sprintf("want three (%d, L, %d) sequences", b, d)})
	}
	return k.shape[1]
}

func checkH3State(op string, r *H3Recurrence, batch int) {
	if err := r.Check(); err != nil {
		panic(&ShapeError{Op: op, Msg: err.Error()})
	}
	if batch <= 0 {
		panic(&ShapeError{Op: op, Msg: fmt.Sprintf("batch must be positive, got %d", batch)})
	}
}

// CloneH3Recurrence copies r, so that a state does not see later changes to its slices.
func CloneH3Recurrence(r *H3Recurrence) *H3Recurrence {
	return &H3Recurrence{Dim: r.Dim, HeadDim: r.HeadDim, ShiftB: slices.Clone(r.ShiftB), ShiftC: slices.Clone(r.ShiftC),
		ShiftD: slices.Clone(r.ShiftD), DA: slices.Clone(r.DA), W: slices.Clone(r.W), Skip: slices.Clone(r.Skip)}
}

// cpuH3State keeps the state in float64: the slowest diagonal modes (|dA| ≈ 1 − 5e-4)
// sum a few thousand steps, enough for float32 rounding of dA and of the state to reach
// 1e-4 of the output.
type cpuH3State struct {
	r     *H3Recurrence
	batch int
	shift []float64    // (batch, d, n)
	diag  []complex128 // (batch, heads, dh, dh, m)
}

func (s *cpuH3State) Batch() int                { return s.batch }
func (s *cpuH3State) Recurrence() *H3Recurrence { return s.r }

// NewH3State implements SSMKernels.
func (c *CPU) NewH3State(r *H3Recurrence, batch int) H3State {
	checkH3State("NewH3State", r, batch)
	r = CloneH3Recurrence(r)
	return &cpuH3State{r: r, batch: batch, shift: make([]float64, batch*r.Dim*r.Taps()),
		diag: make([]complex128, batch*r.Heads()*r.HeadDim*r.HeadDim*r.Modes())}
}

func (c *CPU) h3State(op string, st H3State) *cpuH3State {
	s, ok := st.(*cpuH3State)
	if !ok {
		panic(&ShapeError{Op: op, Msg: fmt.Sprintf("a %T state passed to the CPU", st)})
	}
	return s
}

// H3Seed implements SSMKernels. Each (sequence, head) is independent: shift taps
// s[n] = Σ_{j≤n} B[n−j]·k[L−1−j], and diagonal modes x = Σ_t dA^(L−1−t)·z[t] by running
// the recurrence over z = k̃ ⊗ v.
func (c *CPU) H3Seed(st H3State, k, kShifted, v *Tensor) {
	s := c.h3State("H3Seed", st)
	seqLen := H3SeedShapes("H3Seed", st, k, kShifted, v)
	r := s.r
	d, n, m, dh, heads := r.Dim, r.Taps(), r.Modes(), r.HeadDim, r.Heads()
	kd, kt, vd := k.data, kShifted.data, v.data
	c.For(s.batch*heads, 1, func(lo, hi int) {
		for u := lo; u < hi; u++ {
			b, h := u/heads, u%heads
			for ch := h * dh; ch < (h+1)*dh; ch++ {
				taps := s.shift[(b*d+ch)*n : (b*d+ch+1)*n]
				for i := range taps {
					acc := 0.0
					for j := 0; j <= i && j < seqLen; j++ {
						acc += r.ShiftB[ch*n+i-j] * float64(kd[(b*seqLen+seqLen-1-j)*d+ch])
					}
					taps[i] = acc
				}
			}
			dA := r.DA[h*m : (h+1)*m]
			for i := 0; i < dh; i++ {
				for j := 0; j < dh; j++ {
					x := s.diag[((((b*heads+h)*dh+i)*dh)+j)*m:][:m]
					clear(x)
					for t := 0; t < seqLen; t++ {
						row := (b*seqLen + t) * d
						z := complex(float64(kt[row+h*dh+i])*float64(vd[row+h*dh+j]), 0)
						for mm := range x {
							x[mm] = dA[mm]*x[mm] + z
						}
					}
				}
			}
		}
	})
}

// H3Step implements SSMKernels: the shift SSM on the key, the outer product with the
// value, the diagonal SSM and the contraction with the query, per (sequence, head).
func (c *CPU) H3Step(st H3State, o, q, k, v *Tensor) {
	s := c.h3State("H3Step", st)
	H3StepShapes("H3Step", st, o, q, k, v)
	r := s.r
	d, n, m, dh, heads := r.Dim, r.Taps(), r.Modes(), r.HeadDim, r.Heads()
	qd, kd, vd, od := q.data, k.data, v.data, o.data
	c.For(s.batch*heads, 1, func(lo, hi int) {
		kt := make([]float64, dh)
		for u := lo; u < hi; u++ {
			b, h := u/heads, u%heads
			for i := range kt {
				ch := h*dh + i
				taps := s.shift[(b*d+ch)*n : (b*d+ch+1)*n]
				copy(taps[1:], taps[:n-1])
				taps[0] = 0
				x := float64(kd[b*d+ch])
				y := 0.0
				for t := range taps {
					taps[t] += r.ShiftB[ch*n+t] * x
					y += r.ShiftC[ch*n+t] * taps[t]
				}
				kt[i] = y + r.ShiftD[ch]*x
			}
			dA, w := r.DA[h*m:(h+1)*m], r.W[h*m:(h+1)*m]
			out := od[b*d+h*dh : b*d+(h+1)*dh]
			clear(out)
			for i := 0; i < dh; i++ {
				qi := float64(qd[b*d+h*dh+i])
				for j := 0; j < dh; j++ {
					zr := kt[i] * float64(vd[b*d+h*dh+j])
					z := complex(zr, 0)
					xs := s.diag[((((b*heads+h)*dh+i)*dh)+j)*m:][:m]
					acc := 0.0
					for mm := range xs {
						xs[mm] = dA[mm]*xs[mm] + z
						acc += real(w[mm] * xs[mm])
					}
					out[j] += float32(qi * (2*acc + r.Skip[h]*zr))
				}
			}
		}
	})
}
