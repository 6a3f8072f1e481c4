package autograd

import (
	"fmt"
	"math"
	"testing"

	"github.com/hungry-ssm/hungry/tensor"
)

func TestH3ConvGrad(t *testing.T) {
	rng := tensor.NewRNG(43)
	for _, c := range []struct{ b, l, h, dh int }{{2, 9, 3, 1}, {1, 1, 2, 1}, {2, 6, 4, 2}, {1, 5, 8, 8}} {
		heads := c.h / c.dh
		kt := param(rng, "kt", 1, c.b, c.l, c.h)
		v := param(rng, "v", 1, c.b, c.l, c.h)
		q := param(rng, "q", 1, c.b, c.l, c.h)
		d := param(rng, "d", 1, heads)
		k := param(rng, "k", 0.5, heads, c.l)
		name := fmt.Sprintf("B=%d L=%d H=%d dh=%d", c.b, c.l, c.h, c.dh)
		// Through the spectrum: the kernel's gradient is what the H3 mixer trains.
		checkGrad(t, name, func(g *Graph, in []*Var) *Var {
			return H3Conv(g, in[0], in[1], in[2], in[3], H3Spectrum(g, in[4], c.l), c.dh)
		}, kt, v, q, d, k)
		// The spectrum as an input of its own: every bin, including ones no real kernel
		// of length L produces, gets its own derivative.
		khat := NewParam("khat", tensor.RandNormal(tensor.DefaultCPU(), rng, 1, heads, tensor.H3SpectrumBins(c.l), 2))
		checkGrad(t, name+" spectrum", func(g *Graph, in []*Var) *Var {
			return H3Conv(g, in[0], in[1], in[2], in[3], in[4], c.dh)
		}, kt, v, q, d, khat)
		// Constant inputs take the kernels' nil-gradient paths.
		checkGrad(t, name+" constant k̃, q", func(g *Graph, in []*Var) *Var {
			return H3Conv(g, in[0], in[1], in[2], in[3], H3Spectrum(g, in[4], c.l), c.dh)
		}, Constant(kt.Value), v, Constant(q.Value), d, k)
	}
}

func TestH3OpsRejectBadSizes(t *testing.T) {
	dev := tensor.DefaultCPU()
	k := NewParam("k", dev.Zeros(2, 8))
	if err := tensor.Catch(func() { H3Spectrum(NoGrad(), k, 7) }); err == nil {
		t.Error("a kernel longer than the sequence was accepted")
	}
	x := NewParam("x", dev.Zeros(1, 8, 4))
	khat := H3Spectrum(NoGrad(), k, 8)
	if err := tensor.Catch(func() { H3Conv(NoGrad(), x, x, x, NewParam("d", dev.Zeros(2)), khat, 3) }); err == nil {
		t.Error("a head dim that does not divide the channels was accepted")
	}
}

// TestH3OutputsOverwriteEmpty guards the ops that take their outputs from Graph.Empty: a
// reused arena buffer keeps the last step's contents, so every element the kernel leaves
// unwritten would show through. Each step starts from buffers that a previous step filled
// with NaN and must give the same result as a fresh graph.
func TestH3OutputsOverwriteEmpty(t *testing.T) {
	rng := tensor.NewRNG(44)
	cpu := tensor.DefaultCPU()
	for _, c := range []struct{ b, l, h, dh int }{{2, 7, 3, 1}, {1, 1, 2, 1}, {2, 100, 16, 8}} {
		heads := c.h / c.dh
		kt := tensor.RandNormal(cpu, rng, 1, c.b, c.l, c.h)
		v := tensor.RandNormal(cpu, rng, 1, c.b, c.l, c.h)
		q := tensor.RandNormal(cpu, rng, 1, c.b, c.l, c.h)
		d := tensor.RandNormal(cpu, rng, 1, heads)
		k := tensor.RandNormal(cpu, rng, 0.5, heads, c.l)
		run := func(g *Graph) (khat, y []float32) {
			kh := H3Spectrum(g, Constant(k), c.l)
			out := H3Conv(g, Constant(kt), Constant(v), Constant(q), Constant(d), kh, c.dh)
			return append([]float32(nil), kh.Value.Data()...), append([]float32(nil), out.Value.Data()...)
		}
		wantK, wantY := run(NewGraph())
		arena := tensor.NewArena(cpu)
		for _, shape := range [][]int{{heads, tensor.H3SpectrumBins(c.l), 2}, {c.b, c.l, c.h}} {
			cpu.Fill(arena.Zeros(shape...), float32(math.NaN()))
		}
		arena.Reset()
		gotK, gotY := run(NewGraphIn(arena))
		for _, p := range []struct {
			name      string
			got, want []float32
		}{{"K̂", gotK, wantK}, {"y", gotY, wantY}} {
			for i := range p.want {
				if p.got[i] != p.want[i] {
					t.Fatalf("B=%d L=%d H=%d dh=%d: %s[%d] = %v from a NaN-filled buffer, %v from a fresh one",
						c.b, c.l, c.h, c.dh, p.name, i, p.got[i], p.want[i])
				}
			}
		}
	}
}

// TestProductsOverwriteEmpty is TestH3OutputsOverwriteEmpty for MatMul and Linear, whose
// results also come from Graph.Empty: sizes on both sides of the CPU kernels' small/large
// split, a batched product and k = 1.
func TestProductsOverwriteEmpty(t *testing.T) {
	rng := tensor.NewRNG(45)
	cpu := tensor.DefaultCPU()
	for _, c := range []struct{ rows, k, n int }{{1, 1, 1}, {7, 3, 5}, {1000, 1, 7}, {300, 24, 100}} {
		x := tensor.RandNormal(cpu, rng, 1, c.rows, c.k)
		xb := tensor.RandNormal(cpu, rng, 1, 3, c.rows, c.k)
		w := tensor.RandNormal(cpu, rng, 1, c.n, c.k)
		b := tensor.RandNormal(cpu, rng, 1, c.n)
		run := func(g *Graph) [][]float32 {
			var outs [][]float32
			for _, v := range []*Var{
				Linear(g, Constant(x), Constant(w), Constant(b)),
				MatMul(g, Constant(x), Constant(w), false, true),
				MatMul(g, Constant(xb), Constant(w), false, true),
			} {
				outs = append(outs, append([]float32(nil), v.Value.Data()...))
			}
			return outs
		}
		want := run(NewGraph())
		arena := tensor.NewArena(cpu)
		for _, shape := range [][]int{{c.rows, c.n}, {c.rows, c.n}, {3, c.rows, c.n}} {
			cpu.Fill(arena.Zeros(shape...), float32(math.NaN()))
		}
		arena.Reset()
		got := run(NewGraphIn(arena))
		for o := range want {
			for i := range want[o] {
				if got[o][i] != want[o][i] {
					t.Fatalf("rows=%d k=%d n=%d, output %d: [%d] = %v from a NaN-filled buffer, %v from a fresh one",
						c.rows, c.k, c.n, o, i, got[o][i], want[o][i])
				}
			}
		}
	}
}
