package layers

import (
	"math"
	"path/filepath"
	"testing"

	"github.com/hungry-ssm/hungry/autograd"
	"github.com/hungry-ssm/hungry/tensor"
)

// rotaryTol bounds the error against the float64 PyTorch rotary (testdata/gen/h3_import.py):
// each output is two float32 products of O(1) values plus float32-rounded cos and sin,
// a few 1e-7 relative; 1e-5 is the bound for rotary parity.
const rotaryTol = 1e-5

func TestRotaryGolden(t *testing.T) {
	ts := readGolden(t, filepath.Join("..", "testdata", "import", "rotary_op.safetensors"))
	x, shape := goldenF32(t, ts, "x")
	want, _ := goldenF32(t, ts, "out")
	w, _ := goldenF32(t, ts, "W")
	wantGrad, _ := goldenF32(t, ts, "grad.x")
	dev := tensor.DefaultCPU()
	xv := autograd.NewParam("x", dev.FromHost(x, shape...))
	g := autograd.NewGraph()
	out := Rotary(g, xv, 6, 5)
	if e := relErrF32(out.Value.Host(), want); e > rotaryTol {
		t.Fatalf("output differs from PyTorch by %.2g relative", e)
	}
	if err := g.BackwardWith(out, dev.FromHost(w, shape...)); err != nil {
		t.Fatal(err)
	}
	if e := relErrF32(xv.Grad.Host(), wantGrad); e > rotaryTol {
		t.Fatalf("gradient differs from PyTorch by %.2g relative", e)
	}
}

func TestRotaryGradCheck(t *testing.T) {
	dev := tensor.DefaultCPU()
	rng := tensor.NewRNG(3)
	for _, c := range []struct{ b, l, hd, rot, pos0 int }{{1, 1, 2, 2, 0}, {2, 7, 10, 4, 3}, {1, 13, 8, 8, 1000}} {
		x := autograd.NewParam("x", dev.FromHost(rng.Normal(c.b*c.l*c.hd, 0, 1), c.b, c.l, c.hd))
		err := autograd.CheckGrad(func(g *autograd.Graph, in []*autograd.Var) *autograd.Var {
			return Rotary(g, in[0], c.rot, c.pos0)
		}, []*autograd.Var{x}, autograd.GradCheckOptions{Seed: 5})
		if err != nil {
			t.Fatalf("%+v: %v", c, err)
		}
	}
}

// The step form (one position at a time, absolute position given) must agree with the
// sequence form, and the inverse must undo it.
func TestApplyRotaryMatchesSequence(t *testing.T) {
	dev := tensor.DefaultCPU()
	rng := tensor.NewRNG(4)
	const b, heads, l, hd, rot, pos0 = 2, 3, 9, 12, 8, 17
	x := rng.Normal(b*heads*l*hd, 0, 1)
	seq := Rotary(autograd.NoGrad(), autograd.Constant(dev.FromHost(x, b, heads, l, hd)), rot, pos0).Value.Host()
	for i := 0; i < b*heads; i++ {
		for p := 0; p < l; p++ {
			v := append([]float32(nil), x[(i*l+p)*hd:(i*l+p+1)*hd]...)
			ApplyRotary(v, hd, rot, pos0+p, false)
			for j := range v {
				if v[j] != seq[(i*l+p)*hd+j] {
					t.Fatalf("head %d position %d feature %d: step %g, sequence %g", i, p, j, v[j], seq[(i*l+p)*hd+j])
				}
			}
			if p > 0 {
				for j := rot; j < hd; j++ {
					if v[j] != x[(i*l+p)*hd+j] {
						t.Fatalf("feature %d beyond the rotary dimension changed", j)
					}
				}
			}
			ApplyRotary(v, hd, rot, pos0+p, true)
			for j := range v {
				if math.Abs(float64(v[j]-x[(i*l+p)*hd+j])) > 1e-6 {
					t.Fatalf("inverse rotation leaves %g, want %g", v[j], x[(i*l+p)*hd+j])
				}
			}
		}
	}
	if CheckRotary(3, 8) == nil || CheckRotary(10, 8) == nil || CheckRotary(8, 8) != nil {
		t.Fatal("CheckRotary accepts an odd or too large dimension, or rejects a full one")
	}
}

// ForwardTrace hands the cache rotated keys: relative positions then need nothing more.
func TestAttentionTraceRotatesKeys(t *testing.T) {
	dev := tensor.DefaultCPU()
	rng := tensor.NewRNG(6)
	a, err := NewAttention(dev, rng, "a", 16, 2, 0.3, 0.3)
	if err != nil {
		t.Fatal(err)
	}
	x := autograd.Constant(dev.FromHost(rng.Normal(2*5*16, 0, 1), 2, 5, 16))
	_, plain := a.ForwardTrace(autograd.NoGrad(), x)
	a.RotaryDim = 4
	_, rotated := a.ForwardTrace(autograd.NoGrad(), x)
	p, r := plain.Value.Host(), rotated.Value.Host()
	for row := 0; row < 10; row++ {
		v := append([]float32(nil), p[row*48:row*48+32]...)
		ApplyRotary(v, 8, 4, row%5, false)
		for j := 0; j < 48; j++ {
			want := p[row*48+j]
			if j < 32 {
				want = v[j]
			}
			if r[row*48+j] != want {
				t.Fatalf("row %d element %d: %g, want %g", row, j, r[row*48+j], want)
			}
		}
	}
}
