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
	ks = append(ks, blhToC64(), c64ToBLH())
	{
		k := NewKernel("cmul_sum_batch_c64",
			"out[h, i] = sum_{b < B} conj(a[b*H + h, i]) * c[b*H + h, i] for complex rows (B*H, n): the kernel gradient's",
			"spectrum summed over the batch in batch order (deterministic)").Launch(launch(256, 1, 1, "ceil(H*n, 256)", "1", "1"))
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
	ks = append(ks, c64RealRows("c64_real_rows_acc_f32", true,
		"out[r*L + i] += Re(in[r*n + i]) for i < L: the first L real parts of complex rows (rows, n), accumulated").Launch(launch(256, 1, 1, "ceil(rows*L, 256)", "1", "1")))
	return ks
}

// The gather and the scatter transpose (t, h) tiles of 32×32 through shared memory, so
// that both the channels-last side (h contiguous) and the row side (t contiguous) are
// read and written by whole warps at consecutive addresses. Block (32, 8): thread (x, y)
// moves rows y, y+8, y+16, y+24 of its tile. The tile is 32×33 floats: the extra column
// puts a tile column's 32 entries in 32 different banks.
const convTile = 32

type tileCtx struct {
	k         *Kernel
	tx, ty    Reg
	t0, h0, b Reg // tile origin and batch
	smem      Reg // shared base address
}

func newTileCtx(k *Kernel) *tileCtx {
	c := &tileCtx{k: k}
	c.tx, c.ty = k.Special("%tid.x"), k.Special("%tid.y")
	c.t0 = k.Bin("mul.lo.u32", k.Special("%ctaid.x"), Imm(convTile))
	c.h0 = k.Bin("mul.lo.u32", k.Special("%ctaid.y"), Imm(convTile))
	c.b = k.Special("%ctaid.z")
	c.smem = k.Mov(".u32", k.Shared("tile", 4, 4*convTile*(convTile+1)))
	return c
}

// at returns the shared address of tile[row][col].
func (c *tileCtx) at(row, col Reg) Reg {
	return c.k.Bin("add.u32", c.smem, c.k.Bin("shl.b32", c.k.Tern("mad.lo.u32", row, Imm(convTile+1), col), Imm(2)))
}

// rows runs body for the four tile rows r = ty + 8q of this thread.
func (c *tileCtx) rows(body func(r Reg)) {
	for q := 0; q < convTile/8; q++ {
		body(c.k.Bin("add.u32", c.ty, Imm(8*q)))
	}
}

// inBounds runs body(r, y, x) for the four entries this thread moves, x = x0 + tx along
// the side being read or written with whole warps, y = y0 + r for its tile rows r, and
// skips those past xEnd or yEnd: partial tiles at the edges of the matrix.
func (c *tileCtx) inBounds(x0, xEnd, y0, yEnd Reg, body func(r, y, x Reg)) {
	k := c.k
	x := k.Bin("add.u32", x0, c.tx)
	xIn := k.Setp("lt.u32", x, xEnd)
	c.rows(func(r Reg) {
		y := k.Bin("add.u32", y0, r)
		skip := k.NewLabel("outside")
		k.OpIf(xIn, true, "bra", skip)
		k.OpIf(k.Setp("ge.u32", y, yEnd), false, "bra", skip)
		body(r, y, x)
		k.Place(skip)
	})
}

func blhToC64() *Kernel {
	k := NewKernel("blh_to_c64",
		"out[(b*H + h)*n + i] = (i < L ? in[(b*L + i)*H + h] : 0) + 0i for i < n: channels-last sequences (B, L, H) gathered",
		"into zero-padded complex rows (B*H, n), one per (batch, channel), through 32x32 shared-memory tiles").Launch(launch(32, 8, 1, "ceil(n, 32)", "ceil(H, 32)", "B"))
	out, in := k.Param("out", ".u64"), k.Param("in", ".u64")
	k.Param("B", ".u32")
	L, H, n := k.Param("L", ".u32"), k.Param("H", ".u32"), k.Param("n", ".u32")
	c := newTileCtx(k)
	k.Comment("load: tile[t][h] from the channels-last rows (h contiguous), 0 past L or H")
	h := k.Bin("add.u32", c.h0, c.tx)
	hIn := k.Setp("lt.u32", h, H)
	c.rows(func(r Reg) {
		t := k.Bin("add.u32", c.t0, r)
		v := k.Mov(".f32", F(0))
		skip := k.NewLabel("pad")
		k.OpIf(hIn, true, "bra", skip)
		k.OpIf(k.Setp("ge.u32", t, L), false, "bra", skip)
		k.Op("ld.global.f32", v, At(elemAddr(k, in, k.Tern("mad.lo.u32", k.Tern("mad.lo.u32", c.b, L, t), H, h), 4), 0))
		k.Place(skip)
		k.St("shared", ".f32", At(c.at(r, c.tx), 0), v)
	})
	k.Op("bar.sync", 0)
	k.Comment("store: row (b, h) of the complex output, t contiguous")
	c.inBounds(c.t0, n, c.h0, H, func(r, h, t Reg) {
		v := k.Ld("shared", ".f32", At(c.at(c.tx, r), 0))
		row := k.Tern("mad.lo.u32", c.b, H, h)
		k.St("global", ".f32", At(elemAddr(k, out, k.Tern("mad.lo.u32", row, n, t), 8), 0), Vec{v, k.Mov(".f32", F(0))})
	})
	k.Op("ret")
	return k
}

func c64ToBLH() *Kernel {
	k := NewKernel("c64_to_blh_f32",
		"y[(b*L + t)*H + h] (=, or += when accumulate != 0) Re(in[(b*H + h)*n + t]) + d[h]*x[(b*L + t)*H + h] for t < L:",
		"complex rows (B*H, n) scattered back to channels-last (B, L, H) with the skip term (d may be 0: none), through",
		"32x32 shared-memory tiles").Launch(launch(32, 8, 1, "ceil(L, 32)", "ceil(H, 32)", "B"))
	y, in, x, d := k.Param("y", ".u64"), k.Param("in", ".u64"), k.Param("x", ".u64"), k.Param("d", ".u64")
	k.Param("B", ".u32")
	L, H, n := k.Param("L", ".u32"), k.Param("H", ".u32"), k.Param("n", ".u32")
	acc := k.Flag("accumulate")
	c := newTileCtx(k)
	k.Comment("load: tile[h][t] = Re of the complex rows (t contiguous)")
	c.inBounds(c.t0, L, c.h0, H, func(r, h, t Reg) {
		row := k.Tern("mad.lo.u32", c.b, H, h)
		v := k.Ld("global", ".f32", At(elemAddr(k, in, k.Tern("mad.lo.u32", row, n, t), 8), 0))
		k.St("shared", ".f32", At(c.at(r, c.tx), 0), v)
	})
	k.Op("bar.sync", 0)
	k.Comment("store: channels-last, h contiguous, with the skip term")
	h := k.Bin("add.u32", c.h0, c.tx)
	hIn := k.Setp("lt.u32", h, H)
	hasD := k.Setp("ne.u64", d, Imm(0))
	dv := k.Reg(F32)
	skipAll := k.NewLabel("done")
	k.OpIf(hIn, true, "bra", skipAll)
	k.OpIf(hasD, false, "ld.global.f32", dv, At(elemAddr(k, d, h, 4), 0))
	c.rows(func(r Reg) {
		tt := k.Bin("add.u32", c.t0, r)
		skip := k.NewLabel("outside")
		k.OpIf(k.Setp("ge.u32", tt, L), false, "bra", skip)
		v := k.Ld("shared", ".f32", At(c.at(c.tx, r), 0))
		at := k.Tern("mad.lo.u32", k.Tern("mad.lo.u32", c.b, L, tt), H, h)
		xv := k.Reg(F32)
		k.OpIf(hasD, false, "ld.global.f32", xv, At(elemAddr(k, x, at, 4), 0))
		k.OpIf(hasD, false, "fma.rn.f32", v, dv, xv, v)
		storeMaybeAcc(k, elemAddr(k, y, at, 4), v, acc)
		k.Place(skip)
	})
	k.Place(skipAll)
	k.Op("ret")
	return k
}
