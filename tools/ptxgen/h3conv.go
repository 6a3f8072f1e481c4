package main

// The fused H3 long convolution, tensor.(*CPU).H3Conv and its backward: one block per
// channel convolves whole sequences in shared memory, so k̃ ⊙ v, its spectrum and the
// convolution's output never reach global memory.
//
// A real sequence x of length n = 2N (the zero-padded 2L) is transformed as the complex
// sequence z[m] = x[2m] + i·x[2m+1] of length N. From Z = FFT_N(z) the pair pass recovers
// the real spectrum's bins k and N−k (split), multiplies them by the filter's, and packs
// the product back (join) into the spectrum of the output's own complex packing, which the
// inverse FFT_N turns into output samples 2m and 2m+1. The forward FFT decimates in
// frequency (natural order in, bit-reversed out) and the inverse in time (bit-reversed in,
// natural out), so no pass reorders the data: the pair pass addresses bin k at brev(k).
//
// The skip term d·z is the convolution with d·δ, whose spectrum is d at every bin: it is
// added to the filter's spectrum in the pair pass instead of being applied to z after.
//
// The twiddles are exp(−2πij/n) for j < N: the split and join take them as they are, the
// FFT of length N its even entries. tw holds them in two levels, exp(−2πij/n) for j < 64
// and then exp(−2πi·64h/n) for h < max(1, N/64), and each block copies it into shared
// memory; a twiddle is the product of one entry of each.

const h3Threads = 256

// c32 is a complex float32 in two registers.
type c32 struct{ re, im Reg }

func cmul(k *Kernel, a, b c32) c32 {
	return c32{
		k.Tern("fma.rn.f32", a.re, b.re, k.Un("neg.f32", k.Bin("mul.f32", a.im, b.im))),
		k.Tern("fma.rn.f32", a.re, b.im, k.Bin("mul.f32", a.im, b.re)),
	}
}

// cmulConj is conj(a)·b.
func cmulConj(k *Kernel, a, b c32) c32 {
	return c32{
		k.Tern("fma.rn.f32", a.re, b.re, k.Bin("mul.f32", a.im, b.im)),
		k.Tern("fma.rn.f32", a.re, b.im, k.Un("neg.f32", k.Bin("mul.f32", a.im, b.re))),
	}
}

// halfSumConj returns (a + conj(b))/2 and (a − conj(b))/2.
func halfSumConj(k *Kernel, a, b c32) (sum, diff c32) {
	h := func(x Reg) Reg { return k.Bin("mul.f32", x, F(0.5)) }
	sum = c32{h(k.Bin("add.f32", a.re, b.re)), h(k.Bin("sub.f32", a.im, b.im))}
	diff = c32{h(k.Bin("sub.f32", a.re, b.re)), h(k.Bin("add.f32", a.im, b.im))}
	return sum, diff
}

// split returns bins k and N−k of the real transform from bins a = Z[k] and b = Z[N−k]
// of the packed complex one, w = exp(−2πik/n): with E = (a + conj b)/2 (the even samples'
// spectrum), P = w·(a − conj b)/2 (the odd ones', shifted), X[k] = E − iP and
// X[N−k] = conj(E + iP).
func split(k *Kernel, a, b, w c32) (x1, x2 c32) {
	e, d := halfSumConj(k, a, b)
	p := cmul(k, w, d)
	x1 = c32{k.Bin("add.f32", e.re, p.im), k.Bin("sub.f32", e.im, p.re)}
	x2 = c32{k.Bin("sub.f32", e.re, p.im), k.Un("neg.f32", k.Bin("add.f32", e.im, p.re))}
	return x1, x2
}

// join is split's inverse up to the factor N the inverse FFT leaves: from bins y1 = Y[k]
// and y2 = Y[N−k] of a real spectrum, with F = (y1 + conj y2)/2 and
// Q = conj(w)·(y1 − conj y2)/2, Z[k] = F + iQ and Z[N−k] = conj(F − iQ).
func join(k *Kernel, y1, y2, w c32) (z1, z2 c32) {
	f, g := halfSumConj(k, y1, y2)
	q := cmulConj(k, w, g)
	z1 = c32{k.Bin("sub.f32", f.re, q.im), k.Bin("add.f32", f.im, q.re)}
	z2 = c32{k.Bin("add.f32", f.re, q.im), k.Bin("sub.f32", q.re, f.im)}
	return z1, z2
}

// h3Ctx holds what every pass of the H3 kernels shares.
type h3Ctx struct {
	k       *Kernel
	tid     Reg
	tw      Reg // global twiddle table
	n, logn Reg // N (the complex FFT's length) and log2 N
	revSh   Reg // 32 − log2 N: brev(k) >> revSh is k bit-reversed in log2 N bits
	rcpN    Reg // 1/N
	bufs    []Reg
	twS     Reg    // shared copy of the two-level twiddle table
	dft     *dft16 // nil: every stage radix-2 in fp32
}

// h3TwLo is how many entries the twiddle table's low level has; the high level has
// max(1, N/h3TwLo), at most h3TwHiMax (N = 8192).
const (
	h3TwLo    = 64
	h3TwHiMax = 8192 / h3TwLo
)

// h3Precisions are the FFT variants every transforming kernel is generated in: "f32",
// radix-2 butterflies in fp32; "tf32", radix-16 stages as 16-point DFTs on the tensor
// cores (mma.sync m16n8k8, TF32 inputs, fp32 accumulation) and the log2 N mod 4 stages
// left radix-2 in fp32; "bf16" and "f16", the same radix-16 stages with 16-bit inputs
// (mma.sync m16n8k16, fp32 accumulation), one mma per product instead of two.
var h3Precisions = []string{"f32", "tf32", "bf16", "f16"}

// halfPrec reports whether prec feeds the tensor cores 16-bit inputs.
func halfPrec(prec string) bool { return prec == "bf16" || prec == "f16" }

// pack2 is two fp32 values as one .b32 register of two 16-bit floats (prec), lo in the
// low half: the order of an m16n8k16 fragment's element pairs.
func pack2(k *Kernel, prec string, lo, hi Reg) Reg {
	d := k.Reg(B32)
	k.Op("cvt.rn."+prec+"x2.f32", d, hi, lo)
	return d
}

func newH3Ctx(k *Kernel, tw, n, logn Reg, nbufs int, prec string) *h3Ctx {
	c := &h3Ctx{k: k, tw: tw, n: n, logn: logn}
	c.tid = k.Special("%tid.x")
	c.revSh = k.Bin("sub.u32", Imm(32), logn)
	c.rcpN = k.Un("rcp.rn.f32", k.Cvt("cvt.rn.f32.u32", n))
	base := k.Mov(".u32", k.DynamicShared("h3_smem"))
	for i := 0; i < nbufs; i++ {
		c.bufs = append(c.bufs, k.Tern("mad.lo.u32", n, Imm(8*i), base))
	}
	// Every twiddle is a product of two entries of a table small enough to copy into
	// shared memory once per block, so the FFTs read no twiddle from global memory.
	c.twS = k.Mov(".u32", k.Shared("h3_tw", 8, 8*(h3TwLo+h3TwHiMax)))
	entries := k.Bin("add.u32", k.Bin("max.u32", k.Bin("shr.u32", n, Imm(6)), Imm(1)), Imm(h3TwLo))
	rowLoop(k, c.tid, entries, h3Threads, "tw", func(j Reg) {
		v := k.LdV("global", ".f32", 2, At(elemAddr(k, tw, j, 8), 0))
		k.St("shared", ".f32", At(k.Tern("mad.lo.u32", j, Imm(8), c.twS), 0), v)
	})
	k.Op("bar.sync", 0)
	if prec != "f32" {
		c.dft = newDFT16(c, prec)
	}
	return c
}

// dft16 is the 16-point DFT matrix F[r][c] = exp(−2πi·rc/16) as the A fragments of
// mma.m16n8k8 (A 16×8 row-major: a0 (g, t), a1 (g+8, t), a2 (g, t+4), a3 (g+8, t+4) for
// lane g·4 + t), two k-chunks of 8 columns each, real part, imaginary part and its
// negation, in TF32. A stage multiplies it by B = 16 × 8 columns, 8 sequences of 16
// points per warp: b0 (t, g), b1 (t+4, g); the result C: c0 (g, 2t), c1 (g, 2t+1),
// c2 (g+8, 2t), c3 (g+8, 2t+1).
//
// With 16-bit inputs (prec bf16 or f16) the matrix is the A fragment of mma.m16n8k16,
// whole in chunk 0: four registers of two elements, (g, 2t..2t+1), (g+8, 2t..2t+1),
// (g, 2t+8..2t+9), (g+8, 2t+8..2t+9); B is two registers, rows 2t..2t+1 and 2t+8..2t+9
// of column g; C is laid out as above.
type dft16 struct {
	lane, warp, g, t Reg
	prec             string
	re, im, negIm    [2]Vec
}

const h3Warps = h3Threads / 32

func newDFT16(c *h3Ctx, prec string) *dft16 {
	k := c.k
	f := &dft16{prec: prec}
	f.lane = k.Bin("and.b32", c.tid, Imm(31))
	f.warp = k.Bin("shr.u32", c.tid, Imm(5))
	f.g = k.Bin("shr.u32", f.lane, Imm(2))
	f.t = k.Bin("and.b32", f.lane, Imm(3))
	nOver8 := k.Bin("shr.u32", c.n, Imm(3))
	k.Comment("the 16-point DFT's fragments: exp(-2 pi i m/16) = ±tw[(m mod 8)·N/8]")
	// entry is F[g + row][col()].
	entry := func(row int, col func() Reg) (re, im Reg) {
		r := k.Bin("add.u32", f.g, Imm(row))
		m := k.Bin("and.b32", k.Bin("mul.lo.u32", r, col()), Imm(15))
		w := c.twiddle(k.Bin("mul.lo.u32", k.Bin("and.b32", m, Imm(7)), nOver8))
		sign := k.Selp(".f32", F(-1), F(1), k.Setp("ge.u32", m, Imm(8)))
		return k.Bin("mul.f32", w.re, sign), k.Bin("mul.f32", w.im, sign)
	}
	if halfPrec(prec) {
		for _, rc := range [][2]int{{0, 0}, {8, 0}, {0, 8}, {8, 8}} {
			re0, im0 := entry(rc[0], func() Reg { return k.Bin("add.u32", k.Bin("shl.b32", f.t, Imm(1)), Imm(rc[1])) })
			re1, im1 := entry(rc[0], func() Reg { return k.Bin("add.u32", k.Bin("shl.b32", f.t, Imm(1)), Imm(rc[1]+1)) })
			f.re[0] = append(f.re[0], pack2(k, prec, re0, re1))
			f.im[0] = append(f.im[0], pack2(k, prec, im0, im1))
			f.negIm[0] = append(f.negIm[0], pack2(k, prec, k.Un("neg.f32", im0), k.Un("neg.f32", im1)))
		}
		return f
	}
	for ch := 0; ch < 2; ch++ {
		for _, rc := range [][2]int{{0, 0}, {8, 0}, {0, 4}, {8, 4}} {
			re, im := entry(rc[0], func() Reg { return k.Bin("add.u32", f.t, Imm(rc[1]+8*ch)) })
			f.re[ch] = append(f.re[ch], k.Cvt("cvt.rna.tf32.f32", re))
			f.im[ch] = append(f.im[ch], k.Cvt("cvt.rna.tf32.f32", im))
			f.negIm[ch] = append(f.negIm[ch], k.Cvt("cvt.rna.tf32.f32", k.Un("neg.f32", im)))
		}
	}
	return f
}

// twiddleAny is exp(−2πi·j/2N) for any j < 2N: the table holds j < N, and the second
// half is its negation.
func (c *h3Ctx) twiddleAny(j Reg) c32 {
	k := c.k
	hi := k.Setp("ge.u32", j, c.n)
	idx := k.Reg(B32)
	k.Op("mov.u32", idx, j)
	k.OpIf(hi, false, "sub.u32", idx, j, c.n)
	w := c.twiddle(idx)
	k.OpIf(hi, false, "neg.f32", w.re, w.re)
	k.OpIf(hi, false, "neg.f32", w.im, w.im)
	return w
}

// mmaStage emits one radix-16 stage over blocks of S = 16·M entries, M = 2^logM: the
// sequences n2 < M of each block, entries n2 + n1·M, go through the 16-point DFT. Forward
// (decimation in frequency) it leaves bin k1, times exp(−2πi·n2·k1/S), at n2 + rev4(k1)·M:
// what the four radix-2 stages of half-sizes 8M, 4M, 2M and M it replaces leave. Inverse
// it is that stage's adjoint: conjugate twiddles on the inputs at the bit-reversed slots,
// the conjugate DFT, outputs in natural order. Each warp owns whole sequences, so the
// stage works in place; it ends at a barrier.
func (c *h3Ctx) mmaStage(bufs []Reg, logM Reg, inverse bool, hint string) {
	k, f := c.k, c.dft
	half := halfPrec(f.prec)
	mma := "mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32"
	// row is the DFT input (B row) of this lane's q-th loaded entry.
	row := func(q int) Reg { return k.Bin("add.u32", f.t, Imm(4*q)) }
	if half {
		mma = "mma.sync.aligned.m16n8k16.row.col.f32." + f.prec + "." + f.prec + ".f32"
		row = func(q int) Reg { return k.Bin("add.u32", k.Bin("shl.b32", f.t, Imm(1)), Imm(q&1+8*(q>>1))) }
	}
	m := k.Bin("shl.b32", k.Mov(".u32", Imm(1)), logM)
	logS := k.Bin("add.u32", logM, Imm(4))
	twSh := k.Bin("sub.u32", k.Bin("add.u32", c.logn, Imm(1)), logS) // exp(−2πi·j/S) = tw[j << twSh]
	seqs := k.Bin("shr.u32", c.n, Imm(4))
	groups := k.Bin("shr.u32", k.Bin("add.u32", seqs, Imm(7)), Imm(3))
	// place returns the start of sequence v (n2 + block·S) and whether v exists.
	place := func(v Reg) (base, ok, n2 Reg) {
		n2 = k.Bin("and.b32", v, k.Bin("sub.u32", m, Imm(1)))
		base = k.Bin("add.u32", k.Bin("shl.b32", k.Bin("shr.u32", v, logM), logS), n2)
		return base, k.Setp("lt.u32", v, seqs), n2
	}
	rev4 := func(x Reg) Reg { return k.Bin("shr.b32", k.Un("brev.b32", x), Imm(28)) }
	// Every warp runs the same number of rounds (those past the last group load zeros
	// and store nothing), so that a barrier can part each round's loads from its stores:
	// the stores go to the slots the loads read, by other lanes.
	g0 := k.Mov(".u32", Imm(0))
	top, fin := k.NewLabel(hint+"_mma"), k.NewLabel(hint+"_mma_done")
	k.Place(top)
	k.OpIf(k.Setp("ge.u32", g0, groups), false, "bra.uni", fin)
	g8 := k.Bin("shl.b32", k.Bin("add.u32", g0, f.warp), Imm(3))
	baseL, okL, n2L := place(k.Bin("add.u32", g8, f.g))
	type out struct {
		pos Reg
		ok  Reg
		y   c32
	}
	var outs [][]out
	for range bufs {
		outs = append(outs, nil)
	}
	for bi, buf := range bufs {
		// B fragments: this lane's sequence g, rows t, t+4, t+8, t+12 (16-bit: 2t, 2t+1,
		// 2t+8, 2t+9).
		var xr, xi [4]Reg
		for q := 0; q < 4; q++ {
			r := row(q)
			slot := r
			if inverse {
				slot = rev4(r)
			}
			pos := k.Tern("mad.lo.u32", slot, m, baseL)
			v := c32{k.Mov(".f32", F(0)), k.Mov(".f32", F(0))}
			k.OpIf(okL, false, "ld.shared.v2.f32", Vec{v.re, v.im}, At(c.slot(buf, pos), 0))
			if inverse {
				v = cmulConj(k, c.twiddleAny(k.Bin("shl.b32", k.Bin("mul.lo.u32", n2L, r), twSh)), v)
			}
			if half {
				xr[q], xi[q] = v.re, v.im
			} else {
				xr[q], xi[q] = k.Cvt("cvt.rna.tf32.f32", v.re), k.Cvt("cvt.rna.tf32.f32", v.im)
			}
		}
		chunks := 2
		if half {
			chunks = 1
			xr = [4]Reg{pack2(k, f.prec, xr[0], xr[1]), pack2(k, f.prec, xr[2], xr[3])}
			xi = [4]Reg{pack2(k, f.prec, xi[0], xi[1]), pack2(k, f.prec, xi[2], xi[3])}
		}
		zero := k.Mov(".f32", F(0))
		cr := Vec{zero, zero, zero, zero}
		ci := Vec{zero, zero, zero, zero}
		acc := func(c Vec, a Vec, b Vec) Vec {
			d := Vec{k.Reg(F32), k.Reg(F32), k.Reg(F32), k.Reg(F32)}
			k.Op(mma, d, a, b, c)
			return d
		}
		for ch := 0; ch < chunks; ch++ {
			br, bi := Vec{xr[2*ch], xr[2*ch+1]}, Vec{xi[2*ch], xi[2*ch+1]}
			// Forward: Re = Fr·Xr − Fi·Xi, Im = Fr·Xi + Fi·Xr; inverse with conj(F).
			cr = acc(cr, f.re[ch], br)
			ci = acc(ci, f.re[ch], bi)
			if inverse {
				cr = acc(cr, f.im[ch], bi)
				ci = acc(ci, f.negIm[ch], br)
			} else {
				cr = acc(cr, f.negIm[ch], bi)
				ci = acc(ci, f.im[ch], br)
			}
		}
		for e := 0; e < 4; e++ {
			k1 := k.Bin("add.u32", f.g, Imm(8*(e/2)))
			baseO, okO, n2O := place(k.Bin("add.u32", g8, k.Bin("add.u32", k.Bin("shl.b32", f.t, Imm(1)), Imm(e%2))))
			y := c32{cr[e], ci[e]}
			slot := k1
			if !inverse {
				y = cmul(k, c.twiddleAny(k.Bin("shl.b32", k.Bin("mul.lo.u32", n2O, k1), twSh)), y)
				slot = rev4(k1)
			}
			outs[bi] = append(outs[bi], out{k.Tern("mad.lo.u32", slot, m, baseO), okO, y})
		}
	}
	k.Op("bar.sync", 0)
	for bi, buf := range bufs {
		for _, o := range outs[bi] {
			k.OpIf(o.ok, false, "st.shared.v2.f32", At(c.slot(buf, o.pos), 0), Vec{o.y.re, o.y.im})
		}
	}
	k.Op("add.u32", g0, g0, h3Warps)
	k.Op("bra.uni", top)
	k.Place(fin)
	k.Op("bar.sync", 0)
}

// slot is the shared address of entry i of buffer buf.
func (c *h3Ctx) slot(buf, i Reg) Reg { return c.k.Tern("mad.lo.u32", i, Imm(8), buf) }

// rev is i bit-reversed in log2 N bits.
func (c *h3Ctx) rev(i Reg) Reg { return c.k.Bin("shr.b32", c.k.Un("brev.b32", i), c.revSh) }

// twiddle is exp(−2πi·j/2N) for j < N: lo[j mod 64]·hi[j / 64] from the shared table.
func (c *h3Ctx) twiddle(j Reg) c32 {
	k := c.k
	lo := k.LdV("shared", ".f32", 2, At(k.Tern("mad.lo.u32", k.Bin("and.b32", j, Imm(h3TwLo-1)), Imm(8), c.twS), 0))
	hi := k.LdV("shared", ".f32", 2, At(k.Tern("mad.lo.u32", k.Bin("shr.u32", j, Imm(6)), Imm(8), c.twS), 8*h3TwLo))
	return cmul(k, c32{lo[0], lo[1]}, c32{hi[0], hi[1]})
}

func (c *h3Ctx) load(buf, i Reg) c32 {
	v := c.k.LdV("shared", ".f32", 2, At(c.slot(buf, i), 0))
	return c32{v[0], v[1]}
}

func (c *h3Ctx) store(buf, i Reg, v c32) {
	c.k.St("shared", ".f32", At(c.slot(buf, i), 0), Vec{v.re, v.im})
}

// stages emits the radix-2 FFT of length N over each buffer: forward by decimation in
// frequency (natural order to bit-reversed), or inverse (conjugate twiddles, unscaled)
// by decimation in time (bit-reversed to natural). Butterfly b of a stage with
// half-size h pairs i = 2(b − b mod h) + b mod h with i + h and takes twiddle
// exp(−2πi·(b mod h)/(2h)) = tw[(b mod h)·N/h]. Every stage ends at a barrier.
func (c *h3Ctx) stages(bufs []Reg, inverse bool, hint string) {
	k := c.k
	half := k.Reg(B32)
	shift := k.Reg(B32) // log2(N/h)
	if inverse {
		k.Op("mov.u32", half, Imm(1))
		k.Op("mov.u32", shift, c.logn)
	} else {
		k.Op("shr.u32", half, c.n, Imm(1))
		k.Op("mov.u32", shift, Imm(1))
		if c.dft != nil {
			c.mmaStages(bufs, half, shift, false, hint)
		}
	}
	// The radix-2 stages: all of them, or those the radix-16 ones leave (the last
	// log2 N mod 4 forward, the first inverse).
	limit := c.n
	if inverse && c.dft != nil {
		limit = k.Bin("shl.b32", k.Mov(".u32", Imm(1)), k.Bin("and.b32", c.logn, Imm(3)))
	}
	nHalf := k.Bin("shr.u32", c.n, Imm(1))
	top, fin := k.NewLabel(hint+"_stage"), k.NewLabel(hint+"_stages_done")
	k.Place(top)
	if inverse {
		k.OpIf(k.Setp("ge.u32", half, limit), false, "bra.uni", fin)
	} else {
		k.OpIf(k.Setp("eq.u32", half, Imm(0)), false, "bra.uni", fin)
	}
	rowLoop(k, c.tid, nHalf, h3Threads, hint+"_bfly", func(b Reg) {
		pos := k.Bin("and.b32", b, k.Bin("sub.u32", half, Imm(1)))
		i := k.Bin("add.u32", k.Bin("shl.b32", k.Bin("sub.u32", b, pos), Imm(1)), pos)
		j := k.Bin("add.u32", i, half)
		w := c.twiddle(k.Bin("shl.b32", pos, shift))
		for _, buf := range bufs {
			a, x := c.load(buf, i), c.load(buf, j)
			if inverse {
				t := cmulConj(k, w, x)
				c.store(buf, i, c32{k.Bin("add.f32", a.re, t.re), k.Bin("add.f32", a.im, t.im)})
				c.store(buf, j, c32{k.Bin("sub.f32", a.re, t.re), k.Bin("sub.f32", a.im, t.im)})
			} else {
				c.store(buf, i, c32{k.Bin("add.f32", a.re, x.re), k.Bin("add.f32", a.im, x.im)})
				c.store(buf, j, cmul(k, w, c32{k.Bin("sub.f32", a.re, x.re), k.Bin("sub.f32", a.im, x.im)}))
			}
		}
	})
	k.Op("bar.sync", 0)
	if inverse {
		k.Op("shl.b32", half, half, 1)
		k.Op("sub.u32", shift, shift, 1)
	} else {
		k.Op("shr.u32", half, half, 1)
		k.Op("add.u32", shift, shift, 1)
	}
	k.Op("bra.uni", top)
	k.Place(fin)
	if inverse && c.dft != nil {
		c.mmaStages(bufs, half, shift, true, hint)
	}
}

// mmaStages emits the radix-16 stages, each standing for four radix-2 ones: forward
// from half-size N/2 while it is at least 8 (M = half/8), inverse from the half-size the
// radix-2 stages reached up to N (M = half). half and shift move as the radix-2 stages
// would have moved them.
func (c *h3Ctx) mmaStages(bufs []Reg, half, shift Reg, inverse bool, hint string) {
	k := c.k
	top, fin := k.NewLabel(hint+"_r16"), k.NewLabel(hint+"_r16_done")
	k.Place(top)
	logHalf := k.Bin("sub.u32", c.logn, shift) // log2 half = log2 N − shift
	if inverse {
		k.OpIf(k.Setp("ge.u32", half, c.n), false, "bra.uni", fin)
		c.mmaStage(bufs, logHalf, true, hint)
		k.Op("shl.b32", half, half, 4)
		k.Op("sub.u32", shift, shift, 4)
	} else {
		k.OpIf(k.Setp("lt.u32", half, Imm(8)), false, "bra.uni", fin)
		c.mmaStage(bufs, k.Bin("sub.u32", logHalf, Imm(3)), false, hint)
		k.Op("shr.u32", half, half, 4)
		k.Op("add.u32", shift, shift, 4)
	}
	k.Op("bra.uni", top)
	k.Place(fin)
}

// pairPass emits the loop over bins k ≤ N/2 of the bit-reversed spectra: body gets k,
// its partner N−k mod N, their shared indices, the twiddle exp(−2πik/n) and predicates
// for k = 0 (whose pair is bins 0 and N, both real) and for a second bin distinct from
// the first (false at k = 0, where bin N has no slot, and at k = N/2, its own partner).
// It ends at a barrier.
func (c *h3Ctx) pairPass(hint string, body func(kk, partner, ri, rp Reg, w c32, first, second Reg)) {
	k := c.k
	count := k.Bin("add.u32", k.Bin("shr.u32", c.n, Imm(1)), Imm(1))
	rowLoop(k, c.tid, count, h3Threads, hint, func(kk Reg) {
		partner := k.Bin("and.b32", k.Bin("sub.u32", c.n, kk), k.Bin("sub.u32", c.n, Imm(1)))
		first := k.Setp("eq.u32", kk, Imm(0))
		second := k.Setp("lt.u32", kk, partner)
		body(kk, partner, c.rev(kk), c.rev(partner), c.twiddle(kk), first, second)
	})
	k.Op("bar.sync", 0)
}

// realEnds zeroes the imaginary parts of bins 0 and N when first holds: the inverse real
// transform ignores them, as the CPU's does.
func realEnds(k *Kernel, first Reg, y1, y2 c32) {
	k.OpIf(first, false, "mov.f32", y1.im, F(0))
	k.OpIf(first, false, "mov.f32", y2.im, F(0))
}

// seqAddr is the address of x[b, t, ch] in a (B, L, H) tensor.
func seqAddr(k *Kernel, x, b, t, ch, L, H Reg) Reg {
	return elemAddr(k, x, k.Tern("mad.lo.u32", k.Tern("mad.lo.u32", b, L, t), H, ch), 4)
}

// samples emits the loop over packed entries m < N with the sequence positions 2m and
// 2m+1 and whether each lies inside the sequence.
func (c *h3Ctx) samples(hint string, L Reg, body func(m Reg, t [2]Reg, in [2]Reg)) {
	k := c.k
	rowLoop(k, c.tid, c.n, h3Threads, hint, func(m Reg) {
		t0 := k.Bin("shl.b32", m, Imm(1))
		t1 := k.Bin("add.u32", t0, Imm(1))
		body(m, [2]Reg{t0, t1}, [2]Reg{k.Setp("lt.u32", t0, L), k.Setp("lt.u32", t1, L)})
	})
}

// ldOne is ldIf for an operand that may be absent (has false, its pointer 0), which
// then reads as 1 inside the sequence: CausalConv is H3Conv without v and q.
func ldOne(k *Kernel, in, has, x, b, t, ch, L, H Reg) Reg {
	v := k.Selp(".f32", F(1), F(0), in)
	p := k.Reg(Pred)
	k.Op("and.pred", p, in, has)
	k.OpIf(p, false, "ld.global.f32", v, At(seqAddr(k, x, b, t, ch, L, H), 0))
	return v
}

// ldIf loads x[b, t, ch] where in holds and 0 elsewhere.
func ldIf(k *Kernel, in, x, b, t, ch, L, H Reg) Reg {
	v := k.Mov(".f32", F(0))
	k.OpIf(in, false, "ld.global.f32", v, At(seqAddr(k, x, b, t, ch, L, H), 0))
	return v
}

// h3Params declares the parameters every H3 kernel ends with.
func h3Sizes(k *Kernel) (B, L, H, dh, n, logn Reg) {
	return k.Param("B", ".u32"), k.Param("L", ".u32"), k.Param("H", ".u32"), k.Param("dh", ".u32"),
		k.Param("N", ".u32"), k.Param("logN", ".u32")
}

func h3ConvModule() *Module {
	m := &Module{File: "h3conv.ptx", Doc: []string{
		"The fused H3 long convolution: real FFTs of length 2N as complex FFTs of length N in shared memory,",
		"one block per channel (see tools/ptxgen/h3conv.go). The _f32 kernels run radix-2 butterflies in fp32;",
		"the _tf32 ones the same computation with radix-16 stages as 16-point DFTs on the tensor cores.",
	}}
	for _, prec := range h3Precisions {
		m.Kernels = append(m.Kernels, h3SpectrumKernel(prec), h3SpectrumBwdKernel(prec), h3ConvFwdKernel(prec), h3ConvBwdKernel(prec))
	}
	m.Kernels = append(m.Kernels, h3ConvBwdReduceKernel())
	return m
}

const h3SizeNote = "N = 2^logN >= max(L, 4), N <= 8192 (dynamic shared memory above 48 KiB needs the opt-in)"

func h3SpectrumKernel(prec string) *Kernel {
	k := NewKernel("h3_spectrum_"+prec,
		"khat[h, f] = sum_{s < Lk} kern[h, s] exp(-2 pi i f s / 2N) for f <= N as (re, im) pairs: the spectra of the",
		"kernels (heads, Lk), Lk <= N, zero-padded to 2N; tw holds exp(-2 pi i j / 2N) for j < 64, then for j = 64h,",
		"h < max(1, N/64) (every H3 kernel takes this table)").
		Launch(launch(h3Threads, 1, 1, "heads", "1", "1").dynShared("8 * N").note(h3SizeNote))
	khat, kern, tw := k.Param("khat", ".u64"), k.Param("kern", ".u64"), k.Param("tw", ".u64")
	k.Param("heads", ".u32")
	Lk, n, logn := k.Param("Lk", ".u32"), k.Param("N", ".u32"), k.Param("logN", ".u32")
	c := newH3Ctx(k, tw, n, logn, 1, prec)
	h := k.Special("%ctaid.x")
	row := k.Bin("mul.lo.u32", h, Lk)
	buf := c.bufs[0]
	c.samples("load", Lk, func(m Reg, t, in [2]Reg) {
		var v [2]Reg
		for e := range 2 {
			v[e] = k.Mov(".f32", F(0))
			k.OpIf(in[e], false, "ld.global.f32", v[e], At(elemAddr(k, kern, k.Bin("add.u32", row, t[e]), 4), 0))
		}
		c.store(buf, m, c32{v[0], v[1]})
	})
	k.Op("bar.sync", 0)
	c.stages([]Reg{buf}, false, "fwd")
	out := k.Tern("mad.lo.u32", h, k.Bin("add.u32", n, Imm(1)), Imm(0))
	c.pairPass("pairs", func(kk, partner, ri, rp Reg, w c32, first, second Reg) {
		x1, x2 := split(k, c.load(buf, ri), c.load(buf, rp), w)
		k.St("global", ".f32", At(elemAddr(k, khat, k.Bin("add.u32", out, kk), 8), 0), Vec{x1.re, x1.im})
		// Bin N−k; at k = 0 that is bin N, at k = N/2 the same bin again.
		k.St("global", ".f32", At(elemAddr(k, khat, k.Bin("add.u32", out, k.Bin("sub.u32", n, kk)), 8), 0), Vec{x2.re, x2.im})
	})
	k.Op("ret")
	return k
}

func h3SpectrumBwdKernel(prec string) *Kernel {
	k := NewKernel("h3_spectrum_bwd_"+prec,
		"dkern[h, s] += Re sum_{f <= N} dkhat[h, f] exp(2 pi i f s / 2N) for s < Lk: the gradient of the kernels given",
		"that of their spectra (h3_spectrum_f32's adjoint), one inverse real transform per head").
		Launch(launch(h3Threads, 1, 1, "heads", "1", "1").dynShared("8 * N").note(h3SizeNote))
	dkern, dkhat, tw := k.Param("dkern", ".u64"), k.Param("dkhat", ".u64"), k.Param("tw", ".u64")
	k.Param("heads", ".u32")
	Lk, n, logn := k.Param("Lk", ".u32"), k.Param("N", ".u32"), k.Param("logN", ".u32")
	c := newH3Ctx(k, tw, n, logn, 1, prec)
	h := k.Special("%ctaid.x")
	buf := c.bufs[0]
	in := k.Tern("mad.lo.u32", h, k.Bin("add.u32", n, Imm(1)), Imm(0))
	// Re Σ_f G[f]·e^{2πifs/2N} is the inverse real transform (with its 1/2N) of G scaled
	// by 2N at the end bins and by N between them; the packed inverse FFT leaves a factor
	// N, so the bins are scaled by 2 and 1 and the output is taken as it is.
	c.pairPass("pairs", func(kk, partner, ri, rp Reg, w c32, first, second Reg) {
		g1 := k.LdV("global", ".f32", 2, At(elemAddr(k, dkhat, k.Bin("add.u32", in, kk), 8), 0))
		g2 := k.LdV("global", ".f32", 2, At(elemAddr(k, dkhat, k.Bin("add.u32", in, k.Bin("sub.u32", n, kk)), 8), 0))
		s := k.Selp(".f32", F(2), F(1), first)
		y1 := c32{k.Bin("mul.f32", g1[0], s), k.Bin("mul.f32", g1[1], s)}
		y2 := c32{k.Bin("mul.f32", g2[0], s), k.Bin("mul.f32", g2[1], s)}
		realEnds(k, first, y1, y2)
		z1, z2 := join(k, y1, y2, w)
		c.store(buf, ri, z1)
		k.OpIf(second, false, "st.shared.v2.f32", At(c.slot(buf, rp), 0), Vec{z2.re, z2.im})
	})
	c.stages([]Reg{buf}, true, "inv")
	row := k.Bin("mul.lo.u32", h, Lk)
	c.samples("store", Lk, func(m Reg, t, inside [2]Reg) {
		z := c.load(buf, m)
		for e, v := range []Reg{z.re, z.im} {
			a := elemAddr(k, dkern, k.Bin("add.u32", row, t[e]), 4)
			old := k.Mov(".f32", F(0))
			k.OpIf(inside[e], false, "ld.global.f32", old, At(a, 0))
			k.OpIf(inside[e], false, "st.global.f32", At(a, 0), k.Bin("add.f32", v, old))
		}
	})
	k.Op("ret")
	return k
}

// filter returns the filter's bins k and N−k of head h plus the skip weight dv.
func filter(k *Kernel, khat, row, kk, n, dv Reg) (k1, k2 c32) {
	a := k.LdV("global", ".f32", 2, At(elemAddr(k, khat, k.Bin("add.u32", row, kk), 8), 0))
	b := k.LdV("global", ".f32", 2, At(elemAddr(k, khat, k.Bin("add.u32", row, k.Bin("sub.u32", n, kk)), 8), 0))
	return c32{k.Bin("add.f32", a[0], dv), a[1]}, c32{k.Bin("add.f32", b[0], dv), b[1]}
}

// filterEither is filter read from the shared copy ks (which holds the skip weight
// already) where shared holds, and from global memory elsewhere.
func filterEither(c *h3Ctx, shared, ks, khat, row, kk, dv Reg) (k1, k2 c32) {
	k := c.k
	var out [2]c32
	for e, f := range []Reg{kk, k.Bin("sub.u32", c.n, kk)} {
		v := Vec{k.Mov(".f32", F(0)), k.Mov(".f32", F(0))}
		k.OpIf(shared, false, "ld.shared.v2.f32", v, At(c.slot(ks, f), 0))
		k.OpIf(shared, true, "ld.global.v2.f32", v, At(elemAddr(k, khat, k.Bin("add.u32", row, f), 8), 0))
		k.OpIf(shared, true, "add.f32", v[0], v[0], dv)
		out[e] = c32{v[0], v[1]}
	}
	return out[0], out[1]
}

func h3ConvFwdKernel(prec string) *Kernel {
	k := NewKernel("h3_conv_fwd_"+prec,
		"y[b, t, h*dh+j] = sum_i q[b, t, h*dh+i] * (irfft(rfft(z_ij, 2N) * khat[h])[t] + d[h] z_ij[t]) with",
		"z_ij = kt[., h*dh+i] * v[., h*dh+j] for sequences (B, L, H), H = heads*dh, d (heads), khat (heads, N+1, 2)",
		"from h3_spectrum; v and q may be 0, read as ones (a plain causal convolution of kt). Block j loops over the",
		"batch: it reads its inputs once (kt and q once per output of the head), writes y once and, with dh = 1, reads",
		"khat once into shared memory (with dh > 1 that space holds the sum over i, and khat is read per term)").
		Launch(launch(h3Threads, 1, 1, "H", "1", "1").dynShared("8*N + 8*N*min(dh-1, 1) + 8*(N+1)*max(2-dh, 0)").note(h3SizeNote))
	y, kt, v, q := k.Param("y", ".u64"), k.Param("kt", ".u64"), k.Param("v", ".u64"), k.Param("q", ".u64")
	d, khat, tw := k.Param("d", ".u64"), k.Param("khat", ".u64"), k.Param("tw", ".u64")
	B, L, H, dh, n, logn := h3Sizes(k)
	c := newH3Ctx(k, tw, n, logn, 2, prec)
	buf, acc := c.bufs[0], c.bufs[1]
	ks := acc // the same space: the filter with dh = 1, the sum over i without
	hasV, hasQ := k.Setp("ne.u64", v, Imm(0)), k.Setp("ne.u64", q, Imm(0))
	j := k.Special("%ctaid.x")
	head := k.Bin("div.u32", j, dh)
	skip := k.Ld("global", ".f32", At(elemAddr(k, d, head, 4), 0))
	row := k.Bin("mul.lo.u32", head, k.Bin("add.u32", n, Imm(1)))
	i0 := k.Bin("mul.lo.u32", head, dh)
	kShared := k.Setp("eq.u32", dh, Imm(1))
	bins := k.Selp(".u32", k.Bin("add.u32", n, Imm(1)), Imm(0), kShared)
	rowLoop(k, c.tid, bins, h3Threads, "filter", func(f Reg) {
		v := k.LdV("global", ".f32", 2, At(elemAddr(k, khat, k.Bin("add.u32", row, f), 8), 0))
		c.store(ks, f, c32{k.Bin("add.f32", v[0], skip), v[1]})
	})
	k.Op("bar.sync", 0)
	b := k.Mov(".u32", Imm(0))
	ii := k.Reg(B32)
	bTop, bFin := k.NewLabel("batch"), k.NewLabel("batch_done")
	k.Place(bTop)
	k.OpIf(k.Setp("ge.u32", b, B), false, "bra.uni", bFin)
	k.Op("mov.u32", ii, Imm(0))
	top, fin := k.NewLabel("terms"), k.NewLabel("terms_done")
	k.Place(top)
	k.OpIf(k.Setp("ge.u32", ii, dh), false, "bra.uni", fin)
	i := k.Bin("add.u32", i0, ii)
	c.samples("load", L, func(m Reg, t, in [2]Reg) {
		var z [2]Reg
		for e := range 2 {
			z[e] = k.Bin("mul.f32", ldIf(k, in[e], kt, b, t[e], i, L, H), ldOne(k, in[e], hasV, v, b, t[e], j, L, H))
		}
		c.store(buf, m, c32{z[0], z[1]})
	})
	k.Op("bar.sync", 0)
	c.stages([]Reg{buf}, false, "fwd")
	c.pairPass("pairs", func(kk, partner, ri, rp Reg, w c32, first, second Reg) {
		x1, x2 := split(k, c.load(buf, ri), c.load(buf, rp), w)
		k1, k2 := filterEither(c, kShared, ks, khat, row, kk, skip)
		y1, y2 := cmul(k, x1, k1), cmul(k, x2, k2)
		realEnds(k, first, y1, y2)
		z1, z2 := join(k, y1, y2, w)
		c.store(buf, ri, z1)
		k.OpIf(second, false, "st.shared.v2.f32", At(c.slot(buf, rp), 0), Vec{z2.re, z2.im})
	})
	c.stages([]Reg{buf}, true, "inv")
	// Each thread owns the same entries m in every pass, so the accumulator needs no
	// barrier: the first term stores it, the last writes y.
	firstTerm := k.Setp("eq.u32", ii, Imm(0))
	lastTerm := k.Setp("eq.u32", k.Bin("add.u32", ii, Imm(1)), dh)
	c.samples("out", L, func(m Reg, t, in [2]Reg) {
		z := c.load(buf, m)
		prev := c32{k.Mov(".f32", F(0)), k.Mov(".f32", F(0))}
		k.OpIf(firstTerm, true, "ld.shared.v2.f32", Vec{prev.re, prev.im}, At(c.slot(acc, m), 0))
		var o [2]Reg
		for e, zv := range []Reg{z.re, z.im} {
			qv := ldOne(k, in[e], hasQ, q, b, t[e], i, L, H)
			o[e] = k.Tern("fma.rn.f32", qv, k.Bin("mul.f32", zv, c.rcpN), []Reg{prev.re, prev.im}[e])
			st := k.Reg(Pred)
			k.Op("and.pred", st, in[e], lastTerm)
			k.OpIf(st, false, "st.global.f32", At(seqAddr(k, y, b, t[e], j, L, H), 0), o[e])
		}
		k.OpIf(lastTerm, true, "st.shared.v2.f32", At(c.slot(acc, m), 0), Vec{o[0], o[1]})
	})
	k.Op("add.u32", ii, ii, 1)
	k.Op("bra.uni", top)
	k.Place(fin)
	k.Op("add.u32", b, b, 1)
	k.Op("bra.uni", bTop)
	k.Place(bFin)
	k.Op("ret")
	return k
}

func h3ConvBwdKernel(prec string) *Kernel {
	k := NewKernel("h3_conv_bwd_"+prec,
		"the gradients of h3_conv_fwd_f32 given dy, added to dkt, dv and dq (each may be 0 to skip it). Block (c, 0)",
		"loops over the batch and the outputs j of c's head: with g = dy_j q_c it adds dy_j (conv(z_cj) + d z_cj) to dq_c",
		"and (corr(g) + d g) v_j to dkt_c, writes dpart[c] = sum_{b,j} conj(Z_cj) G (the unscaled spectrum gradient, or",
		"skips it when dpart is 0) and ddpart[c] = sum g z_cj; with dh = 1 it also adds (corr(g) + d g) kt_c to dv_c.",
		"With dh > 1 block (c, 1) adds sum_{b,i} (corr(dy_c q_i) + d dy_c q_i) kt_i to dv_c. v and q may be 0, read as",
		"ones (dv and dq must then be 0)").
		Launch(launch(h3Threads, 1, 1, "H", "min(dh, 2)", "1").dynShared("16 * N").note(h3SizeNote))
	dkt, dv, dq := k.Param("dkt", ".u64"), k.Param("dv", ".u64"), k.Param("dq", ".u64")
	dpart, ddpart, dy := k.Param("dpart", ".u64"), k.Param("ddpart", ".u64"), k.Param("dy", ".u64")
	kt, v, q := k.Param("kt", ".u64"), k.Param("v", ".u64"), k.Param("q", ".u64")
	d, khat, tw := k.Param("d", ".u64"), k.Param("khat", ".u64"), k.Param("tw", ".u64")
	B, L, H, dh, n, logn := h3Sizes(k)
	c := newH3Ctx(k, tw, n, logn, 2, prec)
	bz, bg := c.bufs[0], c.bufs[1]
	ch, role := k.Special("%ctaid.x"), k.Special("%ctaid.y")
	head := k.Bin("div.u32", ch, dh)
	skip := k.Ld("global", ".f32", At(elemAddr(k, d, head, 4), 0))
	row := k.Bin("mul.lo.u32", head, k.Bin("add.u32", n, Imm(1)))
	prow := k.Bin("mul.lo.u32", ch, k.Bin("add.u32", n, Imm(1)))
	j0 := k.Bin("mul.lo.u32", head, dh)
	hasDkt, hasDv, hasDq := k.Setp("ne.u64", dkt, Imm(0)), k.Setp("ne.u64", dv, Imm(0)), k.Setp("ne.u64", dq, Imm(0))
	hasPart := k.Setp("ne.u64", dpart, Imm(0))
	hasV, hasQ := k.Setp("ne.u64", v, Imm(0)), k.Setp("ne.u64", q, Imm(0))
	oneHead := k.Setp("eq.u32", dh, Imm(1))
	dvHere := k.Reg(Pred)
	k.Op("and.pred", dvHere, hasDv, oneHead)
	// d's gradient is one number per head summed over B·L·dh² products of either sign:
	// summed in float32 it loses digits to cancellation (the CPU sums it in float64 too).
	ddAcc := k.Mov(".f64", D(0))

	// loop emits for b < B { for jj < dh { body(b, jj) } }.
	loop := func(hint string, body func(b, jj Reg)) {
		b, jj := k.Mov(".u32", Imm(0)), k.Reg(B32)
		bTop, bFin := k.NewLabel(hint+"_batch"), k.NewLabel(hint+"_batch_done")
		k.Place(bTop)
		k.OpIf(k.Setp("ge.u32", b, B), false, "bra.uni", bFin)
		k.Op("mov.u32", jj, Imm(0))
		jTop, jFin := k.NewLabel(hint+"_terms"), k.NewLabel(hint+"_terms_done")
		k.Place(jTop)
		k.OpIf(k.Setp("ge.u32", jj, dh), false, "bra.uni", jFin)
		body(b, jj)
		k.Op("add.u32", jj, jj, 1)
		k.Op("bra.uni", jTop)
		k.Place(jFin)
		k.Op("add.u32", b, b, 1)
		k.Op("bra.uni", bTop)
		k.Place(bFin)
	}

	roleV := k.NewLabel("role_dv")
	k.OpIf(k.Setp("ne.u32", role, Imm(0)), false, "bra.uni", roleV)
	// Role 0: c plays i.
	loop("i", func(b, jj Reg) {
		i, j := ch, k.Bin("add.u32", j0, jj)
		firstTerm := k.Reg(Pred)
		k.Op("and.pred", firstTerm, k.Setp("eq.u32", b, Imm(0)), k.Setp("eq.u32", jj, Imm(0)))
		c.samples("load", L, func(m Reg, t, in [2]Reg) {
			var z, g [2]Reg
			for e := range 2 {
				z[e] = k.Bin("mul.f32", ldIf(k, in[e], kt, b, t[e], i, L, H), ldOne(k, in[e], hasV, v, b, t[e], j, L, H))
				g[e] = k.Bin("mul.f32", ldIf(k, in[e], dy, b, t[e], j, L, H), ldOne(k, in[e], hasQ, q, b, t[e], i, L, H))
				k.Op("fma.rn.f64", ddAcc, k.Cvt("cvt.f64.f32", z[e]), k.Cvt("cvt.f64.f32", g[e]), ddAcc)
			}
			c.store(bz, m, c32{z[0], z[1]})
			c.store(bg, m, c32{g[0], g[1]})
		})
		k.Op("bar.sync", 0)
		c.stages([]Reg{bz, bg}, false, "fwd")
		c.pairPass("pairs", func(kk, partner, ri, rp Reg, w c32, first, second Reg) {
			x1, x2 := split(k, c.load(bz, ri), c.load(bz, rp), w)
			g1, g2 := split(k, c.load(bg, ri), c.load(bg, rp), w)
			skipPart := k.NewLabel("no_part")
			k.OpIf(hasPart, true, "bra", skipPart)
			for e, p := range [][2]c32{{x1, g1}, {x2, g2}} {
				idx := kk
				if e == 1 {
					idx = k.Bin("sub.u32", n, kk)
				}
				a := elemAddr(k, dpart, k.Bin("add.u32", prow, idx), 8)
				old := Vec{k.Mov(".f32", F(0)), k.Mov(".f32", F(0))}
				k.OpIf(firstTerm, true, "ld.global.v2.f32", old, At(a, 0))
				s := cmulConj(k, p[0], p[1])
				k.OpIf(firstTerm, true, "add.f32", s.re, s.re, old[0])
				k.OpIf(firstTerm, true, "add.f32", s.im, s.im, old[1])
				st := Vec{s.re, s.im}
				if e == 1 {
					// Bin N−k is bin k again at k = N/2.
					notSame := k.Setp("ne.u32", kk, k.Bin("shr.u32", n, Imm(1)))
					k.OpIf(notSame, false, "st.global.v2.f32", At(a, 0), st)
				} else {
					k.St("global", ".f32", At(a, 0), st)
				}
			}
			k.Place(skipPart)
			k1, k2 := filter(k, khat, row, kk, n, skip)
			y1, y2 := cmul(k, x1, k1), cmul(k, x2, k2)
			e1, e2 := cmulConj(k, k1, g1), cmulConj(k, k2, g2)
			realEnds(k, first, y1, y2)
			realEnds(k, first, e1, e2)
			zy1, zy2 := join(k, y1, y2, w)
			ze1, ze2 := join(k, e1, e2, w)
			c.store(bz, ri, zy1)
			c.store(bg, ri, ze1)
			k.OpIf(second, false, "st.shared.v2.f32", At(c.slot(bz, rp), 0), Vec{zy2.re, zy2.im})
			k.OpIf(second, false, "st.shared.v2.f32", At(c.slot(bg, rp), 0), Vec{ze2.re, ze2.im})
		})
		c.stages([]Reg{bz, bg}, true, "inv")
		c.samples("out", L, func(m Reg, t, in [2]Reg) {
			yz, dz := c.load(bz, m), c.load(bg, m)
			for e := range 2 {
				yv := k.Bin("mul.f32", []Reg{yz.re, yz.im}[e], c.rcpN)
				dzv := k.Bin("mul.f32", []Reg{dz.re, dz.im}[e], c.rcpN)
				addScaled(k, in[e], hasDq, dq, i, dy, nil, j, yv, b, t[e], L, H)
				addScaled(k, in[e], hasDkt, dkt, i, v, &hasV, j, dzv, b, t[e], L, H)
				addScaled(k, in[e], dvHere, dv, i, kt, nil, i, dzv, b, t[e], L, H)
			}
		})
	})
	// The threads' float64 partials meet in shared memory and thread 0 adds them in order.
	ddS := k.Mov(".u32", k.Shared("h3_dd", 8, 8*h3Threads))
	k.St("shared", ".f64", At(k.Tern("mad.lo.u32", c.tid, Imm(8), ddS), 0), ddAcc)
	k.Op("bar.sync", 0)
	writeDd := k.Reg(Pred)
	k.Op("and.pred", writeDd, k.Setp("eq.u32", c.tid, Imm(0)), k.Setp("ne.u64", ddpart, Imm(0)))
	ddDone := k.NewLabel("dd_done")
	k.OpIf(writeDd, true, "bra", ddDone)
	{
		sum := k.Mov(".f64", D(0))
		rowLoop(k, k.Mov(".u32", Imm(0)), k.Mov(".u32", Imm(h3Threads)), 1, "dd_sum", func(w Reg) {
			k.Op("add.f64", sum, sum, k.Ld("shared", ".f64", At(k.Tern("mad.lo.u32", w, Imm(8), ddS), 0)))
		})
		k.St("global", ".f32", At(elemAddr(k, ddpart, ch, 4), 0), k.Cvt("cvt.rn.f32.f64", sum))
	}
	k.Place(ddDone)
	k.Op("ret")

	// Role 1 (dh > 1): c plays j.
	k.Place(roleV)
	k.OpIf(hasDv, true, "ret")
	loop("j", func(b, ii Reg) {
		i, j := k.Bin("add.u32", j0, ii), ch
		c.samples("load", L, func(m Reg, t, in [2]Reg) {
			var g [2]Reg
			for e := range 2 {
				g[e] = k.Bin("mul.f32", ldIf(k, in[e], dy, b, t[e], j, L, H), ldOne(k, in[e], hasQ, q, b, t[e], i, L, H))
			}
			c.store(bg, m, c32{g[0], g[1]})
		})
		k.Op("bar.sync", 0)
		c.stages([]Reg{bg}, false, "fwd")
		c.pairPass("pairs", func(kk, partner, ri, rp Reg, w c32, first, second Reg) {
			g1, g2 := split(k, c.load(bg, ri), c.load(bg, rp), w)
			k1, k2 := filter(k, khat, row, kk, n, skip)
			e1, e2 := cmulConj(k, k1, g1), cmulConj(k, k2, g2)
			realEnds(k, first, e1, e2)
			z1, z2 := join(k, e1, e2, w)
			c.store(bg, ri, z1)
			k.OpIf(second, false, "st.shared.v2.f32", At(c.slot(bg, rp), 0), Vec{z2.re, z2.im})
		})
		c.stages([]Reg{bg}, true, "inv")
		c.samples("out", L, func(m Reg, t, in [2]Reg) {
			dz := c.load(bg, m)
			for e := range 2 {
				dzv := k.Bin("mul.f32", []Reg{dz.re, dz.im}[e], c.rcpN)
				addScaled(k, in[e], hasDv, dv, j, kt, nil, i, dzv, b, t[e], L, H)
			}
		})
	})
	k.Op("ret")
	return k
}

// addScaled adds x[b, t, xc]·f to grad[b, t, gc] where inside and has both hold; x
// reads as 1 where xHas is given and false.
func addScaled(k *Kernel, inside, has, grad, gc, x Reg, xHas *Reg, xc, f, b, t, L, H Reg) {
	p := k.Reg(Pred)
	k.Op("and.pred", p, inside, has)
	a := seqAddr(k, grad, b, t, gc, L, H)
	old, val := k.Mov(".f32", F(0)), k.Mov(".f32", F(1))
	k.OpIf(p, false, "ld.global.f32", old, At(a, 0))
	pl := p
	if xHas != nil {
		pl = k.Reg(Pred)
		k.Op("and.pred", pl, p, *xHas)
	}
	k.OpIf(pl, false, "ld.global.f32", val, At(seqAddr(k, x, b, t, xc, L, H), 0))
	k.OpIf(p, false, "st.global.f32", At(a, 0), k.Tern("fma.rn.f32", val, f, old))
}

func h3ConvBwdReduceKernel() *Kernel {
	k := NewKernel("h3_conv_bwd_reduce_f32",
		"dkhat[h, f] += (f == 0 || f == N ? 1 : 2)/2N * sum_{i < dh} dpart[h*dh+i, f] and dd[h] += sum_{i < dh} ddpart[h*dh+i]",
		"in channel order (deterministic); either output may be 0 to skip it").
		Launch(launch(256, 1, 1, "ceil(heads*(N+1), 256)", "1", "1"))
	dkhat, dd := k.Param("dkhat", ".u64"), k.Param("dd", ".u64")
	dpart, ddpart := k.Param("dpart", ".u64"), k.Param("ddpart", ".u64")
	heads, dh, n := k.Param("heads", ".u32"), k.Param("dh", ".u32"), k.Param("N", ".u32")
	bins := k.Bin("add.u32", n, Imm(1))
	gid, _ := globalIndex(k)
	skipD := k.NewLabel("no_dd")
	doD := k.Reg(Pred)
	k.Op("and.pred", doD, k.Setp("lt.u32", gid, heads), k.Setp("ne.u64", dd, Imm(0)))
	k.OpIf(doD, true, "bra", skipD)
	{
		s := k.Mov(".f32", F(0))
		i := k.Mov(".u32", Imm(0))
		top, fin := k.NewLabel("dd"), k.NewLabel("dd_done")
		k.Place(top)
		k.OpIf(k.Setp("ge.u32", i, dh), false, "bra", fin)
		k.Op("add.f32", s, s, k.Ld("global", ".f32", At(elemAddr(k, ddpart, k.Tern("mad.lo.u32", gid, dh, i), 4), 0)))
		k.Op("add.u32", i, i, 1)
		k.Op("bra", top)
		k.Place(fin)
		addAt(k, dd, gid, s)
	}
	k.Place(skipD)
	done := k.NewLabel("done")
	doK := k.Reg(Pred)
	k.Op("and.pred", doK, k.Setp("lt.u32", gid, k.Bin("mul.lo.u32", heads, bins)), k.Setp("ne.u64", dkhat, Imm(0)))
	k.OpIf(doK, true, "bra", done)
	{
		h := k.Bin("div.u32", gid, bins)
		f := k.Bin("rem.u32", gid, bins)
		re, im := k.Mov(".f32", F(0)), k.Mov(".f32", F(0))
		i := k.Mov(".u32", Imm(0))
		top, fin := k.NewLabel("part"), k.NewLabel("part_done")
		k.Place(top)
		k.OpIf(k.Setp("ge.u32", i, dh), false, "bra", fin)
		src := k.Tern("mad.lo.u32", k.Tern("mad.lo.u32", h, dh, i), bins, f)
		x := k.LdV("global", ".f32", 2, At(elemAddr(k, dpart, src, 8), 0))
		k.Op("add.f32", re, re, x[0])
		k.Op("add.f32", im, im, x[1])
		k.Op("add.u32", i, i, 1)
		k.Op("bra", top)
		k.Place(fin)
		end := k.Reg(Pred)
		k.Op("or.pred", end, k.Setp("eq.u32", f, Imm(0)), k.Setp("eq.u32", f, n))
		// 2/2N between the end bins, 1/2N at them.
		scale := k.Selp(".f32", F(1), F(2), end)
		k.Op("div.rn.f32", scale, scale, k.Cvt("cvt.rn.f32.u32", k.Bin("shl.b32", n, Imm(1))))
		a := elemAddr(k, dkhat, gid, 8)
		old := k.LdV("global", ".f32", 2, At(a, 0))
		k.St("global", ".f32", At(a, 0), Vec{k.Tern("fma.rn.f32", re, scale, old[0]), k.Tern("fma.rn.f32", im, scale, old[1])})
	}
	k.Place(done)
	k.Op("ret")
	return k
}
