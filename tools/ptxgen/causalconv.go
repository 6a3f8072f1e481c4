package main

// Direct causal convolution of channels-last sequences with a kernel of any length Lk ≤ L,
// the semantics of tensor.(*CPU).CausalConv and CausalConvBackward computed in
// O(B·L·Lk·H) instead of by FFT: a first, simple GPU path for moderate L. u, y are
// (B, L, H), k is (H, Lk), d is (H) or the null pointer (no skip term).

// causalConvLoop emits acc += k[h,s]·x[p ∓ s·H] for s < taps, stepping the x pointer by
// dir·H elements per tap; taps is computed by the caller so no bounds check is needed.
func causalConvLoop(k *Kernel, acc, kRow, xp, taps, H Reg, dir int) {
	step := k.Reg(B64)
	k.Op("mul.wide.u32", step, H, 4)
	kp := k.Mov(".u64", kRow)
	s := k.Mov(".u32", Imm(0))
	top, done := k.NewLabel("taps"), k.NewLabel("taps_done")
	k.Place(top)
	fin := k.Setp("ge.u32", s, taps)
	k.OpIf(fin, false, "bra", done)
	kv := k.Ld("global", ".f32", At(kp, 0))
	xv := k.Ld("global", ".f32", At(xp, 0))
	k.Op("fma.rn.f32", acc, kv, xv, acc)
	k.Op("add.u64", kp, kp, 4)
	if dir < 0 {
		k.Op("sub.u64", xp, xp, step)
	} else {
		k.Op("add.u64", xp, xp, step)
	}
	k.Op("add.u32", s, s, 1)
	k.Op("bra", top)
	k.Place(done)
}

func causalConvModule() *Module {
	m := &Module{File: "causalconv.ptx", Doc: []string{
		"Direct causal convolution (any kernel length) of channels-last sequences, forward and backward.",
	}}
	{
		k := NewKernel("causal_conv_fwd_f32",
			"y[b,t,h] = sum_{s <= min(t, Lk-1)} k[h,s] * u[b,t-s,h] + d[h] * u[b,t,h]; u, y (B, L, H), k (H, Lk), d (H) or 0 (no skip)",
			"launch: block (256,1,1), grid (ceil(B*L*H/256),1,1)")
		y, u, kk, d := k.Param("y", ".u64"), k.Param("u", ".u64"), k.Param("k", ".u64"), k.Param("d", ".u64")
		B, L, H, Lk := k.Param("B", ".u32"), k.Param("L", ".u32"), k.Param("H", ".u32"), k.Param("Lk", ".u32")
		gid, done := guardedIndex(k, k.Bin("mul.lo.u32", k.Bin("mul.lo.u32", B, L), H))
		h := k.Bin("rem.u32", gid, H)
		t := k.Bin("rem.u32", k.Bin("div.u32", gid, H), L)
		up := elemAddr(k, u, gid, 4)
		acc := k.Mov(".f32", F(0))
		hasD := k.Setp("ne.u64", d, Imm(0))
		dv := k.Reg(F32)
		k.OpIf(hasD, false, "ld.global.f32", dv, At(elemAddr(k, d, h, 4), 0))
		u0 := k.Ld("global", ".f32", At(up, 0))
		k.OpIf(hasD, false, "mul.f32", acc, dv, u0)
		taps := k.Bin("min.u32", k.Bin("add.u32", t, Imm(1)), Lk)
		causalConvLoop(k, acc, elemAddr(k, kk, k.Bin("mul.lo.u32", h, Lk), 4), up, taps, H, -1)
		k.St("global", ".f32", At(elemAddr(k, y, gid, 4), 0), acc)
		k.Place(done)
		k.Op("ret")
		m.Kernels = append(m.Kernels, k)
	}
	{
		k := NewKernel("causal_conv_bwd_du_f32",
			"du[b,t,h] += d[h] * dy[b,t,h] + sum_{s < Lk, t+s < L} k[h,s] * dy[b,t+s,h] (accumulates; d may be 0); layouts as causal_conv_fwd_f32",
			"launch: block (256,1,1), grid (ceil(B*L*H/256),1,1)")
		du, dy, kk, d := k.Param("du", ".u64"), k.Param("dy", ".u64"), k.Param("k", ".u64"), k.Param("d", ".u64")
		B, L, H, Lk := k.Param("B", ".u32"), k.Param("L", ".u32"), k.Param("H", ".u32"), k.Param("Lk", ".u32")
		gid, done := guardedIndex(k, k.Bin("mul.lo.u32", k.Bin("mul.lo.u32", B, L), H))
		h := k.Bin("rem.u32", gid, H)
		t := k.Bin("rem.u32", k.Bin("div.u32", gid, H), L)
		gp := elemAddr(k, dy, gid, 4)
		acc := k.Mov(".f32", F(0))
		hasD := k.Setp("ne.u64", d, Imm(0))
		dv := k.Reg(F32)
		k.OpIf(hasD, false, "ld.global.f32", dv, At(elemAddr(k, d, h, 4), 0))
		g0 := k.Ld("global", ".f32", At(gp, 0))
		k.OpIf(hasD, false, "mul.f32", acc, dv, g0)
		taps := k.Bin("min.u32", k.Bin("sub.u32", L, t), Lk)
		causalConvLoop(k, acc, elemAddr(k, kk, k.Bin("mul.lo.u32", h, Lk), 4), gp, taps, H, +1)
		out := elemAddr(k, du, gid, 4)
		k.St("global", ".f32", At(out, 0), k.Bin("add.f32", k.Ld("global", ".f32", At(out, 0)), acc))
		k.Place(done)
		k.Op("ret")
		m.Kernels = append(m.Kernels, k)
	}
	{
		k := NewKernel("causal_conv_bwd_dk_f32",
			"dk[h,s] += sum_{b, s <= t < L} dy[b,t,h] * u[b,t-s,h] and dd[h] += the s = 0 sum (either pointer may be 0 to skip it)",
			"thread (x, y) of block (bx, by) handles h = 32 bx + x (32 consecutive channels: coalesced loads) and s = 8 by + y;",
			"each sums its B*(L-s) terms in order in fp32, so the result is deterministic",
			"launch: block (32,8,1), grid (ceil(H/32), ceil(Lk/8), 1)")
		dk, dd, dy, u := k.Param("dk", ".u64"), k.Param("dd", ".u64"), k.Param("dy", ".u64"), k.Param("u", ".u64")
		B, L, H, Lk := k.Param("B", ".u32"), k.Param("L", ".u32"), k.Param("H", ".u32"), k.Param("Lk", ".u32")
		tx, ty := k.Special("%tid.x"), k.Special("%tid.y")
		h := k.Tern("mad.lo.u32", k.Special("%ctaid.x"), Imm(32), tx)
		s := k.Tern("mad.lo.u32", k.Special("%ctaid.y"), Imm(8), ty)
		done := k.NewLabel("done")
		k.OpIf(k.Setp("ge.u32", h, H), false, "bra", done)
		k.OpIf(k.Setp("ge.u32", s, Lk), false, "bra", done)
		acc := k.Mov(".f32", F(0))
		step := k.Reg(B64)
		k.Op("mul.wide.u32", step, H, 4)
		n := k.Bin("sub.u32", L, s) // terms per sequence
		b := k.Mov(".u32", Imm(0))
		seqTop, seqDone := k.NewLabel("seq"), k.NewLabel("seq_done")
		k.Place(seqTop)
		k.OpIf(k.Setp("ge.u32", b, B), false, "bra", seqDone)
		row := k.Bin("mul.lo.u32", b, L)
		gp := elemAddr(k, dy, k.Tern("mad.lo.u32", k.Bin("add.u32", row, s), H, h), 4)
		xp := elemAddr(k, u, k.Tern("mad.lo.u32", row, H, h), 4)
		i := k.Mov(".u32", Imm(0))
		top, fin := k.NewLabel("t"), k.NewLabel("t_done")
		k.Place(top)
		k.OpIf(k.Setp("ge.u32", i, n), false, "bra", fin)
		k.Op("fma.rn.f32", acc, k.Ld("global", ".f32", At(gp, 0)), k.Ld("global", ".f32", At(xp, 0)), acc)
		k.Op("add.u64", gp, gp, step)
		k.Op("add.u64", xp, xp, step)
		k.Op("add.u32", i, i, 1)
		k.Op("bra", top)
		k.Place(fin)
		k.Op("add.u32", b, b, 1)
		k.Op("bra", seqTop)
		k.Place(seqDone)
		skipK := k.NewLabel("no_dk")
		k.OpIf(k.Setp("eq.u64", dk, Imm(0)), false, "bra", skipK)
		kp := elemAddr(k, dk, k.Tern("mad.lo.u32", h, Lk, s), 4)
		k.St("global", ".f32", At(kp, 0), k.Bin("add.f32", k.Ld("global", ".f32", At(kp, 0)), acc))
		k.Place(skipK)
		k.OpIf(k.Setp("ne.u32", s, Imm(0)), false, "bra", done)
		k.OpIf(k.Setp("eq.u64", dd, Imm(0)), false, "bra", done)
		dp := elemAddr(k, dd, h, 4)
		k.St("global", ".f32", At(dp, 0), k.Bin("add.f32", k.Ld("global", ".f32", At(dp, 0)), acc))
		k.Place(done)
		k.Op("ret")
		m.Kernels = append(m.Kernels, k)
	}
	return m
}
