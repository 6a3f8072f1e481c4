package main

// The channels-last pieces of the FFT causal convolution, tensor.(*CPU).CausalConv and
// CausalConvBackward: sequences (B, L, H) are gathered into zero-padded complex rows
// (B·H, n), convolved with fft_rows_c64 and cmul_c64, and scattered back with the skip
// term. n = 2^logn >= 2L keeps the circular convolution free of wrap-around for t < L.
//
//	forward:  Kf = FFT(pad(k)) (H rows); U = FFT(gather(u)); Y = IFFT(U·Kf); y = scatter(Y) + d·u
//	du:       DY = FFT(gather(dy)); du += scatter(IFFT(DY·conj(Kf))) + d·dy
//	dk:       dk[h, s] += Re IFFT(Σ_b conj(U_b)·DY_b)[s] for s < Lk (cmul_sum_batch_c64, then c64_real_rows_acc_f32)
//	dd:       causal_conv_bwd_dk_f32 with Lk = 1 and dk = 0

func fftConvKernels() []*Kernel {
	var ks []*Kernel
	{
		k := NewKernel("blh_to_c64",
			"out[(b*H + h)*n + i] = (i < L ? in[(b*L + i)*H + h] : 0) + 0i: channels-last sequences (B, L, H) gathered into",
			"zero-padded complex rows (B*H, n), one per (batch, channel)",
			"launch: block (256,1,1), grid (ceil(B*H*n/256),1,1)")
		out, in := k.Param("out", ".u64"), k.Param("in", ".u64")
		B, L, H, n := k.Param("B", ".u32"), k.Param("L", ".u32"), k.Param("H", ".u32"), k.Param("n", ".u32")
		gid, done := guardedIndex(k, k.Bin("mul.lo.u32", k.Bin("mul.lo.u32", B, H), n))
		r := k.Bin("div.u32", gid, n)
		i := k.Bin("rem.u32", gid, n)
		b := k.Bin("div.u32", r, H)
		h := k.Bin("rem.u32", r, H)
		v := k.Mov(".f32", F(0))
		inside := k.Setp("lt.u32", i, L)
		src := k.Tern("mad.lo.u32", k.Tern("mad.lo.u32", b, L, i), H, h)
		k.OpIf(inside, false, "ld.global.f32", v, At(elemAddr(k, in, src, 4), 0))
		k.St("global", ".f32", At(elemAddr(k, out, gid, 8), 0), Vec{v, k.Mov(".f32", F(0))})
		k.Place(done)
		k.Op("ret")
		ks = append(ks, k)
	}
	{
		k := NewKernel("c64_to_blh_f32",
			"y[(b*L + t)*H + h] (=, or += when accumulate != 0) Re(in[(b*H + h)*n + t]) + d[h]*x[(b*L + t)*H + h] for t < L:",
			"complex rows (B*H, n) scattered back to channels-last (B, L, H) with the skip term (d may be 0: none)",
			"launch: block (256,1,1), grid (ceil(B*L*H/256),1,1)")
		y, in, x, d := k.Param("y", ".u64"), k.Param("in", ".u64"), k.Param("x", ".u64"), k.Param("d", ".u64")
		B, L, H, n := k.Param("B", ".u32"), k.Param("L", ".u32"), k.Param("H", ".u32"), k.Param("n", ".u32")
		acc := k.Param("accumulate", ".u32")
		gid, done := guardedIndex(k, k.Bin("mul.lo.u32", k.Bin("mul.lo.u32", B, L), H))
		h := k.Bin("rem.u32", gid, H)
		bt := k.Bin("div.u32", gid, H)
		t := k.Bin("rem.u32", bt, L)
		b := k.Bin("div.u32", bt, L)
		row := k.Tern("mad.lo.u32", b, H, h)
		v := k.Ld("global", ".f32", At(elemAddr(k, in, k.Tern("mad.lo.u32", row, n, t), 8), 0))
		hasD := k.Setp("ne.u64", d, Imm(0))
		dv, xv := k.Reg(F32), k.Reg(F32)
		k.OpIf(hasD, false, "ld.global.f32", dv, At(elemAddr(k, d, h, 4), 0))
		k.OpIf(hasD, false, "ld.global.f32", xv, At(elemAddr(k, x, gid, 4), 0))
		k.OpIf(hasD, false, "fma.rn.f32", v, dv, xv, v)
		storeMaybeAcc(k, elemAddr(k, y, gid, 4), v, acc)
		k.Place(done)
		k.Op("ret")
		ks = append(ks, k)
	}
	{
		k := NewKernel("cmul_sum_batch_c64",
			"out[h, i] = sum_{b < B} conj(a[b*H + h, i]) * c[b*H + h, i] for complex rows (B*H, n): the kernel gradient's",
			"spectrum summed over the batch in batch order (deterministic)",
			"launch: block (256,1,1), grid (ceil(H*n/256),1,1)")
		out, a, c := k.Param("out", ".u64"), k.Param("a", ".u64"), k.Param("c", ".u64")
		B, H, n := k.Param("B", ".u32"), k.Param("H", ".u32"), k.Param("n", ".u32")
		gid, done := guardedIndex(k, k.Bin("mul.lo.u32", H, n))
		step := k.Reg(B64)
		k.Op("mul.wide.u32", step, k.Bin("mul.lo.u32", H, n), 8)
		pa, pc := elemAddr(k, a, gid, 8), elemAddr(k, c, gid, 8)
		re, im := k.Mov(".f32", F(0)), k.Mov(".f32", F(0))
		b := k.Mov(".u32", Imm(0))
		top, fin := k.NewLabel("batch"), k.NewLabel("batch_done")
		k.Place(top)
		k.OpIf(k.Setp("ge.u32", b, B), false, "bra", fin)
		x := k.LdV("global", ".f32", 2, At(pa, 0))
		y := k.LdV("global", ".f32", 2, At(pc, 0))
		// conj(x)·y = (xr yr + xi yi) + i (xr yi − xi yr)
		k.Op("fma.rn.f32", re, x[0], y[0], re)
		k.Op("fma.rn.f32", re, x[1], y[1], re)
		k.Op("fma.rn.f32", im, x[0], y[1], im)
		k.Op("fma.rn.f32", im, k.Un("neg.f32", x[1]), y[0], im)
		k.Op("add.u64", pa, pa, step)
		k.Op("add.u64", pc, pc, step)
		k.Op("add.u32", b, b, 1)
		k.Op("bra", top)
		k.Place(fin)
		k.St("global", ".f32", At(elemAddr(k, out, gid, 8), 0), Vec{re, im})
		k.Place(done)
		k.Op("ret")
		ks = append(ks, k)
	}
	{
		k := NewKernel("c64_real_rows_acc_f32",
			"out[r*L + i] += Re(in[r*n + i]) for i < L: the first L real parts of complex rows (rows, n), accumulated",
			"launch: block (256,1,1), grid (ceil(rows*L/256),1,1)")
		out, in := k.Param("out", ".u64"), k.Param("in", ".u64")
		rows, L, n := k.Param("rows", ".u32"), k.Param("L", ".u32"), k.Param("n", ".u32")
		gid, done := guardedIndex(k, k.Bin("mul.lo.u32", rows, L))
		r := k.Bin("div.u32", gid, L)
		i := k.Bin("rem.u32", gid, L)
		v := k.Ld("global", ".f32", At(elemAddr(k, in, k.Tern("mad.lo.u32", r, n, i), 8), 0))
		o := elemAddr(k, out, gid, 4)
		k.St("global", ".f32", At(o, 0), k.Bin("add.f32", k.Ld("global", ".f32", At(o, 0)), v))
		k.Place(done)
		k.Op("ret")
		ks = append(ks, k)
	}
	return ks
}
