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
	x := ahead(xp, step)
	if dir < 0 {
		x = behind(xp, step)
	}
	dotLoop(k, acc, taps, "taps", ahead(k.Mov(".u64", kRow), 4), x)
}

func causalConvModule() *Module {
	m := &Module{File: "causalconv.ptx", Doc: []string{
		"Direct causal convolution (any kernel length) of channels-last sequences, forward and backward.",
	}}
	m.Kernels = append(m.Kernels,
		causalConvKernel("causal_conv_fwd_f32", "y", "u", true,
			"y[b,t,h] = sum_{s <= min(t, Lk-1)} k[h,s] * u[b,t-s,h] + d[h] * u[b,t,h]; u, y (B, L, H), k (H, Lk), d (H) or 0 (no skip)").Launch(launch(256, 1, 1, "ceil(B*L*H, 256)", "1", "1")),
		causalConvKernel("causal_conv_bwd_du_f32", "du", "dy", false,
			"du[b,t,h] += d[h] * dy[b,t,h] + sum_{s < Lk, t+s < L} k[h,s] * dy[b,t+s,h] (accumulates; d may be 0); layouts as causal_conv_fwd_f32").Launch(launch(256, 1, 1, "ceil(B*L*H, 256)", "1", "1")),
		causalConvBwdDK())
	return m
}

// causalConvKernel builds the forward (forward true: y = conv(u)) or its adjoint in u
// (du += conv^T(dy)). Both are the d skip term plus a tap sum over the input; the forward
// walks the input back towards the sequence start and stores, the adjoint walks it on
// towards the end and accumulates, as the Device interface's backward passes do.
func causalConvKernel(name, outName, inName string, forward bool, doc ...string) *Kernel {
	k := NewKernel(name, doc...)
	out, in, kk, d := k.Param(outName, ".u64"), k.Param(inName, ".u64"), k.Param("k", ".u64"), k.Param("d", ".u64")
	B, L, H, Lk := k.Param("B", ".u32"), k.Param("L", ".u32"), k.Param("H", ".u32"), k.Param("Lk", ".u32")
	gid, h, t, done := guardedSeqIndex(k, B, L, H)
	xp := elemAddr(k, in, gid, 4)
	acc := k.Mov(".f32", F(0))
	hasD := k.Setp("ne.u64", d, Imm(0))
	dv := k.Reg(F32)
	k.OpIf(hasD, false, "ld.global.f32", dv, At(elemAddr(k, d, h, 4), 0))
	x0 := k.Ld("global", ".f32", At(xp, 0))
	k.OpIf(hasD, false, "mul.f32", acc, dv, x0)
	var taps Reg
	dir := +1
	if forward {
		taps = k.Bin("min.u32", k.Bin("add.u32", t, Imm(1)), Lk) // back to the sequence start
		dir = -1
	} else {
		taps = k.Bin("min.u32", k.Bin("sub.u32", L, t), Lk) // on to the sequence end
	}
	causalConvLoop(k, acc, elemAddr(k, kk, k.Bin("mul.lo.u32", h, Lk), 4), xp, taps, H, dir)
	if forward {
		k.St("global", ".f32", At(elemAddr(k, out, gid, 4), 0), acc)
	} else {
		addAt(k, out, gid, acc)
	}
	k.Place(done)
	k.Op("ret")
	return k
}

// causalConvBwdDK gives every (channel, tap) its own thread that sums over batch and time
// in a fixed order, so the weight gradient is deterministic without atomics.
func causalConvBwdDK() *Kernel {
	k := NewKernel("causal_conv_bwd_dk_f32",
		"dk[h,s] += sum_{b, s <= t < L} dy[b,t,h] * u[b,t-s,h] and dd[h] += the s = 0 sum (either pointer may be 0 to skip it)",
		"thread (x, y) of block (bx, by) handles h = 32 bx + x (32 consecutive channels: coalesced loads) and s = 8 by + y;",
		"each sums its B*(L-s) terms in order in fp32, so the result is deterministic").Launch(launch(32, 8, 1, "ceil(H, 32)", "ceil(Lk, 8)", "1"))
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
	dotLoop(k, acc, n, "t", ahead(gp, step), ahead(xp, step))
	k.Op("add.u32", b, b, 1)
	k.Op("bra", seqTop)
	k.Place(seqDone)
	skipK := k.NewLabel("no_dk")
	k.OpIf(k.Setp("eq.u64", dk, Imm(0)), false, "bra", skipK)
	addAt(k, dk, k.Tern("mad.lo.u32", h, Lk, s), acc)
	k.Place(skipK)
	k.OpIf(k.Setp("ne.u32", s, Imm(0)), false, "bra", done)
	k.OpIf(k.Setp("eq.u64", dd, Imm(0)), false, "bra", done)
	addAt(k, dd, h, acc)
	k.Place(done)
	k.Op("ret")
	return k
}
