package main

// Broadcasting binary ops, their gradients, and the axis kernels (sum over an axis, its
// broadcast gradient, permutation), with the semantics of tensor.(*CPU).Binary,
// BinaryBackward, SumAxis, BroadcastAxis and Permute.

type binaryOp struct {
	name, sym string
	// fwd returns a op b.
	fwd func(k *Kernel, a, b Reg) Reg
	// da returns da + dout·∂(a op b)/∂a.
	da func(k *Kernel, da, g, b Reg) Reg
}

var binaryOps = []binaryOp{
	{"add", "+", func(k *Kernel, a, b Reg) Reg { return k.Bin("add.f32", a, b) },
		func(k *Kernel, da, g, _ Reg) Reg { return k.Bin("add.f32", da, g) }},
	{"sub", "-", func(k *Kernel, a, b Reg) Reg { return k.Bin("sub.f32", a, b) },
		func(k *Kernel, da, g, _ Reg) Reg { return k.Bin("add.f32", da, g) }},
	{"mul", "*", func(k *Kernel, a, b Reg) Reg { return k.Bin("mul.f32", a, b) },
		func(k *Kernel, da, g, b Reg) Reg { return k.Tern("fma.rn.f32", g, b, da) }},
	{"div", "/", func(k *Kernel, a, b Reg) Reg { return k.Bin("div.rn.f32", a, b) },
		func(k *Kernel, da, g, b Reg) Reg { return k.Bin("add.f32", da, k.Bin("div.rn.f32", g, b)) }},
}

// wrapNext advances j to j+1, wrapping to 0 at nb: the index into the repeating operand
// of the next element, without another division.
func wrapNext(k *Kernel, j, nb Reg) {
	k.Op("add.u32", j, j, 1)
	wrap := k.Setp("eq.u32", j, nb)
	k.Op("selp.b32", j, 0, j, wrap)
}

// repeatKernel is the shape every "big operand meets a repeating one" kernel shares: each
// thread handles 4 consecutive elements i..i+3 of the big tensors (one v4 access each when
// all four are in range and the big pointers are 16-byte aligned), and the repeating
// operand's elements i mod nb.. are loaded one by one, since i mod nb is not 4-aligned in
// general.
func repeatKernel(k *Kernel, big map[string]Reg, bigIns, bigOuts []string, small Reg, n, nb Reg,
	op func(in []Reg, bv Reg) []Reg) {
	gid, _ := globalIndex(k)
	i := k.Bin("shl.b32", gid, Imm(2))
	done := k.NewLabel("done")
	outside := k.Setp("ge.u32", i, n)
	k.OpIf(outside, false, "bra", done)
	j := k.Bin("rem.u32", i, nb)
	end := k.Bin("add.u32", i, Imm(4))
	full := k.Setp("le.u32", end, n)
	addrs := map[string]Reg{}
	for _, name := range append(append([]string{}, bigOuts...), bigIns...) {
		if _, ok := addrs[name]; !ok {
			addrs[name] = elemAddr(k, big[name], i, 4)
		}
	}
	tail := k.NewLabel("tail")
	k.OpIf(full, true, "bra", tail)
	k.OpIf(misaligned(k, big, append(append([]string{}, bigOuts...), bigIns...)), false, "bra", tail)
	k.Comment("four elements in range, big pointers aligned: vector path for the big operands")
	vin := make([]Vec, len(bigIns))
	for x, name := range bigIns {
		vin[x] = k.LdV("global", ".f32", 4, At(addrs[name], 0))
	}
	vout := make([]Vec, len(bigOuts))
	for e := 0; e < 4; e++ {
		bv := k.Ld("global", ".f32", At(elemAddr(k, small, j, 4), 0))
		if e < 3 {
			wrapNext(k, j, nb)
		}
		args := make([]Reg, len(bigIns))
		for x := range bigIns {
			args[x] = vin[x][e]
		}
		res := op(args, bv)
		for o := range bigOuts {
			vout[o] = append(vout[o], res[o])
		}
	}
	for o, name := range bigOuts {
		k.St("global", ".f32", At(addrs[name], 0), vout[o])
	}
	k.Op("bra", done)
	k.Place(tail)
	k.Comment("tail or unaligned: up to four elements, one at a time")
	for e := 0; e < 4; e++ {
		if e > 0 {
			ie := k.Bin("add.u32", i, Imm(e))
			out := k.Setp("ge.u32", ie, n)
			k.OpIf(out, false, "bra", done)
		}
		bv := k.Ld("global", ".f32", At(elemAddr(k, small, j, 4), 0))
		if e < 3 {
			wrapNext(k, j, nb)
		}
		args := make([]Reg, len(bigIns))
		for x, name := range bigIns {
			args[x] = k.Ld("global", ".f32", At(addrs[name], 4*e))
		}
		res := op(args, bv)
		for o, name := range bigOuts {
			k.St("global", ".f32", At(addrs[name], 4*e), res[o])
		}
	}
	k.Place(done)
	k.Op("ret")
}

var repeatLaunch = launch(256, 1, 1, "ceil(n, 1024)", "1", "1").note("16-byte aligned big tensors take the vector path")

func binaryFwdKernel(op binaryOp) *Kernel {
	k := NewKernel("binary_"+op.name+"_f32",
		"out[i] = a[i] "+op.sym+" b[i mod nb] for i < n (nb divides n; b repeats over a's leading axes); out may be a").Launch(repeatLaunch)
	out, a, b := k.Param("out", ".u64"), k.Param("a", ".u64"), k.Param("b", ".u64")
	n, nb := k.Param("n", ".u32"), k.Param("nb", ".u32")
	repeatKernel(k, map[string]Reg{"out": out, "a": a}, []string{"a"}, []string{"out"}, b, n, nb,
		func(in []Reg, bv Reg) []Reg { return []Reg{op.fwd(k, in[0], bv)} })
	return k
}

func binaryBwdAKernel(op binaryOp) *Kernel {
	what := map[string]string{"add": "dout", "sub": "dout", "mul": "dout*b[i mod nb]", "div": "dout/b[i mod nb]"}[op.name]
	doc := "da[i] += " + what + ": the gradient of a " + op.sym + " b with respect to a, accumulated"
	if op.name == "add" || op.name == "sub" {
		doc += " (b is not read)"
	}
	k := NewKernel("binary_bwd_a_"+op.name+"_f32", doc).Launch(repeatLaunch)
	da, dout, b := k.Param("da", ".u64"), k.Param("dout", ".u64"), k.Param("b", ".u64")
	n, nb := k.Param("n", ".u32"), k.Param("nb", ".u32")
	if op.name == "add" || op.name == "sub" {
		// No repeating operand: the plain elementwise shape, with nb unused.
		elementwiseBody(k, map[string]Reg{"da": da, "dout": dout}, []string{"da", "dout"}, []string{"da"}, n,
			func(in []Reg) []Reg { return []Reg{k.Bin("add.f32", in[0], in[1])} })
		return k
	}
	repeatKernel(k, map[string]Reg{"da": da, "dout": dout}, []string{"da", "dout"}, []string{"da"}, b, n, nb,
		func(in []Reg, bv Reg) []Reg { return []Reg{op.da(k, in[0], in[1], bv)} })
	return k
}

// chunkedColumnSum emits the loop shared by the column reductions: thread (q, c) sums
// term(r) over rows r in [c·chunk, min(rows, (c+1)·chunk)) of a (rows, width) matrix whose
// column is q, with ptrs advanced one row per step, and returns the fp32 sum.
func chunkedColumnSum(k *Kernel, q, width, rows, chunk Reg, bases []Reg, term func(acc Reg, vals []Reg)) Reg {
	c := k.Special("%ctaid.y")
	r0 := k.Bin("mul.lo.u32", c, chunk)
	r1 := k.Bin("min.u32", k.Bin("add.u32", r0, chunk), rows)
	start := k.Tern("mad.lo.u32", r0, width, q)
	ptrs := make([]Reg, len(bases))
	for x, b := range bases {
		ptrs[x] = elemAddr(k, b, start, 4)
	}
	step := k.Reg(B64)
	k.Op("mul.wide.u32", step, width, 4)
	acc := k.Mov(".f32", F(0))
	r := k.Mov(".u32", r0)
	top, done := k.NewLabel("rows"), k.NewLabel("rows_done")
	k.Place(top)
	fin := k.Setp("ge.u32", r, r1)
	k.OpIf(fin, false, "bra", done)
	vals := make([]Reg, len(ptrs))
	for x, p := range ptrs {
		vals[x] = k.Ld("global", ".f32", At(p, 0))
		k.Op("add.u64", p, p, step)
	}
	term(acc, vals)
	k.Op("add.u32", r, r, 1)
	k.Op("bra", top)
	k.Place(done)
	return acc
}

// storeMaybeAcc writes v to [addr], or adds it to what is there when acc != 0.
func storeMaybeAcc(k *Kernel, addr Reg, v, acc Reg) {
	isAcc := k.Setp("ne.u32", acc, Imm(0))
	old := k.Mov(".f32", F(0))
	k.OpIf(isAcc, false, "ld.global.f32", old, At(addr, 0))
	k.St("global", ".f32", At(addr, 0), k.Bin("add.f32", old, v))
}

const chunkDoc = "thread (j, c) covers rows [c*chunk, min(reps, (c+1)*chunk)) and writes out[c*nb + j]: with chunk >= reps (grid.y 1)" +
	" this is the whole sum; a long sum is split over grid.y <= 65535 chunks into a (chunks, nb) scratch that sum_axis_f32 then" +
	" reduces (outer 1, n chunks, inner nb) in a fixed order, so the result is deterministic"

func binaryBwdBKernel(op binaryOp) *Kernel {
	what := map[string]string{"add": "sum_r dout[r*nb+j]", "sub": "-sum_r dout[r*nb+j]",
		"mul": "sum_r dout[r*nb+j]*a[r*nb+j]", "div": "-(sum_r dout[r*nb+j]*a[r*nb+j]) / b[j]^2"}[op.name]
	k := NewKernel("binary_bwd_b_"+op.name+"_f32",
		"out[j] (+)= "+what+" for j < nb over the reps = n/nb repeats of b: the gradient of a "+op.sym+" b with respect to b",
		"(assigned, or added when accumulate != 0); a and b are not read by add and sub;",
		chunkDoc).Launch(launch(256, 1, 1, "ceil(nb, 256)", "ceil(reps, chunk)", "1"))
	out, dout, a, b := k.Param("out", ".u64"), k.Param("dout", ".u64"), k.Param("a", ".u64"), k.Param("b", ".u64")
	reps, nb, chunk, acc := k.Param("reps", ".u32"), k.Param("nb", ".u32"), k.Param("chunk", ".u32"), k.Flag("accumulate")
	j, done := guardedIndex(k, nb)
	bases := []Reg{dout}
	if op.name == "mul" || op.name == "div" {
		bases = append(bases, a)
	}
	s := chunkedColumnSum(k, j, nb, reps, chunk, bases, func(acc Reg, v []Reg) {
		if len(v) == 1 {
			k.Op("add.f32", acc, acc, v[0])
		} else {
			k.Op("fma.rn.f32", acc, v[0], v[1], acc)
		}
	})
	switch op.name {
	case "sub":
		s = k.Un("neg.f32", s)
	case "div":
		bj := k.Ld("global", ".f32", At(elemAddr(k, b, j, 4), 0))
		s = k.Un("neg.f32", k.Bin("div.rn.f32", s, k.Bin("mul.f32", bj, bj)))
	}
	c := k.Special("%ctaid.y")
	storeMaybeAcc(k, elemAddr(k, out, k.Tern("mad.lo.u32", c, nb, j), 4), s, acc)
	k.Place(done)
	k.Op("ret")
	return k
}

func sumAxisKernel() *Kernel {
	k := NewKernel("sum_axis_f32",
		"x viewed as (outer, n, inner): out[o*inner + j] (+)= alpha * sum_r x[(o*n + r)*inner + j] (assigned, or added when",
		"accumulate != 0); one thread per output element sums its column in order, so prefer sum_rows_f32 when inner == 1;",
		"thread (q = o*inner + j, c) covers r in [c*chunk, min(n, (c+1)*chunk)) and writes out[c*outer*inner + q]: chunk >= n",
		"gives the sum itself; a long axis is split over grid.y <= 65535 chunks into a (chunks, outer*inner) scratch",
		"(alpha 1, accumulate 0) that a second launch (outer 1, n chunks, inner outer*inner, chunk >= chunks) reduces").Launch(launch(256, 1, 1, "ceil(outer*inner, 256)", "ceil(n, chunk)", "1"))
	out, x := k.Param("out", ".u64"), k.Param("x", ".u64")
	outer, n, inner := k.Param("outer", ".u32"), k.Param("n", ".u32"), k.Param("inner", ".u32")
	chunk, alpha, acc := k.Param("chunk", ".u32"), k.Param("alpha", ".f32"), k.Flag("accumulate")
	total := k.Bin("mul.lo.u32", outer, inner)
	q, done := guardedIndex(k, total)
	o := k.Bin("div.u32", q, inner)
	j := k.Bin("rem.u32", q, inner)
	// x[(o*n + r)*inner + j] = x[o*n*inner + j + r*inner]: column j of the (n, inner)
	// matrix that starts at o*n*inner.
	slab := elemAddr(k, x, k.Bin("mul.lo.u32", k.Bin("mul.lo.u32", o, n), inner), 4)
	s := chunkedColumnSum(k, j, inner, n, chunk, []Reg{slab}, func(acc Reg, v []Reg) { k.Op("add.f32", acc, acc, v[0]) })
	c := k.Special("%ctaid.y")
	storeMaybeAcc(k, elemAddr(k, out, k.Tern("mad.lo.u32", c, total, q), 4), k.Bin("mul.f32", s, alpha), acc)
	k.Place(done)
	k.Op("ret")
	return k
}

func sumRowsKernel() *Kernel {
	k := newRowKernel("sum_rows_f32",
		"out[r] (+)= alpha * sum_j x[r, j] (assigned, or added when accumulate != 0): SumAxis over the last axis, a block per row")
	out, x := k.Param("out", ".u64"), k.Param("x", ".u64")
	c := rowParams(k)
	alpha, acc := k.Param("alpha", ".f32"), k.Flag("accumulate")
	xr := c.rowBase(x)
	s := c.fold("add.f32", 0, "sum", func(j Reg) Reg { return ldAt(k, xr, j) })
	c.thread0(func() { storeMaybeAcc(k, elemAddr(k, out, c.row, 4), k.Bin("mul.f32", s, alpha), acc) })
	k.Op("ret")
	return k
}

func broadcastAxisKernel() *Kernel {
	k := NewKernel("broadcast_axis_f32",
		"dx viewed as (outer, n, inner): dx[(o*n + r)*inner + j] += alpha * dout[o*inner + j], the gradient of SumAxis").Launch(launch(256, 1, 1, "ceil(outer*n*inner, 256)", "1", "1"))
	dx, dout := k.Param("dx", ".u64"), k.Param("dout", ".u64")
	outer, n, inner := k.Param("outer", ".u32"), k.Param("n", ".u32"), k.Param("inner", ".u32")
	alpha := k.Param("alpha", ".f32")
	slab := k.Bin("mul.lo.u32", n, inner)
	i, done := guardedIndex(k, k.Bin("mul.lo.u32", outer, slab))
	o := k.Bin("div.u32", i, slab)
	j := k.Bin("rem.u32", i, inner)
	g := k.Ld("global", ".f32", At(elemAddr(k, dout, k.Tern("mad.lo.u32", o, inner, j), 4), 0))
	addr := elemAddr(k, dx, i, 4)
	k.St("global", ".f32", At(addr, 0), k.Tern("fma.rn.f32", alpha, g, k.Ld("global", ".f32", At(addr, 0))))
	k.Place(done)
	k.Op("ret")
	return k
}

const permuteRank = 6

func permuteKernel() *Kernel {
	var dims, strides []string
	for a := 0; a < permuteRank; a++ {
		dims = append(dims, "d"+string(rune('0'+a)))
		strides = append(strides, "s"+string(rune('0'+a)))
	}
	k := NewKernel("permute_f32",
		"out[i] (=, or += when accumulate != 0) x[src(i)] for i < n: out has shape (d0..d5) and src(i) = sum_a idx_a(i)*s_a, where",
		"s_a is x's stride (in elements) along the axis that becomes out's axis a; a rank-r permutation fills the",
		"leading 6-r axes with d = 1, s = 0. This is tensor.(*CPU).Permute: out axis a is x axis perm[a], s_a = xstride[perm[a]]").Launch(launch(256, 1, 1, "ceil(n, 256)", "1", "1"))
	out, x := k.Param("out", ".u64"), k.Param("x", ".u64")
	n := k.Param("n", ".u32")
	d := make([]Reg, permuteRank)
	s := make([]Reg, permuteRank)
	for a := range d {
		d[a] = k.Param(dims[a], ".u32")
	}
	for a := range s {
		s[a] = k.Param(strides[a], ".u32")
	}
	acc := k.Flag("accumulate")
	i, done := guardedIndex(k, n)
	k.Comment("peel out's index from its last axis; what is left after axis 1 is axis 0's index")
	rest := k.Mov(".u32", i)
	src := k.Mov(".u32", Imm(0))
	for a := permuteRank - 1; a >= 1; a-- {
		c := k.Bin("rem.u32", rest, d[a])
		k.Op("div.u32", rest, rest, d[a])
		k.Op("mad.lo.u32", src, c, s[a], src)
	}
	k.Op("mad.lo.u32", src, rest, s[0], src)
	v := k.Ld("global", ".f32", At(elemAddr(k, x, src, 4), 0))
	storeMaybeAcc(k, elemAddr(k, out, i, 4), v, acc)
	k.Place(done)
	k.Op("ret")
	return k
}

func broadcastModule() *Module {
	m := &Module{File: "broadcast.ptx", Doc: []string{
		"Binary ops whose second operand repeats over the first's leading axes, their gradients,",
		"and the axis kernels (sum over an axis, its broadcast gradient, permutation).",
	}}
	for _, op := range binaryOps {
		m.Kernels = append(m.Kernels, binaryFwdKernel(op))
	}
	for _, op := range binaryOps {
		m.Kernels = append(m.Kernels, binaryBwdAKernel(op))
	}
	for _, op := range binaryOps {
		m.Kernels = append(m.Kernels, binaryBwdBKernel(op))
	}
	m.Kernels = append(m.Kernels, sumAxisKernel(), sumRowsKernel(), broadcastAxisKernel(), permuteKernel(), transposeKernel())
	return m
}

// transposeKernel is the permutation that swaps the last two axes of a batch of matrices,
// the one permute_f32 serves worst (its reads stride through x), through the same 32×32
// shared-memory tiles as the FFT convolution's gather.
func transposeKernel() *Kernel {
	k := NewKernel("transpose_f32",
		"out[(b*C + c)*R + r] (=, or += when accumulate != 0) x[(b*R + r)*C + c]: each of batch (R, C) matrices transposed,",
		"i.e. Permute with perm (..., rank-1, rank-2) after merging the leading axes into the batch; coalesced both ways").Launch(launch(32, 8, 1, "ceil(C, 32)", "ceil(R, 32)", "batch").note("grid.z is at most 65535: a larger batch takes several launches"))
	out, x := k.Param("out", ".u64"), k.Param("x", ".u64")
	k.Param("batch", ".u32")
	R, C, acc := k.Param("R", ".u32"), k.Param("C", ".u32"), k.Flag("accumulate")
	t := newTileCtx(k) // t0 runs over columns c, h0 over rows r
	t.inBounds(t.t0, C, t.h0, R, func(rl, r, c Reg) {
		v := k.Ld("global", ".f32", At(elemAddr(k, x, k.Tern("mad.lo.u32", k.Tern("mad.lo.u32", t.b, R, r), C, c), 4), 0))
		k.St("shared", ".f32", At(t.at(rl, t.tx), 0), v)
	})
	k.Op("bar.sync", 0)
	t.inBounds(t.h0, R, t.t0, C, func(cl, c, r Reg) {
		v := k.Ld("shared", ".f32", At(t.at(t.tx, cl), 0))
		storeMaybeAcc(k, elemAddr(k, out, k.Tern("mad.lo.u32", k.Tern("mad.lo.u32", t.b, C, c), R, r), 4), v, acc)
	})
	k.Op("ret")
	return k
}
