package main

import (
	"fmt"
	"math/bits"
)

// geluConst is one constant of the activation kernels, stored as its float32 bits in
// every lane of a register so that FMAs can take it straight from memory.
type geluConst struct {
	name string
	bits uint32
	doc  string
}

// geluConsts is the activation kernels' table, at R8 while they run. The tests derive
// each constant that has a formula from it.
var geluConsts = []geluConst{
	{"M2C", 0xbfcc422a, "−2·√(2/π)"},
	{"M2CA", 0xbd922279, "−2·√(2/π)·0.044715"},
	{"TWOC", 0x3fcc422a, "2·√(2/π)"},
	{"SIXCA", 0x3e5b33b6, "6·√(2/π)·0.044715"},
	{"ONE", 0x3f800000, "1"},
	{"XMIN", 0xc1200000, `−10 and 10 bound the x that enters u: beyond them σ(2u) is 0 or 1 to float32 precision,
|t| stays below 126·ln2 and x³ cannot overflow`},
	{"XMAX", 0x41200000, "10"},
	{"LOG2E", 0x3fb8aa3b, "log₂e"},
	{"LN2HI", 0x3f318000, "ln 2, high part (exact products with n)"},
	{"LN2LO", 0xb95e8083, "ln 2, low part"},
	{"P0", 0x39506967, "Cephes expf polynomial, highest degree first"},
	{"P1", 0x3ab743ce, ""},
	{"P2", 0x3c088908, ""},
	{"P3", 0x3d2aa9c1, ""},
	{"P4", 0x3e2aaaaa, ""},
	{"P5", 0x3f000000, ""},
	{"BIAS", 0x0000007f, "127, the float32 exponent bias, in each 32-bit lane"},
	{"TLO", 0xc2aeac4f, `−126·ln2 and 127·ln2 (rounded up by 2e-6): the range of exponents t for which 2^round(t/ln2)
is a normal, finite float32; ExpShift clamps its arguments to it`},
	{"THI", 0x42b00f34, ""},
}

// geluTable writes geluConsts for registers of v as symbol sym and returns the operand
// of each constant, given the table's address in R8.
func geluTable(a *File, v Vec, sym string) func(name string) string {
	at := map[string]int{}
	var words []uint32
	a.flush()
	a.out.WriteByte('\n')
	for i, c := range geluConsts {
		at[c.name] = i * v.Bytes
		if c.doc != "" {
			a.docLines(c.doc)
		}
		for j := 0; j < v.Lanes(); j += 2 {
			fmt.Fprintf(&a.out, "DATA %s<>+%d(SB)/8, $0x%08x%08x\n", sym, 4*len(words), c.bits, c.bits)
			words = append(words, c.bits, c.bits)
		}
	}
	fmt.Fprintf(&a.out, "GLOBL %s<>(SB), RODATA|NOPTR, $%d\n", sym, 4*len(words))
	return func(name string) string {
		off, ok := at[name]
		if !ok {
			panic("no constant " + name)
		}
		return Mem(off, "R8")
	}
}

// activation writes tensor/internal/simd/activation_amd64.s.
func activation() *File {
	a := NewFile("activation_amd64.s")
	a.Doc(`GELU and its gradient, 8 lanes at a time, as x/(1+e^t) with t = −2√(2/π)(xc+0.044715xc³)
and xc = x clamped to [−10, 10], as the generic twin computes them. e^t is Cephes' expf
without its range checks: |t| ≤ 87.31 < 126·ln2 after the clamp, so 2ⁿ is built from
its exponent bits without overflow or subnormals.`)
	for _, f := range []struct {
		v   Vec
		sym string
	}{{Ymm, "geluConsts"}, {Zmm, "geluConsts512"}} {
		if f.v == Zmm {
			a.Doc(`The AVX-512 kernels: the same code on 16 lanes, with the table's constants 16 wide.`)
		}
		g := gelu{a, f.v, geluTable(a, f.v, f.sym), f.sym}
		g.forward()
		g.backward()
		g.expShift()
	}
	return a
}

type gelu struct {
	a   *File
	v   Vec
	k   func(string) string
	sym string // the constants' table
}

// expT sets p = e^t, clobbering t, kf and z; register 15 holds 1.0.
func (g gelu) expT(t, kf, p, z string) {
	a, k := g.a, g.k
	a.I("VMULPS", k("LOG2E"), t, kf)
	if g.v == Zmm {
		a.I("VRNDSCALEPS", "$0", kf, kf) // AVX-512's VROUNDPS, same rounding control
	} else {
		a.I("VROUNDPS", "$0", kf, kf)
	}
	a.I("VFNMADD231PS", k("LN2HI"), kf, t)
	a.I("VFNMADD231PS", k("LN2LO"), kf, t)
	a.Load(g.v, k("P0"), p)
	for i := 1; i <= 5; i++ {
		a.I("VFMADD213PS", k(fmt.Sprintf("P%d", i)), t, p)
	}
	a.I("VMULPS", t, t, z)
	a.I("VADDPS", g.v.R(15), t, t)
	a.I("VFMADD213PS", t, z, p)
	a.I("VCVTPS2DQ", kf, kf)
	a.I("VPADDD", k("BIAS"), kf, kf)
	a.I("VPSLLD", "$23", kf, kf)
	a.I("VMULPS", kf, p, p)
}

// argT sets xc = x clamped to [−10, 10], x2 = xc² and t = −2√(2/π)(xc+0.044715xc³).
// The min and max take x as their second source, the one they return when either is
// NaN, so a NaN x stays NaN.
func (g gelu) argT(x, xc, x2, t string) {
	a, k := g.a, g.k
	a.Load(g.v, k("XMAX"), xc)
	a.I("VMINPS", x, xc, xc)
	a.Load(g.v, k("XMIN"), t)
	a.I("VMAXPS", xc, t, xc)
	a.I("VMULPS", xc, xc, x2)
	a.Load(g.v, k("M2CA"), t)
	a.I("VFMADD213PS", k("M2C"), x2, t)
	a.I("VMULPS", xc, t, t)
}

// prologue loads the table and 1.0 into register 15.
func (g gelu) prologue(fn *Func) {
	fn.I("LEAQ", g.sym+"<>(SB)", "R8")
	fn.Load(g.v, g.k("ONE"), g.v.R(15))
}

// lanesShift is log₂ of the lanes per register: CX >> lanesShift whole registers.
func (g gelu) lanesShift() string { return Imm(bits.TrailingZeros(uint(g.v.Lanes()))) }

func (g gelu) forward() {
	v := g.v
	fn := g.a.Fn("func "+v.Kernel("gelu")+"(dst, x []float32)", "")
	fn.Args("dst_base", "DI", "dst_len", "CX", "x_base", "SI")
	g.prologue(fn)
	// block computes n registers, interleaved: register set j is 8j..8j+6.
	block := func(n int) {
		r := func(j, i int) string { return v.R(8*j + i) }
		for j := 0; j < n; j++ {
			fn.Load(v, Mem(j*v.Bytes, "SI"), r(j, 0))
		}
		for j := 0; j < n; j++ {
			g.argT(r(j, 0), r(j, 6), r(j, 1), r(j, 2))
		}
		for j := 0; j < n; j++ {
			g.expT(r(j, 2), r(j, 3), r(j, 4), r(j, 5))
		}
		for j := 0; j < n; j++ {
			fn.I("VADDPS", v.R(15), r(j, 4), r(j, 4))
		}
		for j := 0; j < n; j++ {
			fn.I("VDIVPS", r(j, 4), r(j, 0), r(j, 0))
		}
		for j := 0; j < n; j++ {
			fn.Store(v, r(j, 0), Mem(j*v.Bytes, "DI"))
		}
	}
	two := 2 * v.Lanes()
	fn.I("CMPQ", "CX", Imm(two))
	fn.I("JLT", "gelu1")
	fn.Label("gelu2")
	block(2)
	fn.Advance(2*v.Bytes, "SI", "DI")
	fn.I("SUBQ", Imm(two), "CX")
	fn.I("CMPQ", "CX", Imm(two))
	fn.I("JGE", "gelu2")
	fn.Label("gelu1")
	fn.I("CMPQ", "CX", Imm(v.Lanes()))
	fn.I("JLT", "geluDone")
	block(1)
	fn.Exit("geluDone")
}

// backward adds g·GELU'(x) to dst, with GELU'(x) = s + s(1−s)·xc(2√(2/π) +
// 6√(2/π)·0.044715xc²) and s = 1/(1+e^t).
func (g gelu) backward() {
	v := g.v
	fn := g.a.Fn("func "+v.Kernel("geluBackward")+"(dst, g, x []float32)", "")
	fn.Args("dst_base", "DI", "dst_len", "CX", "g_base", "DX", "x_base", "SI")
	g.prologue(fn)
	// block computes n registers, interleaved so that one register's division and
	// exponential overlap the other's: register set j is 16j..16j+7 (zmm has room for
	// two sets beside the constant in register 15).
	block := func(n int) {
		y := func(j, i int) string { return v.R(16*j + i) }
		for j := 0; j < n; j++ {
			fn.Load(v, Mem(j*v.Bytes, "SI"), y(j, 7))
		}
		for j := 0; j < n; j++ {
			g.argT(y(j, 7), y(j, 0), y(j, 1), y(j, 2))
		}
		for j := 0; j < n; j++ {
			g.expT(y(j, 2), y(j, 3), y(j, 4), y(j, 5))
		}
		for j := 0; j < n; j++ {
			fn.I("VADDPS", v.R(15), y(j, 4), y(j, 4))
			fn.I("VDIVPS", y(j, 4), v.R(15), y(j, 4))
		}
		for j := 0; j < n; j++ {
			fn.I("VMOVAPS", y(j, 4), y(j, 5))
			fn.I("VFNMADD231PS", y(j, 4), y(j, 4), y(j, 5))
			fn.Load(v, g.k("SIXCA"), y(j, 6))
			fn.I("VFMADD213PS", g.k("TWOC"), y(j, 1), y(j, 6))
			fn.I("VMULPS", y(j, 0), y(j, 6), y(j, 6))
			fn.I("VFMADD231PS", y(j, 6), y(j, 5), y(j, 4))
		}
		for j := 0; j < n; j++ {
			fn.Load(v, Mem(j*v.Bytes, "DI"), y(j, 7))
			fn.I("VFMADD231PS", Mem(j*v.Bytes, "DX"), y(j, 4), y(j, 7))
			fn.Store(v, y(j, 7), Mem(j*v.Bytes, "DI"))
		}
	}
	if v.Regs >= 32 {
		two := 2 * v.Lanes()
		fn.I("CMPQ", "CX", Imm(two))
		fn.I("JLT", "geluBack1")
		fn.Label("geluBack2")
		block(2)
		fn.Advance(2*v.Bytes, "SI", "DX", "DI")
		fn.I("SUBQ", Imm(two), "CX")
		fn.I("CMPQ", "CX", Imm(two))
		fn.I("JGE", "geluBack2")
		fn.Label("geluBack1")
	}
	fn.I("SHRQ", g.lanesShift(), "CX")
	fn.I("JZ", "geluBackDone")
	fn.Label("geluBack")
	block(1)
	fn.Advance(v.Bytes, "SI", "DX", "DI")
	fn.Repeat("CX", "geluBack")
	fn.Exit("geluBackDone")
}

func (g gelu) expShift() {
	v := g.v
	y := v.R
	fn := g.a.Fn("func "+v.Kernel("expShift")+"(dst, x []float32, shift float32)", "")
	fn.Args("dst_base", "DI", "dst_len", "CX", "x_base", "SI")
	fn.I("VBROADCASTSS", fn.Arg("shift"), y(14))
	g.prologue(fn)
	fn.I("SHRQ", g.lanesShift(), "CX")
	fn.I("JZ", "expShiftDone")
	fn.Label("expShift")
	fn.Load(v, "(SI)", y(0))
	fn.I("VSUBPS", y(14), y(0), y(2))
	fn.Comment("Clamp with t as the second source, which min and max return for a NaN.")
	fn.Load(v, g.k("THI"), y(6))
	fn.I("VMINPS", y(2), y(6), y(2))
	fn.Load(v, g.k("TLO"), y(6))
	fn.I("VMAXPS", y(2), y(6), y(2))
	g.expT(y(2), y(3), y(4), y(5))
	fn.Store(v, y(4), "(DI)")
	fn.Advance(v.Bytes, "SI", "DI")
	fn.Repeat("CX", "expShift")
	fn.Exit("expShiftDone")
}
