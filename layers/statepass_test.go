package layers

import (
	"fmt"
	"math"
	"testing"

	"github.com/hungry-ssm/hungry/autograd"
	"github.com/hungry-ssm/hungry/tensor"
)

// maxRel is max|a−b| / max|b|.
func maxRel(a, b []float32) float64 {
	num, den := 0.0, 0.0
	for i := range a {
		num = math.Max(num, math.Abs(float64(a[i])-float64(b[i])))
		den = math.Max(den, math.Abs(float64(b[i])))
	}
	return num / den
}

// sliceSeq returns positions [lo, hi) of x (B, L, d).
func sliceSeq(x *tensor.Tensor, lo, hi int) *tensor.Tensor {
	b, l, d := x.Dim(0), x.Dim(1), x.Dim(2)
	out := tensor.New(b, hi-lo, d)
	for bb := 0; bb < b; bb++ {
		copy(out.Data()[bb*(hi-lo)*d:], x.Data()[(bb*l+lo)*d:(bb*l+hi)*d])
	}
	return out
}

func newTestH3(t *testing.T, rng *tensor.RNG, dim, dh int, disc tensor.Discretization) *H3 {
	t.Helper()
	m, err := NewH3(tensor.DefaultCPU(), rng, "h3", H3Config{Dim: dim, DState: 8, HeadDim: dh, Disc: disc}, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	perturb(rng, 0.1, m.Params()...)
	return m
}

// TestH3ChunkedMatchesSingleShot runs the mixer with chunks shorter than the sequence
// (state passing) and with one chunk, and compares the outputs and the gradients of the
// input and every parameter. 1e-5 relative is the bound for float32.
func TestH3ChunkedMatchesSingleShot(t *testing.T) {
	const batch, l = 2, 45
	rng := tensor.NewRNG(41)
	for _, disc := range []tensor.Discretization{tensor.ZOH, tensor.Bilinear} {
		for _, dh := range []int{1, 2} {
			m := newTestH3(t, rng, 6, dh, disc)
			x := tensor.RandNormal(tensor.DefaultCPU(), rng, 1, batch, l, 6)
			seed := tensor.RandNormal(tensor.DefaultCPU(), rng, 1, batch, l, 6)
			run := func(chunk int) [][]float32 {
				m.Chunk = chunk
				u := autograd.NewParam("x", x.Clone())
				ps := append([]*autograd.Var{u}, m.Params()...)
				for _, p := range ps {
					p.ZeroGrad()
				}
				g := autograd.NewGraph()
				y := m.Forward(g, u)
				if err := g.BackwardWith(y, seed); err != nil {
					t.Fatal(err)
				}
				out := [][]float32{y.Value.Data()}
				for _, p := range ps {
					out = append(out, p.GradTensor().Data())
				}
				return out
			}
			want := run(l)
			for _, chunk := range []int{4, 16, 44} {
				got := run(chunk)
				for i := range want {
					if e := maxRel(got[i], want[i]); !(e <= 1e-5) {
						t.Errorf("%v head_dim %d chunk %d: tensor %d differs by %.3g relative", disc, dh, chunk, i, e)
					}
				}
			}
		}
	}
}

// TestChunkStateMatchesForward feeds a sequence in uneven chunks and then steps it
// recurrently from the seeded state: every output must be Forward's.
func TestChunkStateMatchesForward(t *testing.T) {
	const batch, l = 2, 50
	rng := tensor.NewRNG(42)
	for _, dh := range []int{1, 3} {
		for _, disc := range []tensor.Discretization{tensor.ZOH, tensor.Bilinear} {
			t.Run(fmt.Sprintf("%v/head_dim %d", disc, dh), func(t *testing.T) {
				m := newTestH3(t, rng, 6, dh, disc)
				x := tensor.RandNormal(tensor.DefaultCPU(), rng, 1, batch, l, 6)
				want := m.Forward(autograd.NoGrad(), autograd.Constant(x)).Value
				cs, err := m.NewChunkState(batch)
				if err != nil {
					t.Fatal(err)
				}
				// Chunks shorter and longer than the shift SSM's 8 taps.
				bounds := []int{0, 3, 4, 15, 27, 40}
				for i := 0; i+1 < len(bounds); i++ {
					lo, hi := bounds[i], bounds[i+1]
					got := cs.Forward(autograd.Constant(sliceSeq(x, lo, hi))).Value.Data()
					if e := maxRel(got, sliceSeq(want, lo, hi).Data()); !(e <= 1e-5) {
						t.Errorf("chunk [%d, %d) differs by %.3g relative", lo, hi, e)
					}
				}
				st, err := m.NewState(batch)
				if err != nil {
					t.Fatal(err)
				}
				if err := cs.Seed(st); err != nil {
					t.Fatal(err)
				}
				for p := 40; p < l; p++ {
					got := st.Step(autograd.NoGrad(), autograd.Constant(sliceSeq(x, p, p+1))).Value.Data()
					if e := maxRel(got, sliceSeq(want, p, p+1).Data()); !(e <= stepTol) {
						t.Errorf("step %d after the chunks differs by %.3g relative", p, e)
					}
				}
			})
		}
	}
}
