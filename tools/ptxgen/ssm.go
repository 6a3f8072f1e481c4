package main

// Embedding, the H3 short convolution and the H3 recurrent step. All are one thread per
// output element with launch block (256,1,1), grid (ceil(elements/256),1,1).
const ssmThreads = 256

// guardedIndex returns gid and branches to the returned label when gid >= total.
func guardedIndex(k *Kernel, total Reg) (gid Reg, done Label) {
	gid, _ = globalIndex(k)
	done = k.NewLabel("done")
	out := k.Setp("ge.u32", gid, total)
	k.OpIf(out, false, "bra", done)
	return gid, done
}

// guardedCell is guardedIndex over a row-major (rows, cols) grid, with gid split into its
// row and column.
func guardedCell(k *Kernel, rows, cols Reg) (gid, row, col Reg, done Label) {
	gid, done = guardedIndex(k, k.Bin("mul.lo.u32", rows, cols))
	return gid, k.Bin("div.u32", gid, cols), k.Bin("rem.u32", gid, cols), done
}

// guardedSeqIndex is guardedIndex over a channels-last (B, L, H) tensor, with gid's
// channel h and time step t.
func guardedSeqIndex(k *Kernel, B, L, H Reg) (gid, h, t Reg, done Label) {
	gid, done = guardedIndex(k, k.Bin("mul.lo.u32", k.Bin("mul.lo.u32", B, L), H))
	return gid, k.Bin("rem.u32", gid, H), k.Bin("rem.u32", k.Bin("div.u32", gid, H), L), done
}

func embeddingModule() *Module {
	m := &Module{File: "embedding.ptx", Doc: []string{"Embedding gather (forward) and scatter-add (backward)."}}
	{
		k := NewKernel("embedding_fwd_f32",
			"out[t, j] = table[ids[t], j] for t < ntokens, j < dim; ids are s32; an id outside [0, vocab) gives NaN").Launch(launch(256, 1, 1, "ceil(ntokens*dim, 256)", "1", "1"))
		out, table, ids := k.Param("out", ".u64"), k.Param("table", ".u64"), k.Param("ids", ".u64")
		ntok, vocab, dim := k.Param("ntokens", ".u32"), k.Param("vocab", ".u32"), k.Param("dim", ".u32")
		gid, t, j, done := guardedCell(k, ntok, dim)
		id := k.Ld("global", ".s32", At(elemAddr(k, ids, t, 4), 0))
		// unsigned compare: negative ids are huge and fail too
		ok := k.Setp("lt.u32", id, vocab)
		v := k.Mov(".f32", "0f7FC00000")
		src := elemAddr(k, table, k.Tern("mad.lo.u32", id, dim, j), 4)
		k.OpIf(ok, false, "ld.global.f32", v, At(src, 0))
		k.St("global", ".f32", At(elemAddr(k, out, gid, 4), 0), v)
		k.Place(done)
		k.Op("ret")
		m.Kernels = append(m.Kernels, k)
	}
	m.Kernels = append(m.Kernels, embeddingBwdGrouped())
	return m
}

const shortConvTaps = 64

func convModule() *Module {
	m := &Module{File: "shortconv.ptx", Doc: []string{"H3 64-tap causal short convolution, channels-last (B, L, H)."}}
	m.Kernels = append(m.Kernels,
		shortConvKernel("shortconv_fwd_f32", "y", "u", true,
			"y[b,t,h] = sum_{s<64, s<=t} k[h,s] * u[b,t-s,h] + d[h] * u[b,t,h]; u, y are (B, L, H), k is (H, 64)").Launch(launch(256, 1, 1, "ceil(B*L*H, 256)", "1", "1").note("k 16-byte aligned")),
		shortConvKernel("shortconv_bwd_du_f32", "du", "dy", false,
			"du[b,t,h] = d[h] * dy[b,t,h] + sum_{s<64, t+s<L} k[h,s] * dy[b,t+s,h]; layouts as shortconv_fwd_f32").Launch(launch(256, 1, 1, "ceil(B*L*H, 256)", "1", "1").note("k 16-byte aligned")),
		shortConvBwdDK())
	return m
}

// shortConvKernel builds the forward (forward true: out = y, in = u) or its adjoint in u
// (out = du, in = dy). They are one unrolled 64-tap sum plus the d skip term: the forward
// walks back from t to the sequence start, the adjoint forward from t to its end.
func shortConvKernel(name, outName, inName string, forward bool, doc ...string) *Kernel {
	k := NewKernel(name, doc...)
	out, in, kk, d := k.Param(outName, ".u64"), k.Param(inName, ".u64"), k.Param("k", ".u64"), k.Param("d", ".u64")
	B, L, H := k.Param("B", ".u32"), k.Param("L", ".u32"), k.Param("H", ".u32")
	gid, h, t, done := guardedSeqIndex(k, B, L, H)
	room, walk, stop := t, "sub.u64", "stop at the first s > t (the sequence start)"
	if !forward {
		room = k.Bin("sub.u32", k.Bin("sub.u32", L, t), Imm(1)) // steps to the end of the sequence
		walk, stop = "add.u64", "stop at the first s with t+s >= L"
	}
	xp := elemAddr(k, in, gid, 4)
	x0 := k.Ld("global", ".f32", At(xp, 0))
	acc := k.Bin("mul.f32", k.Ld("global", ".f32", At(elemAddr(k, d, h, 4), 0)), x0)
	kRow := elemAddr(k, kk, k.Bin("shl.b32", h, Imm(6)), 4)
	step := k.Reg(B64)
	k.Op("mul.wide.u32", step, H, 4)
	store := k.NewLabel("store")
	k.Comment("taps unrolled; %s", stop)
	var taps Vec
	for s := 0; s < shortConvTaps; s++ {
		if s%4 == 0 {
			taps = k.LdV("global", ".f32", 4, At(kRow, 4*s))
		}
		x := x0
		if s > 0 {
			past := k.Setp("gt.u32", Imm(s), room)
			k.OpIf(past, false, "bra", store)
			k.Op(walk, xp, xp, step)
			x = k.Ld("global", ".f32", At(xp, 0))
		}
		k.Op("fma.rn.f32", acc, taps[s%4], x, acc)
	}
	k.Place(store)
	k.St("global", ".f32", At(elemAddr(k, out, gid, 4), 0), acc)
	k.Place(done)
	k.Op("ret")
	return k
}

// shortConvBwdDK reduces over batch and time with one block per (tap, channel), so no
// atomics are needed and the result is deterministic.
func shortConvBwdDK() *Kernel {
	k := NewKernel("shortconv_bwd_dk_f32",
		"dk[h,s] = sum_{b, t>=s} dy[b,t,h] * u[b,t-s,h]; dd[h] = sum_{b,t} dy[b,t,h] * u[b,t,h] (= dk[h,0])").Launch(launch(256, 1, 1, "64", "H", "1").note("block (s, h) computes dk[h,s]; s == 0 also writes dd[h]"))
	dk, dd, dy, u := k.Param("dk", ".u64"), k.Param("dd", ".u64"), k.Param("dy", ".u64"), k.Param("u", ".u64")
	B, L, H := k.Param("B", ".u32"), k.Param("L", ".u32"), k.Param("H", ".u32")
	tid := k.Special("%tid.x")
	s := k.Special("%ctaid.x")
	h := k.Special("%ctaid.y")
	red := newBlockReducer(k, tid, redThreads)
	total := k.Bin("mul.lo.u32", B, L)
	acc := k.Mov(".f32", F(0))
	rowLoop(k, tid, total, redThreads, "bt", func(i Reg) {
		t := k.Bin("rem.u32", i, L)
		early := k.Setp("lt.u32", t, s)
		skip := k.NewLabel("before_tap")
		k.OpIf(early, false, "bra", skip)
		at := k.Tern("mad.lo.u32", i, H, h)
		g := k.Ld("global", ".f32", At(elemAddr(k, dy, at, 4), 0))
		x := k.Ld("global", ".f32", At(elemAddr(k, u, k.Bin("sub.u32", at, k.Bin("mul.lo.u32", s, H)), 4), 0))
		k.Op("fma.rn.f32", acc, g, x, acc)
		k.Place(skip)
	})
	sum := red.reduce(acc, "add.f32")
	lead := k.Setp("ne.u32", tid, Imm(0))
	end := k.NewLabel("end")
	k.OpIf(lead, false, "bra", end)
	k.St("global", ".f32", At(elemAddr(k, dk, k.Tern("mad.lo.u32", h, Imm(64), s), 4), 0), sum)
	notFirst := k.Setp("ne.u32", s, Imm(0))
	k.OpIf(notFirst, false, "bra", end)
	k.St("global", ".f32", At(elemAddr(k, dd, h, 4), 0), sum)
	k.Place(end)
	k.Op("ret")
	return k
}

const (
	shiftN = 64
	diagN  = 32
)

func h3StepModule() *Module {
	m := &Module{File: "h3step.ptx", Doc: []string{"One recurrent H3 step (head_dim 1) for one token."}}
	k := NewKernel("h3_step_f32",
		"per batch b and channel h (g = b*d + h), given the projected q, k, v of one token:",
		"  shift SSM (real, state s (batch,d,64)): s <- shift_right(s) + shift_b[h]*k; ks = shift_c[h].s + shift_d[h]*k",
		"  z = ks * v",
		"  diag SSM (complex (re,im) pairs, state x (batch,d,32)): x <- da[h]*x + db[h]*z; y = 2 Re(diag_c[h].x) + diag_d[h]*z",
		"  o = q * y; states are updated in place").Launch(launch(256, 1, 1, "ceil(batch*d, 256)", "1", "1").note("all pointers 16-byte aligned"))
	o := k.Param("o", ".u64")
	ss, ds := k.Param("shift_state", ".u64"), k.Param("diag_state", ".u64")
	q, kp, v := k.Param("q", ".u64"), k.Param("k", ".u64"), k.Param("v", ".u64")
	sb, sc, sd := k.Param("shift_b", ".u64"), k.Param("shift_c", ".u64"), k.Param("shift_d", ".u64")
	da, db, dc, dd := k.Param("diag_da", ".u64"), k.Param("diag_db", ".u64"), k.Param("diag_c", ".u64"), k.Param("diag_d", ".u64")
	batch, d := k.Param("batch", ".u32"), k.Param("d", ".u32")
	gid, done := guardedIndex(k, k.Bin("mul.lo.u32", batch, d))
	h := k.Bin("rem.u32", gid, d)
	kt := k.Ld("global", ".f32", At(elemAddr(k, kp, gid, 4), 0))
	k.Comment("shift SSM: new s[n] = old s[n-1] + B[n]*k (old s[-1] = 0)")
	sPtr := elemAddr(k, ss, k.Bin("shl.b32", gid, Imm(6)), 4)
	hRow := k.Bin("shl.b32", h, Imm(6))
	bPtr, cPtr := elemAddr(k, sb, hRow, 4), elemAddr(k, sc, hRow, 4)
	ks := k.Bin("mul.f32", k.Ld("global", ".f32", At(elemAddr(k, sd, h, 4), 0)), kt)
	prev := k.Mov(".f32", F(0))
	for c := 0; c < shiftN/4; c++ {
		old := k.LdV("global", ".f32", 4, At(sPtr, 16*c))
		bv := k.LdV("global", ".f32", 4, At(bPtr, 16*c))
		cv := k.LdV("global", ".f32", 4, At(cPtr, 16*c))
		var nw Vec
		for e := 0; e < 4; e++ {
			shifted := prev
			if e > 0 {
				shifted = old[e-1]
			}
			s := k.Tern("fma.rn.f32", bv[e], kt, shifted)
			k.Op("fma.rn.f32", ks, cv[e], s, ks)
			nw = append(nw, s)
		}
		k.St("global", ".f32", At(sPtr, 16*c), nw)
		prev = old[3]
	}
	z := k.Bin("mul.f32", ks, k.Ld("global", ".f32", At(elemAddr(k, v, gid, 4), 0)))
	k.Comment("diagonal SSM over 32 complex modes, two per v4 access")
	xPtr := elemAddr(k, ds, k.Bin("shl.b32", gid, Imm(6)), 4)
	aPtr := elemAddr(k, da, hRow, 4)
	bdPtr := elemAddr(k, db, hRow, 4)
	cdPtr := elemAddr(k, dc, hRow, 4)
	re := k.Mov(".f32", F(0))
	for c := 0; c < 2*diagN/4; c++ {
		x := k.LdV("global", ".f32", 4, At(xPtr, 16*c))
		a := k.LdV("global", ".f32", 4, At(aPtr, 16*c))
		bb := k.LdV("global", ".f32", 4, At(bdPtr, 16*c))
		cc := k.LdV("global", ".f32", 4, At(cdPtr, 16*c))
		var nw Vec
		for e := 0; e < 4; e += 2 {
			xr, xi, ar, ai, br, bi, cr, ci := x[e], x[e+1], a[e], a[e+1], bb[e], bb[e+1], cc[e], cc[e+1]
			// x' = a*x + b*z (z real)
			nr := k.Tern("fma.rn.f32", br, z, k.Tern("fma.rn.f32", ar, xr, k.Bin("mul.f32", k.Un("neg.f32", ai), xi)))
			ni := k.Tern("fma.rn.f32", bi, z, k.Tern("fma.rn.f32", ar, xi, k.Bin("mul.f32", ai, xr)))
			// Re(c*x') = cr*nr - ci*ni
			k.Op("fma.rn.f32", re, cr, nr, re)
			k.Op("fma.rn.f32", re, k.Un("neg.f32", ci), ni, re)
			nw = append(nw, nr, ni)
		}
		k.St("global", ".f32", At(xPtr, 16*c), nw)
	}
	yv := k.Tern("fma.rn.f32", k.Ld("global", ".f32", At(elemAddr(k, dd, h, 4), 0)), z, k.Bin("add.f32", re, re))
	out := k.Bin("mul.f32", k.Ld("global", ".f32", At(elemAddr(k, q, gid, 4), 0)), yv)
	k.St("global", ".f32", At(elemAddr(k, o, gid, 4), 0), out)
	k.Place(done)
	k.Op("ret")
	m.Kernels = append(m.Kernels, k)
	return m
}
