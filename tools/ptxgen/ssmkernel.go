package main

// Generation of the SSM convolution kernels from their parameters, tensor.(*CPU)'s
// ShiftSSMKernel / DiagSSMKernel and their backward passes.

func shiftSSMKernels() []*Kernel {
	var ks []*Kernel
	{
		k := NewKernel("shift_ssm_kernel_f32",
			"k[h, i] = sum_{j < N-i} B[h,j] * C[h,j+i] for i < Lk <= N: the shift SSM's kernel (B, C (H, N); C may carry a leading 1)").Launch(launch(256, 1, 1, "ceil(H*Lk, 256)", "1", "1"))
		kk, b, c := k.Param("k", ".u64"), k.Param("b", ".u64"), k.Param("c", ".u64")
		H, N, Lk := k.Param("H", ".u32"), k.Param("N", ".u32"), k.Param("Lk", ".u32")
		gid, h, i, done := guardedCell(k, H, Lk)
		row := k.Bin("mul.lo.u32", h, N)
		bp := elemAddr(k, b, row, 4)
		cp := elemAddr(k, c, k.Bin("add.u32", row, i), 4)
		acc := k.Mov(".f32", F(0))
		terms := k.Bin("sub.u32", N, i)
		dotLoop(k, acc, terms, "j", ahead(bp, 4), ahead(cp, 4))
		stAt(k, kk, gid, acc)
		k.Place(done)
		k.Op("ret")
		ks = append(ks, k)
	}
	{
		k := NewKernel("shift_ssm_kernel_bwd_f32",
			"dB[h,j] += sum_{i < Lk, j+i < N} dk[h,i] * C[h,j+i] and dC[h,j] += sum_{i < Lk, i <= j} dk[h,i] * B[h,j-i]",
			"(either gradient pointer may be 0 to skip it); dk is (H, Lk), B, C, dB, dC are (H, N)").Launch(launch(256, 1, 1, "ceil(H*N, 256)", "1", "1"))
		dB, dC, dk := k.Param("dB", ".u64"), k.Param("dC", ".u64"), k.Param("dk", ".u64")
		b, c := k.Param("b", ".u64"), k.Param("c", ".u64")
		H, N, Lk := k.Param("H", ".u32"), k.Param("N", ".u32"), k.Param("Lk", ".u32")
		gid, h, j, done := guardedCell(k, H, N)
		row := k.Bin("mul.lo.u32", h, N)
		gRow := elemAddr(k, dk, k.Bin("mul.lo.u32", h, Lk), 4)
		// dB: i runs over min(Lk, N-j) taps, C forward from j.
		skipB := k.NewLabel("no_dB")
		k.OpIf(k.Setp("eq.u64", dB, Imm(0)), false, "bra", skipB)
		{
			gp := k.Mov(".u64", gRow)
			cp := elemAddr(k, c, k.Bin("add.u32", row, j), 4)
			n := k.Bin("min.u32", Lk, k.Bin("sub.u32", N, j))
			acc := k.Mov(".f32", F(0))
			dotLoop(k, acc, n, "db", ahead(gp, 4), ahead(cp, 4))
			addAt(k, dB, gid, acc)
		}
		k.Place(skipB)
		// dC: i runs over min(Lk, j+1) taps, B backward from j.
		k.OpIf(k.Setp("eq.u64", dC, Imm(0)), false, "bra", done)
		{
			gp := k.Mov(".u64", gRow)
			bp := elemAddr(k, b, k.Bin("add.u32", row, j), 4)
			n := k.Bin("min.u32", Lk, k.Bin("add.u32", j, Imm(1)))
			acc := k.Mov(".f32", F(0))
			dotLoop(k, acc, n, "dc", ahead(gp, 4), behind(bp, 4))
			addAt(k, dC, gid, acc)
		}
		k.Place(done)
		k.Op("ret")
		ks = append(ks, k)
	}
	return ks
}

func ssmKernelModule() *Module {
	m := &Module{File: "ssmkernel.ptx", Doc: []string{"SSM convolution kernels generated from their parameters, and their gradients."}}
	m.Kernels = append(m.Kernels, shiftSSMKernels()...)
	m.Kernels = append(m.Kernels, diagSSMKernel(), diagSSMKernelBwd())
	return m
}

// diagMode holds one discretised mode of the diagonal SSM and what its gradient needs,
// as tensor's diagMode does, in float64.
type diagMode struct {
	dt, aRealEx    Reg // dt = exp(logDt); Re A = −exp(invAReal)
	a, bc, f, z, w cx  // A, B·C, dB, dA, C' = B·C·dB
	bParam, cParam cx
	dzdA, dzdDt    cx
	dfdA, dfdDt    cx
}

// diagModeGen emits the discretisation of mode i = h·N + n (ZOH when disc == 0, bilinear
// otherwise) from the float32 parameters: newDiagMode in tensor/ssm.go, step by step.
func diagModeGen(f f64k, i, h Reg, logDt, invAReal, aImag, b, c, disc Reg) diagMode {
	k := f.k
	var m diagMode
	ld := func(base, idx Reg) Reg { return f.fromF32(ldAt(k, base, idx)) }
	m.dt = f.exp(ld(logDt, h))
	m.aRealEx = f.neg(f.exp(ld(invAReal, i)))
	m.a = cx{m.aRealEx, ld(aImag, i)}
	i2 := k.Bin("shl.b32", i, Imm(1))
	i2p := k.Bin("add.u32", i2, Imm(1))
	m.bParam = cx{ld(b, i2), ld(b, i2p)}
	m.cParam = cx{ld(c, i2), ld(c, i2p)}
	m.bc = f.cmul(m.bParam, m.cParam)
	x := f.cscale(m.a, m.dt)
	m.f, m.z, m.dzdA, m.dzdDt, m.dfdA, m.dfdDt = f.creg(), f.creg(), f.creg(), f.creg(), f.creg(), f.creg()
	bilinear, done := k.NewLabel("bilinear"), k.NewLabel("discretised")
	k.OpIf(k.Setp("ne.u32", disc, Imm(0)), false, "bra", bilinear)
	{
		k.Comment("ZOH: dA = exp(dt A), dB = dt phi1(dt A), phi1(x) = (e^x - 1)/x")
		z := f.cexp(x)
		v, dv := f.creg(), f.creg()
		series, phiDone := k.NewLabel("phi1_series"), k.NewLabel("phi1_done")
		ax2 := f.fma(x.re, x.re, f.mul(x.im, x.im))
		k.OpIf(k.Setp("lt.f64", ax2, D(1e-4)), false, "bra", series)
		{
			// (e^x − 1)/x and its derivative (x e^x − e^x + 1)/x²
			f.cset(v, f.cdiv(f.caddReal(z, D(-1)), x))
			num := f.caddReal(f.csub(f.cmul(x, z), z), D(1))
			f.cset(dv, f.cdiv(num, f.cmul(x, x)))
			k.Op("bra", phiDone)
		}
		k.Place(series)
		{
			// Taylor series where the closed forms cancel (|x| < 1e-2)
			acc := cx{f.mov(D(1.0 / 5040)), f.mov(D(0))}
			for _, c := range []float64{1.0 / 720, 1.0 / 120, 1.0 / 24, 1.0 / 6, 1.0 / 2, 1} {
				acc = f.caddReal(f.cmul(acc, x), D(c))
			}
			f.cset(v, acc)
			acc = cx{f.mov(D(7.0 / 40320)), f.mov(D(0))}
			for _, c := range []float64{6.0 / 5040, 5.0 / 720, 4.0 / 120, 3.0 / 24, 2.0 / 6, 1.0 / 2} {
				acc = f.caddReal(f.cmul(acc, x), D(c))
			}
			f.cset(dv, acc)
		}
		k.Place(phiDone)
		f.cset(m.z, z)
		f.cset(m.f, f.cscale(v, m.dt))
		f.cset(m.dzdA, f.cscale(z, m.dt))
		f.cset(m.dzdDt, f.cmul(m.a, z))
		f.cset(m.dfdA, f.cscale(dv, f.mul(m.dt, m.dt)))
		f.cset(m.dfdDt, z)
		k.Op("bra", done)
	}
	k.Place(bilinear)
	{
		k.Comment("bilinear: dA = (1 + x/2)/(1 - x/2), dB = dt/(1 - x/2), x = dt A")
		half := f.cscale(x, D(0.5))
		den := cx{f.sub(D(1), half.re), f.neg(half.im)}
		one := cx{f.mov(D(1)), f.mov(D(0))}
		inv2 := f.cdiv(one, f.cmul(den, den))
		f.cset(m.z, f.cdiv(f.caddReal(half, D(1)), den))
		f.cset(m.f, f.cdiv(cx{m.dt, f.mov(D(0))}, den))
		f.cset(m.dzdA, f.cscale(inv2, m.dt))
		f.cset(m.dzdDt, f.cmul(m.a, inv2))
		f.cset(m.dfdA, f.cscale(inv2, f.mul(f.mul(m.dt, m.dt), D(0.5))))
		f.cset(m.dfdDt, inv2)
	}
	k.Place(done)
	m.w = f.cmul(m.bc, m.f)
	return m
}

// cpow returns base^e·start by binary exponentiation: about 2·log2(e) complex products,
// each rounding once in float64, where e repeated products would round e times.
func cpow(f f64k, start, base cx, e Reg, hint string) cx {
	k := f.k
	p, b := f.creg(), f.creg()
	f.cset(p, start)
	f.cset(b, base)
	n := k.Mov(".u32", e)
	top, done := k.NewLabel(hint), k.NewLabel(hint+"_done")
	k.Place(top)
	k.OpIf(k.Setp("eq.u32", n, Imm(0)), false, "bra", done)
	odd := k.Setp("ne.b32", k.Bin("and.b32", n, Imm(1)), Imm(0))
	t := f.cmul(p, b)
	k.Op("selp.f64", p.re, t.re, p.re, odd)
	k.Op("selp.f64", p.im, t.im, p.im, odd)
	f.cset(b, f.cmul(b, b))
	k.Op("shr.u32", n, n, 1)
	k.Op("bra", top)
	k.Place(done)
	return p
}

// diagModeGroup is how many modes a block discretises at once (one per thread).
const diagModeGroup = 256

func diagSSMKernel() *Kernel {
	k := NewKernel("diag_ssm_kernel_f32",
		"K[h, l] = 2 Re sum_n C'[h,n] dA[h,n]^l for l < L: the diagonal SSM's kernel (tensor.CPU.DiagSSMKernel) from",
		"logDt (H), invAReal, aImag (H, N), B, C (H, N, 2) (C may carry a leading 1); disc 0 = ZOH, 1 = bilinear; any N.",
		"In float64 like the CPU: for each group of 256 modes the block's threads discretise one mode each into shared",
		"memory, then thread l forms C' dA^l by binary exponentiation and adds the modes in order; only K is rounded to float32").Launch(launch(256, 1, 1, "ceil(L, 256)", "H", "1"))
	kk := k.Param("K", ".u64")
	logDt, invAReal, aImag, b, c := k.Param("logDt", ".u64"), k.Param("invAReal", ".u64"), k.Param("aImag", ".u64"), k.Param("b", ".u64"), k.Param("c", ".u64")
	k.Param("H", ".u32")
	N, L, disc := k.Param("N", ".u32"), k.Param("L", ".u32"), k.Param("disc", ".u32")
	f := f64k{k}
	modes := k.Shared("modes", 8, 32*diagModeGroup) // per mode: dA (re, im), C' (re, im)
	base := k.Mov(".u32", modes)
	tid := k.Special("%tid.x")
	h := k.Special("%ctaid.y")
	l := k.Tern("mad.lo.u32", k.Special("%ctaid.x"), Imm(diagModeGroup), tid)
	inactive := k.Setp("ge.u32", l, L) // still takes part in the barriers
	s := f.mov(D(0))
	group := k.Mov(".u32", Imm(0))
	gTop, gDone := k.NewLabel("groups"), k.NewLabel("groups_done")
	k.Place(gTop)
	k.OpIf(k.Setp("ge.u32", group, N), false, "bra.uni", gDone)
	count := k.Bin("min.u32", k.Bin("sub.u32", N, group), Imm(diagModeGroup))
	{
		noMode := k.NewLabel("no_mode")
		k.OpIf(k.Setp("ge.u32", tid, count), false, "bra", noMode)
		mode := k.Tern("mad.lo.u32", h, N, k.Bin("add.u32", group, tid))
		m := diagModeGen(f, mode, h, logDt, invAReal, aImag, b, c, disc)
		slot := k.Tern("mad.lo.u32", tid, Imm(32), base)
		for x, v := range []Reg{m.z.re, m.z.im, m.w.re, m.w.im} {
			k.St("shared", ".f64", At(slot, 8*x), v)
		}
		k.Place(noMode)
	}
	k.Op("bar.sync", 0)
	{
		skip := k.NewLabel("no_output")
		k.OpIf(inactive, false, "bra", skip)
		n := k.Mov(".u32", Imm(0))
		top, fin := k.NewLabel("modes"), k.NewLabel("modes_done")
		k.Place(top)
		k.OpIf(k.Setp("ge.u32", n, count), false, "bra", fin)
		slot := k.Tern("mad.lo.u32", n, Imm(32), base)
		z := cx{k.Ld("shared", ".f64", At(slot, 0)), k.Ld("shared", ".f64", At(slot, 8))}
		w := cx{k.Ld("shared", ".f64", At(slot, 16)), k.Ld("shared", ".f64", At(slot, 24))}
		p := cpow(f, w, z, l, "pow")
		k.Op("add.f64", s, s, p.re)
		k.Op("add.u32", n, n, 1)
		k.Op("bra", top)
		k.Place(fin)
		k.Place(skip)
	}
	k.Comment("the next group overwrites the modes: everyone must be done reading them")
	k.Op("bar.sync", 0)
	k.Op("add.u32", group, group, diagModeGroup)
	k.Op("bra.uni", gTop)
	k.Place(gDone)
	done := k.NewLabel("done")
	k.OpIf(inactive, false, "bra", done)
	out := f.toF32(f.add(s, s))
	stAt(k, kk, k.Tern("mad.lo.u32", h, L, l), out)
	k.Place(done)
	k.Op("ret")
	return k
}

// addF32From adds float32(v) to the float at base[idx] unless base is the null pointer.
func addF32From(f f64k, base, idx, v Reg) {
	k := f.k
	skip := k.NewLabel("skip")
	k.OpIf(k.Setp("eq.u64", base, Imm(0)), false, "bra", skip)
	addr := elemAddr(k, base, idx, 4)
	k.St("global", ".f32", At(addr, 0), k.Bin("add.f32", k.Ld("global", ".f32", At(addr, 0)), f.toF32(v)))
	k.Place(skip)
}

func diagSSMKernelBwd() *Kernel {
	k := NewKernel("diag_ssm_kernel_bwd_f32",
		"adds the gradients of diag_ssm_kernel_f32's parameters given dK (H, L), as tensor.CPU.DiagSSMKernelBackward:",
		"with s0 = sum_l dK[l] dA^l and s1 = sum_l (l+1) dK[l+1] dA^l, g_C' = 2 conj(s0), g_dA = 2 conj(C' s1), chained",
		"through the discretisation to dLogDt (H), dInvAReal, dAImag (H, N), dB, dC (H, N, 2); a null gradient pointer is",
		"skipped. Block h handles head h: for each mode, the 256 threads sum over l in float64 (thread t takes",
		"l = t, t+256, ..., so the order is fixed) and reduce in a shared-memory tree; thread 0 chains the rule").Launch(launch(256, 1, 1, "H", "1", "1"))
	dLogDt, dInvAReal, dAImag, dB, dC := k.Param("dLogDt", ".u64"), k.Param("dInvAReal", ".u64"), k.Param("dAImag", ".u64"), k.Param("dB", ".u64"), k.Param("dC", ".u64")
	dK := k.Param("dK", ".u64")
	logDt, invAReal, aImag, b, c := k.Param("logDt", ".u64"), k.Param("invAReal", ".u64"), k.Param("aImag", ".u64"), k.Param("b", ".u64"), k.Param("c", ".u64")
	k.Param("H", ".u32")
	N, L, disc := k.Param("N", ".u32"), k.Param("L", ".u32"), k.Param("disc", ".u32")
	f := f64k{k}
	tree := k.Shared("tree", 8, 32*redThreads) // per thread: s0 (re, im), s1 (re, im)
	zs := k.Shared("mode_z", 8, 16)
	tbase := k.Mov(".u32", tree)
	zbase := k.Mov(".u32", zs)
	tid := k.Special("%tid.x")
	h := k.Special("%ctaid.x")
	lead := k.Setp("eq.u32", tid, Imm(0))
	gLogDt := f.mov(D(0))
	dkRow := elemAddr(k, dK, k.Bin("mul.lo.u32", h, L), 4)
	n := k.Mov(".u32", Imm(0))
	top, fin := k.NewLabel("modes"), k.NewLabel("modes_done")
	k.Place(top)
	k.OpIf(k.Setp("ge.u32", n, N), false, "bra.uni", fin)
	i := k.Tern("mad.lo.u32", h, N, n)
	{
		skip := k.NewLabel("not_lead")
		k.OpIf(lead, true, "bra", skip)
		m := diagModeGen(f, i, h, logDt, invAReal, aImag, b, c, disc)
		k.St("shared", ".f64", At(zbase, 0), m.z.re)
		k.St("shared", ".f64", At(zbase, 8), m.z.im)
		k.Place(skip)
	}
	k.Op("bar.sync", 0)
	z := cx{k.Ld("shared", ".f64", At(zbase, 0)), k.Ld("shared", ".f64", At(zbase, 8))}
	one := cx{f.mov(D(1)), f.mov(D(0))}
	p := cpow(f, one, z, tid, "pow")
	step := cx{f.mov(z.re), f.mov(z.im)}
	for s := 0; s < 8; s++ { // z^256
		f.cset(step, f.cmul(step, step))
	}
	s0, s1 := cx{f.mov(D(0)), f.mov(D(0))}, cx{f.mov(D(0)), f.mov(D(0))}
	l := k.Mov(".u32", tid)
	ltop, ldone := k.NewLabel("l"), k.NewLabel("l_done")
	k.Place(ltop)
	k.OpIf(k.Setp("ge.u32", l, L), false, "bra", ldone)
	{
		g0 := f.fromF32(ldAt(k, dkRow, l))
		l1 := k.Bin("add.u32", l, Imm(1))
		g1 := f.mov(D(0))
		last := k.NewLabel("last")
		k.OpIf(k.Setp("ge.u32", l1, L), false, "bra", last)
		k.Op("mul.f64", g1, k.Cvt("cvt.rn.f64.u32", l1), f.fromF32(ldAt(k, dkRow, l1)))
		k.Place(last)
		k.Op("fma.rn.f64", s0.re, g0, p.re, s0.re)
		k.Op("fma.rn.f64", s0.im, g0, p.im, s0.im)
		k.Op("fma.rn.f64", s1.re, g1, p.re, s1.re)
		k.Op("fma.rn.f64", s1.im, g1, p.im, s1.im)
		f.cset(p, f.cmul(p, step))
		k.Op("add.u32", l, l, redThreads)
		k.Op("bra", ltop)
	}
	k.Place(ldone)
	slot := k.Tern("mad.lo.u32", tid, Imm(32), tbase)
	sums := []Reg{s0.re, s0.im, s1.re, s1.im}
	for x, v := range sums {
		k.St("shared", ".f64", At(slot, 8*x), v)
	}
	k.Op("bar.sync", 0)
	for stride := redThreads / 2; stride >= 1; stride /= 2 {
		skip := k.NewLabel("tree_skip")
		k.OpIf(k.Setp("ge.u32", tid, Imm(stride)), false, "bra", skip)
		for x := range sums {
			v := k.Ld("shared", ".f64", At(slot, 8*x))
			o := k.Ld("shared", ".f64", At(slot, 8*x+32*stride))
			k.St("shared", ".f64", At(slot, 8*x), f.add(v, o))
		}
		k.Place(skip)
		k.Op("bar.sync", 0)
	}
	{
		skip := k.NewLabel("not_lead_grad")
		k.OpIf(lead, true, "bra", skip)
		t0 := cx{k.Ld("shared", ".f64", At(tbase, 0)), k.Ld("shared", ".f64", At(tbase, 8))}
		t1 := cx{k.Ld("shared", ".f64", At(tbase, 16)), k.Ld("shared", ".f64", At(tbase, 24))}
		k.Comment("the chain rule of DiagSSMKernelBackward for mode i = h*N + n")
		m := diagModeGen(f, i, h, logDt, invAReal, aImag, b, c, disc)
		gW := cx{f.add(t0.re, t0.re), f.neg(f.add(t0.im, t0.im))}
		ws1 := f.cmul(m.w, t1)
		gZ := cx{f.add(ws1.re, ws1.re), f.neg(f.add(ws1.im, ws1.im))}
		gF := f.cmulConj(gW, m.bc)
		gA := f.cadd(f.cmulConj(gZ, m.dzdA), f.cmulConj(gF, m.dfdA))
		gDt := f.add(f.cmulConj(gZ, m.dzdDt).re, f.cmulConj(gF, m.dfdDt).re)
		k.Op("fma.rn.f64", gLogDt, gDt, m.dt, gLogDt)
		addF32From(f, dInvAReal, i, f.mul(gA.re, m.aRealEx))
		addF32From(f, dAImag, i, gA.im)
		i2 := k.Bin("shl.b32", i, Imm(1))
		i2p := k.Bin("add.u32", i2, Imm(1))
		gb := f.cmulConj(gW, f.cmul(m.cParam, m.f))
		addF32From(f, dB, i2, gb.re)
		addF32From(f, dB, i2p, gb.im)
		gc := f.cmulConj(gW, f.cmul(m.bParam, m.f))
		addF32From(f, dC, i2, gc.re)
		addF32From(f, dC, i2p, gc.im)
		k.Place(skip)
	}
	k.Op("add.u32", n, n, 1)
	k.Op("bra.uni", top)
	k.Place(fin)
	{
		skip := k.NewLabel("not_lead_dt")
		k.OpIf(lead, true, "bra", skip)
		addF32From(f, dLogDt, h, gLogDt)
		k.Place(skip)
	}
	k.Op("ret")
	return k
}
