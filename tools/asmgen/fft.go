package main

// fftKernels writes tensor/internal/fft/kernels_amd64.s.
func fftKernels() *File {
	a := NewFile("kernels_amd64.s")
	a.Doc(`AVX2+FMA kernels; the contracts are the generic twins' in generic.go. Complex values are
interleaved (re, im) float32 pairs, four per ymm register. A product x·w is
  fmaddsub(x, re(w) re(w), swap(x) · im(w) im(w))
= (xr·wr − xi·wi, xi·wr + xr·wi), one permute, one multiply and one fused op.`)
	odd := make([]uint32, 16)
	for i := 1; i < 16; i += 2 {
		odd[i] = 0x80000000
	}
	a.Data(`negodd flips the sign of the imaginary lanes: conj(x) = x XOR negodd, and
−i·x = swap(x) XOR negodd. It is 16 lanes wide for the zmm kernels.`, "negodd", odd)
	a.Data("negeven flips the sign of the real lanes: i·x = swap(x) XOR negeven.", "negeven", append(odd[1:8], 0))
	a.Data("", "half", []uint32{0x3f000000})
	radix2(a, Ymm)
	radix4(a, Ymm)
	spectra(a, Ymm, false)
	spectra(a, Ymm, true)
	transpose8(a)
	split(a)
	join(a)
	swapScale(a)
	pack(a)
	a.Doc(`The AVX-512 butterflies and spectrum products: the same code on zmm registers of 8 complex
values, so the butterflies need a half-size h that is a multiple of 8.`)
	radix2(a, Zmm)
	radix4(a, Zmm)
	spectra(a, Zmm, false)
	spectra(a, Zmm, true)
	return a
}

// cmul sets t = x·w, where wr and wi hold w's real and imaginary parts duplicated into
// both lanes of each complex value. x is preserved.
func cmul(a *File, x, wr, wi, t string) {
	a.I("VPERMILPS", Hex(0xB1), x, t)
	a.I("VMULPS", wi, t, t)
	a.I("VFMADDSUB231PS", wr, x, t)
}

// twiddle loads w at mem split into its duplicated real (wr) and imaginary (wi) parts.
func twiddle(a *File, mem, wr, wi string) {
	a.I("VMOVSLDUP", mem, wr)
	a.I("VMOVSHDUP", mem, wi)
}

// swapSign sets dst = swap(src) XOR mask: −i·src with negodd, i·src with negeven.
func swapSign(a *File, src, mask, dst string) {
	a.I("VPERMILPS", Hex(0xB1), src, dst)
	a.I("VXORPS", mask, dst, dst)
}

// butterflyBlocks walks the blocks of x (SI up to CX) of blk bytes each: ptrs points the
// other quarters or halves of a block, and body runs at every byte offset DX < R8 (the
// first quarter or half), one register of v at a time.
func butterflyBlocks(fn *Func, v Vec, l, blk string, ptrs, body func()) {
	fn.Label(l + "block")
	fn.I("LEAQ", Idx(0, "SI", blk, 1), "AX")
	fn.I("CMPQ", "AX", "CX")
	fn.I("JGT", l+"done")
	ptrs()
	fn.I("XORQ", "DX", "DX")
	fn.Label(l + "inner")
	body()
	fn.I("ADDQ", Imm(v.Bytes), "DX")
	fn.I("CMPQ", "DX", "R8")
	fn.I("JLT", l+"inner")
	fn.I("MOVQ", "AX", "SI")
	fn.I("JMP", l+"block")
	fn.Exit(l + "done")
}

func at(base string) string { return Idx(0, base, "DX", 1) }

func radix2(a *File, v Vec) {
	r := v.R
	fn := a.Fn("func "+v.Kernel("radix2")+"(x, w []complex64)", "")
	fn.Args("x_base", "SI", "x_len", "CX", "w_base", "R12", "w_len", "R8")
	fn.I("TESTQ", "R8", "R8")
	fn.I("JZ", "r2_done")
	fn.Note("half block, bytes", "SHLQ", "$3", "R8")
	fn.I("SHLQ", "$3", "CX")
	fn.Note("end of x", "ADDQ", "SI", "CX")
	fn.Note("block, bytes", "LEAQ", "(R8)(R8*1)", "R11")
	butterflyBlocks(fn, v, "r2_", "R11", func() {
		fn.I("LEAQ", "(SI)(R8*1)", "DI")
	}, func() {
		twiddle(fn.File, at("R12"), r(8), r(9))
		fn.Load(v, at("DI"), r(1))
		cmul(fn.File, r(1), r(8), r(9), r(2))
		fn.Load(v, at("SI"), r(0))
		fn.I("VADDPS", r(2), r(0), r(3))
		fn.I("VSUBPS", r(2), r(0), r(4))
		fn.Store(v, r(3), at("SI"))
		fn.Store(v, r(4), at("DI"))
	})
}

func radix4(a *File, v Vec) {
	r := v.R
	fn := a.Fn("func "+v.Kernel("radix4")+"(x, w1, w2 []complex64)", "")
	fn.Args("x_base", "SI", "x_len", "CX", "w1_base", "R12", "w1_len", "R8", "w2_base", "R13")
	fn.I("TESTQ", "R8", "R8")
	fn.I("JZ", "r4_done")
	fn.Load(v, "negodd<>(SB)", r(15))
	fn.Note("quarter block, bytes", "SHLQ", "$3", "R8")
	fn.I("SHLQ", "$3", "CX")
	fn.Note("end of x", "ADDQ", "SI", "CX")
	fn.I("LEAQ", "(R8)(R8*1)", "R14")
	fn.Note("block, bytes", "ADDQ", "R14", "R14")
	butterflyBlocks(fn, v, "r4_", "R14", func() {
		fn.I("LEAQ", "(SI)(R8*1)", "R9")
		fn.I("LEAQ", "(R9)(R8*1)", "R10")
		fn.I("LEAQ", "(R10)(R8*1)", "R11")
	}, func() {
		fn.Comment("First stage, half-size h: (a, b) and (c, d) with twiddle w1.")
		twiddle(fn.File, at("R12"), r(8), r(9))
		fn.Load(v, at("R9"), r(1))
		cmul(fn.File, r(1), r(8), r(9), r(12))
		fn.Load(v, at("R11"), r(3))
		cmul(fn.File, r(3), r(8), r(9), r(13))
		fn.Load(v, at("SI"), r(0))
		fn.Load(v, at("R10"), r(2))
		fn.I("VADDPS", r(12), r(0), r(4))
		fn.I("VSUBPS", r(12), r(0), r(5))
		fn.I("VADDPS", r(13), r(2), r(6))
		fn.I("VSUBPS", r(13), r(2), r(7))
		fn.Blank()
		fn.Comment("Second stage, half-size 2h: (a1, c1) with w2 and (b1, d1) with −i·w2.")
		twiddle(fn.File, at("R13"), r(10), r(11))
		cmul(fn.File, r(6), r(10), r(11), r(12))
		cmul(fn.File, r(7), r(10), r(11), r(13))
		swapSign(fn.File, r(13), r(15), r(13))
		fn.I("VADDPS", r(12), r(4), r(0))
		fn.I("VSUBPS", r(12), r(4), r(2))
		fn.I("VADDPS", r(13), r(5), r(1))
		fn.I("VSUBPS", r(13), r(5), r(3))
		for i, p := range []string{"SI", "R9", "R10", "R11"} {
			fn.Store(v, r(i), at(p))
		}
	})
}

// spectra writes mulSpectra (acc false) or mulAddSpectra (acc true) for file v: CX values
// of a at SI and b at DX, the products stored or added at DI. Register 15 is negodd when
// conjA, else zero, so that XOR with it conjugates a or leaves it. They walk 8 values per
// zmm register (for Zmm), then 4 per ymm register, then 2 in an xmm register, then the
// last one, and never touch memory past the end of a slice.
func spectra(a *File, v Vec, acc bool) {
	name := v.Kernel("mulSpectra")
	if acc {
		name = v.Kernel("mulAddSpectra")
	}
	fn := a.Fn("func "+name+"(dst, a, b []complex64, conjA bool)", "")
	fn.Args("dst_base", "DI", "dst_len", "CX", "a_base", "SI", "b_base", "DX")
	fn.I("MOVBLZX", fn.Arg("conjA"), "AX")
	fn.Zero(v.R(15))
	fn.I("TESTQ", "AX", "AX")
	fn.I("JZ", "start")
	fn.Load(v, "negodd<>(SB)", v.R(15))
	fn.Label("start")
	// step does n values in registers of v, moved with mov: (a XOR mask)·b into register 4.
	step := func(v Vec, mov string, n int) {
		r := v.R
		fn.I(mov, "(SI)", r(0))
		fn.I("VXORPS", r(15), r(0), r(0))
		fn.I("VMOVSLDUP", r(0), r(1))
		fn.I("VMOVSHDUP", r(0), r(2))
		fn.I(mov, "(DX)", r(3))
		cmul(fn.File, r(3), r(1), r(2), r(4))
		switch {
		case !acc:
			fn.I(mov, r(4), "(DI)")
		case v.Bytes >= 32:
			fn.I("VADDPS", "(DI)", r(4), r(4))
			fn.I(mov, r(4), "(DI)")
		default:
			// A VADDPS memory operand reads 16 bytes, past the end of dst when one value
			// is left, so dst is loaded into X5 first.
			fn.I(mov, "(DI)", r(5))
			fn.I("VADDPS", r(5), r(4), r(4))
			fn.I(mov, r(4), "(DI)")
		}
		if n > 1 {
			fn.Advance(8*n, "SI", "DX", "DI")
			fn.I("SUBQ", Imm(n), "CX")
		}
	}
	if v == Zmm {
		fn.I("CMPQ", "CX", "$8")
		fn.I("JLT", "four")
		fn.Label("eight")
		step(Zmm, "VMOVUPS", 8)
		fn.I("CMPQ", "CX", "$8")
		fn.I("JGE", "eight")
		fn.Label("four")
		fn.I("CMPQ", "CX", "$4")
		fn.I("JLT", "two")
		step(Ymm, "VMOVUPS", 4)
	} else {
		fn.I("CMPQ", "CX", "$4")
		fn.I("JLT", "two")
		fn.Label("four")
		step(Ymm, "VMOVUPS", 4)
		fn.I("CMPQ", "CX", "$4")
		fn.I("JGE", "four")
	}
	fn.Label("two")
	fn.I("CMPQ", "CX", "$2")
	fn.I("JLT", "one")
	step(Xmm, "VMOVUPS", 2)
	fn.Label("one")
	fn.I("CMPQ", "CX", "$1")
	fn.I("JLT", "done")
	step(Xmm, "VMOVQ", 1)
	fn.Exit("done")
}

func transpose8(a *File) {
	fn := a.Fn("func transpose8AVX2(dst []float32, ldd int, src []float32, lds int)",
		`transpose8AVX2 is transpose8Generic's twin; the caller guarantees that both 8×8 blocks
lie within their slices.`)
	fn.Args("dst_base", "DI", "ldd", "R8", "src_base", "SI", "lds", "R9")
	fn.I("SHLQ", "$2", "R8")
	fn.I("SHLQ", "$2", "R9")
	fn.Note("3·lds", "LEAQ", "(R9)(R9*2)", "R10")
	fn.Note("row 4", "LEAQ", "(SI)(R9*4)", "R11")
	fn.Blank()
	for i := 0; i < 8; i++ {
		fn.Load(Ymm, Row(0, []string{"SI", "R11"}[i/4], "R9", "R10", i%4), Ymm.R(i))
	}
	fn.Blank()
	fn.Transpose8x8()
	fn.Blank()
	fn.I("LEAQ", "(R8)(R8*2)", "R10")
	fn.I("LEAQ", "(DI)(R8*4)", "R11")
	for i := 0; i < 8; i++ {
		fn.Store(Ymm, Ymm.R(8+i), Row(0, []string{"DI", "R11"}[i/4], "R8", "R10", i%4))
	}
	fn.Ret()
}

func split(a *File) {
	fn := a.Fn("func splitAVX2(z, w []complex64, blocks int)",
		`splitAVX2 takes four bins k and their four mirrors m−k per step; the caller guarantees
blocks ≤ pairBlocks(m) and len(w) > 4·blocks. With A = Z[k..k+3] and B = Z[m−k−3..m−k] reversed into the same order (VPERMPD $0x1B
reverses the four complex values of a register): E' = A + conj B, O' = −i·(A − conj B),
X[k] = (E' + W·O')/2 and X[m−k] = conj(E' − W·O')/2, stored back reversed.`)
	fn.Args("z_base", "SI", "z_len", "CX", "w_base", "R12", "blocks", "BX")
	fn.I("TESTQ", "BX", "BX")
	fn.I("JZ", "split_done")
	fn.Note("&z[1]", "LEAQ", "8(SI)", "DI")
	fn.Note("&z[m−4], len(z) = m+1", "LEAQ", "-40(SI)(CX*8)", "R8")
	fn.Note("&w[1]", "ADDQ", "$8", "R12")
	fn.Load(Ymm, "negodd<>(SB)", "Y15")
	fn.I("VBROADCASTSS", "half<>(SB)", "Y14")
	fn.Label("split_loop")
	fn.Load(Ymm, "(DI)", "Y0")
	fn.Load(Ymm, "(R8)", "Y1")
	fn.I("VPERMPD", Hex(0x1B), "Y1", "Y1")
	fn.I("VXORPS", "Y15", "Y1", "Y2")
	fn.Note("E'", "VADDPS", "Y2", "Y0", "Y3")
	fn.I("VSUBPS", "Y2", "Y0", "Y4")
	swapSign(fn.File, "Y4", "Y15", "Y4") // O'
	twiddle(fn.File, "(R12)", "Y5", "Y6")
	cmul(fn.File, "Y4", "Y5", "Y6", "Y7") // W·O'
	fn.I("VADDPS", "Y7", "Y3", "Y8")
	fn.I("VSUBPS", "Y7", "Y3", "Y9")
	fn.I("VXORPS", "Y15", "Y9", "Y9")
	fn.I("VMULPS", "Y14", "Y8", "Y8")
	fn.I("VMULPS", "Y14", "Y9", "Y9")
	fn.I("VPERMPD", Hex(0x1B), "Y9", "Y9")
	fn.Store(Ymm, "Y8", "(DI)")
	fn.Store(Ymm, "Y9", "(R8)")
	fn.I("ADDQ", "$32", "DI")
	fn.I("SUBQ", "$32", "R8")
	fn.I("ADDQ", "$32", "R12")
	fn.Repeat("BX", "split_loop")
	fn.Exit("split_done")
}

func join(a *File) {
	fn := a.Fn("func joinAVX2(s, x, w []complex64, blocks int)",
		`joinAVX2 takes four bins k and their four mirrors m−k per step, under splitAVX2's
guarantees. With A = x[k..k+3] and B = conj x[m−k−3..m−k] reversed into the same order: S = A + B,
T = i·conj(W)·(A − B), s[k] = swap(S + T) and s[m−k] = swap(conj(S − T)), the latter
stored back reversed.`)
	fn.Args("s_base", "DI", "s_len", "CX", "x_base", "SI", "w_base", "R12", "blocks", "BX")
	fn.I("TESTQ", "BX", "BX")
	fn.I("JZ", "join_done")
	fn.Note("&x[1]", "LEAQ", "8(SI)", "R9")
	fn.Note("&x[m−4]", "LEAQ", "-32(SI)(CX*8)", "R10")
	fn.Note("&s[1]", "LEAQ", "8(DI)", "R11")
	fn.Note("&s[m−4]", "LEAQ", "-32(DI)(CX*8)", "R13")
	fn.Note("&w[1]", "ADDQ", "$8", "R12")
	fn.Load(Ymm, "negodd<>(SB)", "Y15")
	fn.Load(Ymm, "negeven<>(SB)", "Y14")
	fn.Label("join_loop")
	fn.Load(Ymm, "(R9)", "Y0")
	fn.Load(Ymm, "(R10)", "Y1")
	fn.I("VPERMPD", Hex(0x1B), "Y1", "Y1")
	fn.I("VXORPS", "Y15", "Y1", "Y1")
	fn.Note("S", "VADDPS", "Y1", "Y0", "Y2")
	fn.Note("A − B", "VSUBPS", "Y1", "Y0", "Y3")
	fn.Load(Ymm, "(R12)", "Y4")
	fn.Note("conj W", "VXORPS", "Y15", "Y4", "Y4")
	fn.I("VMOVSLDUP", "Y4", "Y5")
	fn.I("VMOVSHDUP", "Y4", "Y6")
	cmul(fn.File, "Y3", "Y5", "Y6", "Y7")
	swapSign(fn.File, "Y7", "Y14", "Y7") // T
	fn.I("VADDPS", "Y7", "Y2", "Y8")
	fn.I("VSUBPS", "Y7", "Y2", "Y9")
	fn.I("VXORPS", "Y15", "Y9", "Y9")
	fn.I("VPERMILPS", Hex(0xB1), "Y8", "Y8")
	fn.I("VPERMILPS", Hex(0xB1), "Y9", "Y9")
	fn.I("VPERMPD", Hex(0x1B), "Y9", "Y9")
	fn.Store(Ymm, "Y8", "(R11)")
	fn.Store(Ymm, "Y9", "(R13)")
	for _, p := range []string{"R9", "R10", "R11", "R13", "R12"} {
		op := "ADDQ"
		if p == "R10" || p == "R13" {
			op = "SUBQ" // the mirrors walk down
		}
		fn.I(op, "$32", p)
	}
	fn.Repeat("BX", "join_loop")
	fn.Exit("join_done")
}

func swapScale(a *File) {
	fn := a.Fn("func swapScaleAVX2(z []complex64, scale float32)", "swapScaleAVX2 takes a length that is a multiple of 4.")
	fn.Args("z_base", "DI", "z_len", "CX")
	fn.I("VBROADCASTSS", fn.Arg("scale"), "Y14")
	fn.I("SHRQ", "$2", "CX")
	fn.I("JZ", "swap_done")
	fn.Label("swap_loop")
	fn.I("VPERMILPS", Hex(0xB1), "(DI)", "Y0")
	fn.I("VMULPS", "Y14", "Y0", "Y0")
	fn.Store(Ymm, "Y0", "(DI)")
	fn.I("ADDQ", "$32", "DI")
	fn.Repeat("CX", "swap_loop")
	fn.Exit("swap_done")
}

func pack(a *File) {
	fn := a.Fn("func packAVX2(z, x []complex64, rev4 []int32, half bool)",
		`packAVX2 takes four values of j per step, so it needs m ≥ 16. It runs over j in steps
of four: with A..D = x[j], x[j+m/4], x[j+m/2], x[j+3m/4] (C and D
zero when half), block rev4[j] of z receives the first two radix-2 stages of the
bit-reversed inputs (A, C, B, D), exactly as packGeneric computes them.`)
	fn.Args("z_base", "DI", "z_len", "CX", "x_base", "SI", "rev4_base", "R12")
	fn.I("MOVBLZX", fn.Arg("half"), "AX")
	fn.Load(Ymm, "negodd<>(SB)", "Y15")
	fn.I("MOVQ", "CX", "R8")
	fn.Note("m/4 complex values, in bytes", "SHLQ", "$1", "R8")
	fn.Note("&x[m/2]", "LEAQ", "(SI)(R8*2)", "R9")
	fn.Note("m/4 values of j", "SHRQ", "$2", "CX")
	fn.I("TESTQ", "CX", "CX")
	fn.I("JZ", "pack_done")
	fn.I("TESTQ", "AX", "AX")
	fn.I("JNZ", "pack_half")
	// second is the second radix-2 stage, from p ± q and r ± s into Y8..Y11, then the
	// 4×4 transpose of those (row r: output r of four consecutive j), row r stored at
	// z[4·rev4[j+r]].
	second := func(p, q, r, s string) {
		fn.I("VADDPS", q, p, "Y8")
		fn.I("VADDPS", s, r, "Y9")
		fn.I("VSUBPS", q, p, "Y10")
		fn.I("VSUBPS", s, r, "Y11")
		fn.I("VUNPCKLPD", "Y9", "Y8", "Y0")
		fn.I("VUNPCKHPD", "Y9", "Y8", "Y1")
		fn.I("VUNPCKLPD", "Y11", "Y10", "Y2")
		fn.I("VUNPCKHPD", "Y11", "Y10", "Y3")
		for h, ctl := range []int{0x20, 0x31} {
			fn.I("VPERM2F128", Hex(ctl), "Y2", "Y0", Ymm.R(4+2*h))
			fn.I("VPERM2F128", Hex(ctl), "Y3", "Y1", Ymm.R(5+2*h))
		}
		for i := 0; i < 4; i++ {
			fn.I("MOVL", Mem(4*i, "R12"), "R10")
			fn.I("SHLQ", "$5", "R10")
			fn.Store(Ymm, Ymm.R(4+i), "(DI)(R10*1)")
		}
	}
	fn.Label("pack_full")
	fn.Load(Ymm, "(SI)", "Y0")
	fn.Load(Ymm, "(SI)(R8*1)", "Y1")
	fn.Load(Ymm, "(R9)", "Y2")
	fn.Load(Ymm, "(R9)(R8*1)", "Y3")
	fn.Note("a1 = A + C", "VADDPS", "Y2", "Y0", "Y4")
	fn.Note("b1 = A − C", "VSUBPS", "Y2", "Y0", "Y5")
	fn.Note("c1 = B + D", "VADDPS", "Y3", "Y1", "Y6")
	fn.Note("d1 = B − D", "VSUBPS", "Y3", "Y1", "Y7")
	swapSign(fn.File, "Y7", "Y15", "Y7") // −i·d1
	second("Y4", "Y6", "Y5", "Y7")
	fn.I("ADDQ", "$32", "SI")
	fn.I("ADDQ", "$32", "R9")
	fn.I("ADDQ", "$16", "R12")
	fn.I("SUBQ", "$4", "CX")
	fn.I("JNZ", "pack_full")
	fn.I("JMP", "pack_done")
	fn.Label("pack_half")
	fn.Load(Ymm, "(SI)", "Y0")
	fn.Load(Ymm, "(SI)(R8*1)", "Y1")
	swapSign(fn.File, "Y1", "Y15", "Y7") // −i·B
	second("Y0", "Y1", "Y0", "Y7")
	fn.I("ADDQ", "$32", "SI")
	fn.I("ADDQ", "$16", "R12")
	fn.I("SUBQ", "$4", "CX")
	fn.I("JNZ", "pack_half")
	fn.Exit("pack_done")
}
