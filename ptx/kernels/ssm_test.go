package kernels_test

import (
	"fmt"
	"math"
	"math/cmplx"
	"testing"

	"github.com/hungry-ssm/hungry/ptx/kernels"
)

func ewLaunch(n int) ([3]int, [3]int) {
	return [3]int{max(ceilDiv(n, 256), 1), 1, 1}, [3]int{256, 1, 1}
}

func TestEmbedding(t *testing.T) {
	for _, s := range [][3]int{{1, 1, 1}, {7, 5, 3}, {31, 10, 33}, {100, 7, 31}, {33, 100, 7}} {
		ntok, vocab, dim := s[0], s[1], s[2]
		e := newEnv(t, "embedding")
		table := e.rand(vocab*dim, -1, 1)
		ids := make([]int32, ntok)
		for i := range ids {
			ids[i] = int32(e.rng.IntN(vocab)) // repeats are likely
		}
		pids := e.i32(ids)
		out := e.out(ntok * dim)
		g, b := ewLaunch(ntok * dim)
		e.launch(kernels.EmbeddingFwdF32Kernel, g, b, 0, out, e.f32(table), pids, ntok, vocab, dim)
		want := make([]float64, ntok*dim)
		for i, id := range ids {
			for j := 0; j < dim; j++ {
				want[i*dim+j] = float64(table[int(id)*dim+j])
			}
		}
		check(t, name("embedding fwd %v", s), e.read(out, ntok*dim), want, 0, nil)

	}
}

func TestEmbeddingOutOfRangeIDs(t *testing.T) {
	e := newEnv(t, "embedding")
	table := e.rand(4*2, -1, 1)
	out := e.out(2 * 2)
	ids := e.i32([]int32{4, -1})
	e.launch(kernels.EmbeddingFwdF32Kernel, [3]int{1, 1, 1}, [3]int{256, 1, 1}, 0, out, e.f32(table), ids, 2, 4, 2)
	for i, v := range e.read(out, 4) {
		if !math.IsNaN(float64(v)) {
			t.Errorf("out[%d] = %g for an out-of-range id, want NaN", i, v)
		}
	}
}

func TestShortConv(t *testing.T) {
	for _, s := range [][3]int{{1, 1, 1}, {2, 7, 3}, {1, 100, 7}, {2, 70, 33}, {1, 31, 1}} {
		B, L, H := s[0], s[1], s[2]
		n := B * L * H
		e := newEnv(t, "shortconv")
		u, k, d := e.rand(n, -1, 1), e.rand(H*64, -0.2, 0.2), e.rand(H, -1, 1)
		y := e.out(n)
		g, b := ewLaunch(n)
		e.launch(kernels.ShortconvFwdF32Kernel, g, b, 0, y, e.f32(u), e.f32(k), e.f32(d), B, L, H)
		want, abs := make([]float64, n), make([]float64, n)
		for bb := 0; bb < B; bb++ {
			for tt := 0; tt < L; tt++ {
				for h := 0; h < H; h++ {
					i := (bb*L+tt)*H + h
					acc := float64(d[h]) * float64(u[i])
					sa := math.Abs(acc)
					for sft := 0; sft < 64 && sft <= tt; sft++ {
						term := float64(k[h*64+sft]) * float64(u[(bb*L+tt-sft)*H+h])
						acc += term
						sa += math.Abs(term)
					}
					want[i], abs[i] = acc, sa
				}
			}
		}
		check(t, name("shortconv %v", s), e.read(y, n), want, rtolF32, func(i int) float64 { return abs[i] })
	}
}

// h3StepRef advances the H3 recurrent state by one token (head_dim 1), in float64.
type h3Params struct {
	sb, sc, sd, da, db, dc, dd []float32
}

func h3StepRef(p h3Params, shift, diag []float64, q, k, v []float32, batch, d int) (o, scale []float64) {
	o, scale = make([]float64, batch*d), make([]float64, batch*d)
	for g := 0; g < batch*d; g++ {
		h := g % d
		s := shift[g*64 : g*64+64]
		kt := float64(k[g])
		copy(s[1:], append([]float64(nil), s[:63]...))
		s[0] = 0
		ks := float64(p.sd[h]) * kt
		ksAbs := math.Abs(ks)
		for n := 0; n < 64; n++ {
			s[n] += float64(p.sb[h*64+n]) * kt
			ks += float64(p.sc[h*64+n]) * s[n]
			ksAbs += math.Abs(float64(p.sc[h*64+n]) * s[n])
		}
		z := ks * float64(v[g])
		x := diag[g*64 : g*64+64]
		re, reAbs := 0.0, 0.0
		gain := math.Abs(float64(p.dd[h])) // how much an error in z is amplified into y
		for n := 0; n < 32; n++ {
			ar, ai := float64(p.da[h*64+2*n]), float64(p.da[h*64+2*n+1])
			br, bi := float64(p.db[h*64+2*n]), float64(p.db[h*64+2*n+1])
			cr, ci := float64(p.dc[h*64+2*n]), float64(p.dc[h*64+2*n+1])
			xr, xi := x[2*n], x[2*n+1]
			nr := ar*xr - ai*xi + br*z
			ni := ar*xi + ai*xr + bi*z
			x[2*n], x[2*n+1] = nr, ni
			re += cr*nr - ci*ni
			reAbs += math.Abs(cr*nr) + math.Abs(ci*ni)
			gain += 2 * (math.Abs(cr) + math.Abs(ci)) * (math.Abs(br) + math.Abs(bi))
		}
		y := 2*re + float64(p.dd[h])*z
		o[g] = float64(q[g]) * y
		// The output inherits the cancellation of both inner products.
		scale[g] = math.Abs(float64(q[g])) * (2*reAbs + math.Abs(float64(p.dd[h])*z) + ksAbs*math.Abs(float64(v[g]))*gain)
	}
	return o, scale
}

func TestH3Step(t *testing.T) {
	for _, s := range [][2]int{{1, 1}, {2, 7}, {1, 33}, {3, 31}} {
		batch, d := s[0], s[1]
		e := newEnv(t, "h3step")
		// |dA| < 1 like a discretised stable SSM.
		p := h3Params{sb: e.rand(d*64, -1, 1), sc: e.rand(d*64, -0.125, 0.125), sd: e.rand(d, -1, 1),
			da: e.rand(d*64, -0.6, 0.6), db: e.rand(d*64, -0.1, 0.1), dc: e.rand(d*64, -1, 1), dd: e.rand(d, -1, 1)}
		shift0, diag0 := e.rand(batch*d*64, -1, 1), e.rand(batch*d*64, -1, 1)
		shift, diag := make([]float64, len(shift0)), make([]float64, len(diag0))
		for i := range shift0 {
			shift[i], diag[i] = float64(shift0[i]), float64(diag0[i])
		}
		pss, pds := e.f32(shift0), e.f32(diag0)
		psb, psc, psd := e.f32(p.sb), e.f32(p.sc), e.f32(p.sd)
		pda, pdb, pdc, pdd := e.f32(p.da), e.f32(p.db), e.f32(p.dc), e.f32(p.dd)
		g, b := ewLaunch(batch * d)
		for step := 0; step < 3; step++ { // several tokens: the state update is exercised too
			q, k, v := e.rand(batch*d, -1, 1), e.rand(batch*d, -1, 1), e.rand(batch*d, -1, 1)
			o := e.out(batch * d)
			e.launch(kernels.H3StepF32Kernel, g, b, 0, o, pss, pds, e.f32(q), e.f32(k), e.f32(v), psb, psc, psd, pda, pdb, pdc, pdd, batch, d)
			want, sc := h3StepRef(p, shift, diag, q, k, v, batch, d)
			check(t, name("h3 step %d %v out", step, s), e.read(o, batch*d), want, rtolF32, func(i int) float64 { return sc[i] })
			stateScale := func(i int) float64 { return 4 * (1 + float64(step)) }
			check(t, name("h3 step %d %v shift state", step, s), e.read(pss, len(shift)), shift, rtolF32, stateScale)
			check(t, name("h3 step %d %v diag state", step, s), e.read(pds, len(diag)), diag, rtolF32, stateScale)
		}
	}
}

// TestShortConvBackward checks the backward kernels against explicit sums and, as a
// gradient check that needs no finite differences (the layer is linear in u and in
// (k, d)), against the adjoint identities <dy, y(u)> = <du, u> and
// <dy, y(k, d)> = <dk, k> + <dd, d>, using the forward kernel.
func TestShortConvBackward(t *testing.T) {
	for _, s := range [][3]int{{1, 1, 1}, {2, 7, 3}, {1, 100, 7}, {2, 70, 33}} {
		B, L, H := s[0], s[1], s[2]
		n := B * L * H
		e := newEnv(t, "shortconv")
		u, k, d, dy := e.rand(n, -1, 1), e.rand(H*64, -0.2, 0.2), e.rand(H, -1, 1), e.rand(n, -1, 1)
		pu, pk, pd, pdy := e.f32(u), e.f32(k), e.f32(d), e.f32(dy)
		g, b := ewLaunch(n)
		y, du := e.out(n), e.out(n)
		e.launch(kernels.ShortconvFwdF32Kernel, g, b, 0, y, pu, pk, pd, B, L, H)
		e.launch(kernels.ShortconvBwdDuF32Kernel, g, b, 0, du, pdy, pk, pd, B, L, H)
		dk, dd := e.out(H*64), e.out(H)
		e.launch(kernels.ShortconvBwdDkF32Kernel, [3]int{64, H, 1}, [3]int{256, 1, 1}, 0, dk, dd, pdy, pu, B, L, H)
		at := func(bb, tt, h int) int { return (bb*L+tt)*H + h }
		wdu, wdk, wdd := make([]float64, n), make([]float64, H*64), make([]float64, H)
		mag := 0.0 // sum_i |dy_i|·(|d u_i| + sum_s |k_s u_{i-s}|): the size of the terms in <dy, y>
		sdu, sdk := make([]float64, n), make([]float64, H*64)
		for bb := 0; bb < B; bb++ {
			for tt := 0; tt < L; tt++ {
				for h := 0; h < H; h++ {
					i := at(bb, tt, h)
					wdu[i] += float64(d[h]) * float64(dy[i])
					sdu[i] += math.Abs(float64(d[h]) * float64(dy[i]))
					wdd[h] += float64(dy[i]) * float64(u[i])
					for sft := 0; sft < 64 && tt+sft < L; sft++ {
						term := float64(k[h*64+sft]) * float64(dy[at(bb, tt+sft, h)])
						wdu[i] += term
						sdu[i] += math.Abs(term)
					}
					absY := math.Abs(float64(d[h]) * float64(u[i]))
					for sft := 0; sft < 64 && sft <= tt; sft++ {
						term := float64(dy[i]) * float64(u[at(bb, tt-sft, h)])
						wdk[h*64+sft] += term
						sdk[h*64+sft] += math.Abs(term)
						absY += math.Abs(float64(k[h*64+sft]) * float64(u[at(bb, tt-sft, h)]))
					}
					mag += math.Abs(float64(dy[i])) * absY
				}
			}
		}
		gotDU, gotDK, gotDD := e.read(du, n), e.read(dk, H*64), e.read(dd, H)
		check(t, name("shortconv du %v", s), gotDU, wdu, rtolF32, func(i int) float64 { return sdu[i] })
		check(t, name("shortconv dk %v", s), gotDK, wdk, rtolF32, func(i int) float64 { return sdk[i] })
		check(t, name("shortconv dd %v", s), gotDD, wdd, rtolF32, func(h int) float64 { return sdk[h*64] })

		gotY := e.read(y, n)
		lhs, rhsU, rhsK := 0.0, 0.0, 0.0
		for i := range gotY {
			lhs += float64(dy[i]) * float64(gotY[i])
			rhsU += float64(gotDU[i]) * float64(u[i])
		}
		for i := range gotDK {
			rhsK += float64(gotDK[i]) * float64(k[i])
		}
		for h := range gotDD {
			rhsK += float64(gotDD[h]) * float64(d[h])
		}
		// Every term of either side is one of the terms counted in mag, each computed with
		// at most rtolF32 relative error, plus float32 rounding of the outputs: 2·rtolF32.
		if math.Abs(lhs-rhsU) > 2*rtolF32*mag || math.Abs(lhs-rhsK) > 2*rtolF32*mag {
			t.Errorf("%v: adjoint identities fail: <dy,y> = %g, <du,u> = %g, <dk,k>+<dd,d> = %g", s, lhs, rhsU, rhsK)
		}
	}
}

// TestH3StepMatchesConvolutionKernels runs h3_step_f32 over a sequence from a zero state
// and checks each SSM against its convolutional form in the H3 paper and code:
// the shift SSM is a causal convolution with k[i] = sum_n B[n]·C[n+i] (plus D·u), the
// diagonal SSM one with K[l] = 2·Re sum_n C[n]·dB[n]·dA[n]^l (plus D·u).
func TestH3StepMatchesConvolutionKernels(t *testing.T) {
	const d, L = 3, 70 // L > 64: the shift state's window is exercised past its length
	e := newEnv(t, "h3step")
	ones := make([]float32, d)
	for i := range ones {
		ones[i] = 1
	}
	zeros64 := make([]float32, d*64)
	run := func(p h3Params, u []float32) []float32 {
		ss, ds := e.f32(make([]float32, d*64)), e.f32(make([]float32, d*64))
		psb, psc, psd := e.f32(p.sb), e.f32(p.sc), e.f32(p.sd)
		pda, pdb, pdc, pdd := e.f32(p.da), e.f32(p.db), e.f32(p.dc), e.f32(p.dd)
		pq, pv := e.f32(ones), e.f32(ones)
		var out []float32
		for tt := 0; tt < L; tt++ {
			o := e.out(d)
			e.launch(kernels.H3StepF32Kernel, [3]int{1, 1, 1}, [3]int{256, 1, 1}, 0, o, ss, ds, pq, e.f32(u[tt*d:(tt+1)*d]), pv,
				psb, psc, psd, pda, pdb, pdc, pdd, 1, d)
			out = append(out, e.read(o, d)...)
		}
		return out
	}
	u := e.rand(L*d, -1, 1)
	conv := func(kernel func(h, i int) float64, skip []float32) ([]float64, []float64) {
		want, scale := make([]float64, L*d), make([]float64, L*d)
		for tt := 0; tt < L; tt++ {
			for h := 0; h < d; h++ {
				acc := float64(skip[h]) * float64(u[tt*d+h])
				sc := math.Abs(acc)
				for i := 0; i <= tt; i++ {
					term := kernel(h, i) * float64(u[(tt-i)*d+h])
					acc += term
					sc += math.Abs(term)
				}
				want[tt*d+h], scale[tt*d+h] = acc, sc
			}
		}
		return want, scale
	}

	// Shift SSM alone: q = v = 1 and a diagonal SSM that passes z through (dA = dB = 0, D = 1).
	shiftP := h3Params{sb: e.rand(d*64, -1, 1), sc: e.rand(d*64, -0.125, 0.125), sd: e.rand(d, -1, 1),
		da: zeros64, db: zeros64, dc: e.rand(d*64, -1, 1), dd: ones}
	want, scale := conv(func(h, i int) float64 {
		s := 0.0
		for n := 0; n+i < 64; n++ {
			s += float64(shiftP.sb[h*64+n]) * float64(shiftP.sc[h*64+n+i])
		}
		return s
	}, shiftP.sd)
	check(t, "shift SSM as a convolution", run(shiftP, u), want, rtolF32, func(i int) float64 { return scale[i] })

	// Diagonal SSM alone: the shift SSM passes k through (B = C = 0, D = 1).
	da := make([]float32, d*64)
	for i := 0; i < d*32; i++ { // stable modes: |dA| < 1
		r, th := 0.5+0.45*e.rng.Float64(), math.Pi*e.rng.Float64()
		da[2*i], da[2*i+1] = float32(r*math.Cos(th)), float32(r*math.Sin(th))
	}
	diagP := h3Params{sb: zeros64, sc: zeros64, sd: ones, da: da, db: e.rand(d*64, -0.1, 0.1), dc: e.rand(d*64, -1, 1), dd: e.rand(d, -1, 1)}
	want, scale = conv(func(h, l int) float64 {
		s := 0.0
		for n := 0; n < 32; n++ {
			a := complex(float64(diagP.da[h*64+2*n]), float64(diagP.da[h*64+2*n+1]))
			b := complex(float64(diagP.db[h*64+2*n]), float64(diagP.db[h*64+2*n+1]))
			c := complex(float64(diagP.dc[h*64+2*n]), float64(diagP.dc[h*64+2*n+1]))
			s += 2 * real(c*b*cmplx.Pow(a, complex(float64(l), 0)))
		}
		return s
	}, diagP.dd)
	// The recurrence rounds the state at every step, but |dA| < 1 damps old errors, so the
	// plain fp32 tolerance against the size of the convolution's terms holds.
	check(t, "diagonal SSM as a convolution", run(diagP, u), want, rtolF32, func(i int) float64 { return scale[i] })
}

// TestEmbeddingBackwardGrouped checks the deterministic scatter-add bit for bit against
// the CPU device, whose ScatterAdd adds each id's rows in token order as the kernel does.
func TestEmbeddingBackwardGrouped(t *testing.T) {
	for _, s := range [][3]int{{1, 1, 1}, {7, 5, 3}, {31, 10, 33}, {100, 7, 31}, {33, 100, 7}, {1000, 3, 2}} {
		ntok, vocab, dim := s[0], s[1], s[2]
		e := newEnv(t, "embedding")
		ids := make([]int32, ntok)
		for i := range ids {
			ids[i] = int32(e.rng.IntN(vocab))
		}
		dout, t0 := e.rand(ntok*dim, -1, 1), e.rand(vocab*dim, -1, 1)
		want := ten(t0, vocab, dim)
		cpuRef.ScatterAdd(want, ten(dout, ntok, dim), ids)
		uniq, start, pos := kernels.GroupIDs(ids)
		dt := e.f32(t0)
		e.launch(kernels.EmbeddingBwdGroupedF32Kernel, [3]int{ceilDiv(len(uniq)*dim, 256), 1, 1}, [3]int{256, 1, 1}, 0,
			dt, e.f32(dout), e.i32(uniq), e.i32(start), e.i32(pos), len(uniq), dim)
		// The same float32 additions in the same order: exact.
		check(t, name("embedding bwd grouped %v", s), e.read(dt, vocab*dim), f64s(want.Data()), 0, nil)
	}
}

func TestGroupIDs(t *testing.T) {
	uniq, start, pos := kernels.GroupIDs([]int32{4, 2, 4, 4, 0, 2})
	want := [][]int32{{4, 2, 0}, {0, 3, 5, 6}, {0, 2, 3, 1, 5, 4}}
	for i, got := range [][]int32{uniq, start, pos} {
		if fmt.Sprint(got) != fmt.Sprint(want[i]) {
			t.Errorf("GroupIDs: got %v %v %v, want %v", uniq, start, pos, want)
			break
		}
	}
}
