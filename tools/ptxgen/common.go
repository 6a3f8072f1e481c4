package main

import "math"

const fullMask = "0xffffffff"

// log2e converts natural exponents to the base 2 that ex2.approx takes.
var log2e = F(math.Log2E)

// globalIndex returns ctaid.x·ntid.x + tid.x and tid.x.
func globalIndex(k *Kernel) (gid, tid Reg) {
	tid = k.Special("%tid.x")
	ntid := k.Special("%ntid.x")
	cta := k.Special("%ctaid.x")
	gid = k.Tern("mad.lo.u32", cta, ntid, tid)
	return gid, tid
}

// elemAddr returns base + idx·size with a 64-bit offset so large tensors do not wrap.
func elemAddr(k *Kernel, base, idx Reg, size int) Reg {
	off := k.Reg(B64)
	k.Op("mul.wide.u32", off, idx, size)
	return k.Bin("add.u64", base, off)
}

// exp returns e^x as ex2(x·log2 e).
func exp(k *Kernel, x Reg) Reg {
	return k.Un("ex2.approx.f32", k.Bin("mul.f32", x, log2e))
}

// ln returns the natural logarithm as lg2(x)·ln 2.
func ln(k *Kernel, x Reg) Reg {
	return k.Bin("mul.f32", k.Un("lg2.approx.f32", x), F(math.Ln2))
}

// blockReducer reduces one float per thread over a block of a size fixed at generation
// time: a butterfly inside each warp, then every thread folds the per-warp partials from
// shared memory so all of them get the result without another broadcast.
type blockReducer struct {
	k       *Kernel
	scratch Sym
	lane0   Reg // predicate: lane == 0
	slot    Reg // shared address of this warp's partial
	nwarps  int
}

func newBlockReducer(k *Kernel, tid Reg, threads int) *blockReducer {
	r := &blockReducer{k: k, nwarps: threads / 32}
	r.scratch = k.Shared("red_scratch", 4, 4*r.nwarps)
	lane := k.Bin("and.b32", tid, Imm(31))
	warp := k.Bin("shr.u32", tid, Imm(5))
	r.lane0 = k.Setp("eq.u32", lane, Imm(0))
	base := k.Mov(".u32", r.scratch)
	r.slot = k.Tern("mad.lo.u32", warp, Imm(4), base)
	return r
}

// reduce combines v over the block with op ("add.f32" or "max.f32").
func (r *blockReducer) reduce(v Reg, op string) Reg {
	k := r.k
	k.Comment("block %s: warp butterfly, then fold the %d warp partials", op, r.nwarps)
	for off := 16; off >= 1; off /= 2 {
		t := k.Reg(F32)
		k.Op("shfl.sync.bfly.b32", t, v, off, 31, fullMask)
		v = k.Bin(op, v, t)
	}
	k.OpIf(r.lane0, false, "st.shared.f32", At(r.slot, 0), v)
	k.Op("bar.sync", 0)
	acc := k.Ld("shared", ".f32", At(r.scratch, 0))
	for w := 1; w < r.nwarps; w++ {
		acc = k.Bin(op, acc, k.Ld("shared", ".f32", At(r.scratch, 4*w)))
	}
	k.Comment("second barrier: the scratch slots may be reused by the next reduction")
	k.Op("bar.sync", 0)
	return acc
}

// rowLoop emits `for j := tid; j < cols; j += threads { body(j) }`.
func rowLoop(k *Kernel, tid, cols Reg, threads int, hint string, body func(j Reg)) {
	j := k.Mov(".u32", tid)
	top, done := k.NewLabel(hint+"_loop"), k.NewLabel(hint+"_done")
	k.Place(top)
	p := k.Setp("ge.u32", j, cols)
	k.OpIf(p, false, "bra", done)
	body(j)
	k.Op("add.u32", j, j, threads)
	k.Op("bra", top)
	k.Place(done)
}

// addAt adds v to the float at base[idx]: backward kernels accumulate into gradients that
// may already hold other contributions.
func addAt(k *Kernel, base, idx, v Reg) {
	a := elemAddr(k, base, idx, 4)
	k.St("global", ".f32", At(a, 0), k.Bin("add.f32", k.Ld("global", ".f32", At(a, 0)), v))
}

// walk is a pointer that a loop moves by a fixed stride each step: op is "add.u64" or
// "sub.u64", by a byte count (int) or a B64 register.
type walk struct {
	ptr Reg
	op  string
	by  any
}

func ahead(p Reg, by any) walk  { return walk{p, "add.u64", by} }
func behind(p Reg, by any) walk { return walk{p, "sub.u64", by} }

// dotLoop emits acc += a·b over n steps, a and b read through their walks. The
// convolution and SSM-kernel sums differ only in which way and how far each pointer moves.
func dotLoop(k *Kernel, acc, n Reg, hint string, a, b walk) {
	i := k.Mov(".u32", Imm(0))
	top, fin := k.NewLabel(hint), k.NewLabel(hint+"_done")
	k.Place(top)
	k.OpIf(k.Setp("ge.u32", i, n), false, "bra", fin)
	k.Op("fma.rn.f32", acc, k.Ld("global", ".f32", At(a.ptr, 0)), k.Ld("global", ".f32", At(b.ptr, 0)), acc)
	k.Op(a.op, a.ptr, a.ptr, a.by)
	k.Op(b.op, b.ptr, b.ptr, b.by)
	k.Op("add.u32", i, i, 1)
	k.Op("bra", top)
	k.Place(fin)
}
