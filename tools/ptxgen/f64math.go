package main

import "math"

// Float64 helpers for the kernels that follow the CPU's float64 arithmetic (the diagonal
// SSM's discretisation and powers). PTX has no float64 exp, sin or cos, so they are
// range reductions and polynomials, accurate to a few float64 ulps: far below the float32
// rounding of every result these kernels store.

// cx is a complex float64 held in two registers.
type cx struct{ re, im Reg }

type f64k struct{ k *Kernel }

func (f f64k) reg() Reg { return f.k.Reg(F64) }

func (f f64k) add(a, b any) Reg    { return f.k.Bin("add.f64", a, b) }
func (f f64k) sub(a, b any) Reg    { return f.k.Bin("sub.f64", a, b) }
func (f f64k) mul(a, b any) Reg    { return f.k.Bin("mul.f64", a, b) }
func (f f64k) div(a, b any) Reg    { return f.k.Bin("div.rn.f64", a, b) }
func (f f64k) fma(a, b, c any) Reg { return f.k.Tern("fma.rn.f64", a, b, c) }
func (f f64k) neg(a Reg) Reg       { return f.k.Un("neg.f64", a) }
func (f f64k) mov(a any) Reg       { return f.k.Mov(".f64", a) }

// fromF32 widens a float32 register exactly.
func (f f64k) fromF32(a Reg) Reg { return f.k.Cvt("cvt.f64.f32", a) }

// toF32 rounds to the nearest float32.
func (f f64k) toF32(a Reg) Reg { return f.k.Cvt("cvt.rn.f32.f64", a) }

func (f f64k) cadd(a, b cx) cx { return cx{f.add(a.re, b.re), f.add(a.im, b.im)} }
func (f f64k) csub(a, b cx) cx { return cx{f.sub(a.re, b.re), f.sub(a.im, b.im)} }

// cmul returns a·b with each part one product and one fused multiply-add.
func (f f64k) cmul(a, b cx) cx {
	re := f.fma(a.re, b.re, f.neg(f.mul(a.im, b.im)))
	im := f.fma(a.re, b.im, f.mul(a.im, b.re))
	return cx{re, im}
}

// cmulConj returns a·conj(b).
func (f f64k) cmulConj(a, b cx) cx {
	re := f.fma(a.re, b.re, f.mul(a.im, b.im))
	im := f.fma(a.im, b.re, f.neg(f.mul(a.re, b.im)))
	return cx{re, im}
}

// cdiv returns a/b by the textbook formula; the operands here are of moderate size, so
// the scaling Go's complex division adds against overflow changes nothing but rounding.
func (f f64k) cdiv(a, b cx) cx {
	den := f.fma(b.re, b.re, f.mul(b.im, b.im))
	re := f.div(f.fma(a.re, b.re, f.mul(a.im, b.im)), den)
	im := f.div(f.fma(a.im, b.re, f.neg(f.mul(a.re, b.im))), den)
	return cx{re, im}
}

// cscale returns r·a for a real r.
func (f f64k) cscale(a cx, r any) cx { return cx{f.mul(a.re, r), f.mul(a.im, r)} }

// caddReal returns a + r for a real r.
func (f f64k) caddReal(a cx, r any) cx { return cx{f.add(a.re, r), f.mov(a.im)} }

// cset copies src into the registers of dst (for values written on two branches).
func (f f64k) cset(dst, src cx) {
	f.k.Op("mov.f64", dst.re, src.re)
	f.k.Op("mov.f64", dst.im, src.im)
}

func (f f64k) creg() cx { return cx{f.reg(), f.reg()} }

// exp returns e^x for |x| < 708: x = k·ln2 + r with |r| ≤ ln2/2 (ln 2 in two parts, so
// k·ln2hi is exact), e^r by its Taylor series to r^13 (truncation below 1e-17), and 2^k
// assembled from its exponent bits.
func (f f64k) exp(x Reg) Reg {
	k := f.k
	const ln2Hi, ln2Lo = 6.93147180369123816490e-01, 1.90821492927058770002e-10
	kf := k.Cvt("cvt.rni.f64.f64", f.mul(x, D(math.Log2E)))
	r := f.fma(f.neg(kf), D(ln2Hi), x)
	r = f.fma(f.neg(kf), D(ln2Lo), r)
	p := f.mov(D(1.0 / 6227020800)) // 1/13!
	for i := 12; i >= 0; i-- {
		p = f.fma(p, r, D(1/math.Gamma(float64(i)+1)))
	}
	ki := k.Cvt("cvt.rni.s32.f64", kf)
	ki = k.Bin("max.s32", k.Bin("min.s32", ki, Imm(1023)), Imm(-1022))
	bits := k.Cvt("cvt.s64.s32", k.Bin("add.s32", ki, Imm(1023)))
	k.Op("shl.b64", bits, bits, 52)
	scale := f.reg()
	k.Op("mov.b64", scale, bits)
	return f.mul(p, scale)
}

// sincos returns sin x and cos x for |x| up to about 1e5: x = q·π/2 + r with |r| ≤ π/4
// (π/2 in two parts), Taylor series of sin r and cos r to r^17 and r^16 (truncation below
// 1e-18), and the quadrant q mod 4 choosing and signing them.
func (f f64k) sincos(x Reg) (sin, cos Reg) {
	k := f.k
	const pio2Hi, pio2Lo = 1.5707963267948966, 6.123233995736766e-17
	qf := k.Cvt("cvt.rni.f64.f64", f.mul(x, D(2/math.Pi)))
	r := f.fma(f.neg(qf), D(pio2Hi), x)
	r = f.fma(f.neg(qf), D(pio2Lo), r)
	r2 := f.mul(r, r)
	// sin r = r·Σ (−1)^i r^2i/(2i+1)!, cos r = Σ (−1)^i r^2i/(2i)!, Horner in r².
	sp := f.mov(D(1 / math.Gamma(18)))
	for i := 7; i >= 0; i-- {
		sp = f.fma(sp, f.neg(r2), D(1/math.Gamma(float64(2*i+2))))
	}
	s := f.mul(sp, r)
	cp := f.mov(D(1 / math.Gamma(17)))
	for i := 7; i >= 0; i-- {
		cp = f.fma(cp, f.neg(r2), D(1/math.Gamma(float64(2*i+1))))
	}
	q := k.Cvt("cvt.rni.s32.f64", qf)
	swap := k.Setp("ne.b32", k.Bin("and.b32", q, Imm(1)), Imm(0))
	sv := k.Selp(".f64", cp, s, swap)
	cv := k.Selp(".f64", s, cp, swap)
	negS := k.Setp("ne.b32", k.Bin("and.b32", q, Imm(2)), Imm(0))
	negC := k.Setp("ne.b32", k.Bin("and.b32", k.Bin("add.s32", q, Imm(1)), Imm(2)), Imm(0))
	k.OpIf(negS, false, "neg.f64", sv, sv)
	k.OpIf(negC, false, "neg.f64", cv, cv)
	return sv, cv
}

// cexp returns e^x = e^Re x·(cos Im x + i sin Im x).
func (f f64k) cexp(x cx) cx {
	m := f.exp(x.re)
	s, c := f.sincos(x.im)
	return cx{f.mul(m, c), f.mul(m, s)}
}
