package main

// Plain (unfused) FFT convolution path on complex64 rows stored as interleaved (re, im):
// pad real rows, FFT, multiply pointwise by a filter spectrum, inverse FFT, take the real
// part. Elementwise kernels: block (256,1,1), grid (ceil(elements/256),1,1).
const fftThreads = 256

func fftModule() *Module {
	m := &Module{File: "fft.ptx", Doc: []string{"Radix-2 complex FFT over rows and the pointwise pieces of an FFT convolution."}}
	{
		k := NewKernel("fft_rows_c64",
			"in-place radix-2 FFT of each row of data (rows, n) complex: X[f] = sum_t x[t] w^(f t), w = exp(-2 pi i/n),",
			"or with inverse != 0 the conjugate transform; every output is multiplied by scale (1/n for an inverse).",
			"tw holds exp(-2 pi i k/n) for k < n/2 (host-computed in float64, like cuFFT's tables); n = 2^logn <= 16384;",
			"n > 4096 needs more than 48 KiB of dynamic shared memory, which the driver must allow first",
			"(cuFuncSetAttribute CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES)").Launch(launch(256, 1, 1, "rows", "1", "1").dynShared("8 * n"))
		data, tw := k.Param("data", ".u64"), k.Param("tw", ".u64")
		k.Param("rows", ".u32")
		n, logn := k.Param("n", ".u32"), k.Param("logn", ".u32")
		inv, scale := k.Flag("inverse"), k.Param("scale", ".f32")
		sm := k.DynamicShared("fft_smem")
		tid := k.Special("%tid.x")
		row := k.Special("%ctaid.x")
		base := k.Mov(".u32", sm)
		off := k.Reg(B64)
		k.Op("mul.wide.u32", off, row, n)
		k.Op("shl.b64", off, off, 3)
		rowPtr := k.Bin("add.u64", data, off)
		isInv := k.Setp("ne.u32", inv, Imm(0))
		sign := k.Selp(".f32", F(-1), F(1), isInv)
		revShift := k.Bin("sub.u32", Imm(32), logn)
		k.Comment("load in bit-reversed order")
		rowLoop(k, tid, n, fftThreads, "load", func(i Reg) {
			v := k.LdV("global", ".f32", 2, At(elemAddr(k, rowPtr, i, 8), 0))
			r := k.Bin("shr.b32", k.Un("brev.b32", i), revShift)
			k.St("shared", ".f32", At(k.Tern("mad.lo.u32", r, Imm(8), base), 0), v)
		})
		k.Op("bar.sync", 0)
		half := k.Mov(".u32", Imm(1))
		twShift := k.Bin("sub.u32", logn, Imm(1)) // tw index = pos << (logn-1-stage)
		nHalf := k.Bin("shr.u32", n, Imm(1))
		stage, stagesDone := k.NewLabel("stage"), k.NewLabel("stages_done")
		k.Place(stage)
		fin := k.Setp("ge.u32", half, n)
		k.OpIf(fin, false, "bra.uni", stagesDone)
		rowLoop(k, tid, nHalf, fftThreads, "bfly", func(b Reg) {
			pos := k.Bin("and.b32", b, k.Bin("sub.u32", half, Imm(1)))
			i := k.Bin("add.u32", k.Bin("shl.b32", k.Bin("sub.u32", b, pos), Imm(1)), pos)
			j := k.Bin("add.u32", i, half)
			w := k.LdV("global", ".f32", 2, At(elemAddr(k, tw, k.Bin("shl.b32", pos, twShift), 8), 0))
			wi := k.Bin("mul.f32", w[1], sign)
			ai := k.Tern("mad.lo.u32", i, Imm(8), base)
			aj := k.Tern("mad.lo.u32", j, Imm(8), base)
			a := k.LdV("shared", ".f32", 2, At(ai, 0))
			c := k.LdV("shared", ".f32", 2, At(aj, 0))
			tr := k.Tern("fma.rn.f32", w[0], c[0], k.Bin("mul.f32", k.Un("neg.f32", wi), c[1]))
			ti := k.Tern("fma.rn.f32", w[0], c[1], k.Bin("mul.f32", wi, c[0]))
			k.St("shared", ".f32", At(ai, 0), Vec{k.Bin("add.f32", a[0], tr), k.Bin("add.f32", a[1], ti)})
			k.St("shared", ".f32", At(aj, 0), Vec{k.Bin("sub.f32", a[0], tr), k.Bin("sub.f32", a[1], ti)})
		})
		k.Op("bar.sync", 0)
		k.Op("shl.b32", half, half, 1)
		k.Op("sub.u32", twShift, twShift, 1)
		k.Op("bra.uni", stage)
		k.Place(stagesDone)
		rowLoop(k, tid, n, fftThreads, "store", func(i Reg) {
			v := k.LdV("shared", ".f32", 2, At(k.Tern("mad.lo.u32", i, Imm(8), base), 0))
			k.St("global", ".f32", At(elemAddr(k, rowPtr, i, 8), 0), Vec{k.Bin("mul.f32", v[0], scale), k.Bin("mul.f32", v[1], scale)})
		})
		k.Op("ret")
		m.Kernels = append(m.Kernels, k)
	}
	{
		k := NewKernel("cmul_c64",
			"out[r, i] = a[r, i] * b[r mod brows, i] (complex), or a * conj(b) when conj_b != 0; a filter spectrum",
			"b (brows, n) is broadcast over the batch. conj_b gives the correlation used by the FFT-convolution backward").Launch(launch(256, 1, 1, "ceil(rows*n, 256)", "1", "1"))
		out, a, b := k.Param("out", ".u64"), k.Param("a", ".u64"), k.Param("b", ".u64")
		rows, n, brows := k.Param("rows", ".u32"), k.Param("n", ".u32"), k.Param("brows", ".u32")
		conj := k.Flag("conj_b")
		gid, r, i, done := guardedCell(k, rows, n)
		bi := k.Tern("mad.lo.u32", k.Bin("rem.u32", r, brows), n, i)
		x := k.LdV("global", ".f32", 2, At(elemAddr(k, a, gid, 8), 0))
		y := k.LdV("global", ".f32", 2, At(elemAddr(k, b, bi, 8), 0))
		isConj := k.Setp("ne.u32", conj, Imm(0))
		k.OpIf(isConj, false, "neg.f32", y[1], y[1])
		re := k.Tern("fma.rn.f32", x[0], y[0], k.Bin("mul.f32", k.Un("neg.f32", x[1]), y[1]))
		im := k.Tern("fma.rn.f32", x[0], y[1], k.Bin("mul.f32", x[1], y[0]))
		k.St("global", ".f32", At(elemAddr(k, out, gid, 8), 0), Vec{re, im})
		k.Place(done)
		k.Op("ret")
		m.Kernels = append(m.Kernels, k)
	}
	{
		k := NewKernel("pad_real_to_c64",
			"out[r, i] = (i < L ? in[r*L + i] : 0) + 0i for i < n: real rows (rows, L) zero-padded into complex rows (rows, n)").Launch(launch(256, 1, 1, "ceil(rows*n, 256)", "1", "1"))
		out, in := k.Param("out", ".u64"), k.Param("in", ".u64")
		rows, L, n := k.Param("rows", ".u32"), k.Param("L", ".u32"), k.Param("n", ".u32")
		gid, r, i, done := guardedCell(k, rows, n)
		v := k.Mov(".f32", F(0))
		inside := k.Setp("lt.u32", i, L)
		k.OpIf(inside, false, "ld.global.f32", v, At(elemAddr(k, in, k.Tern("mad.lo.u32", r, L, i), 4), 0))
		k.St("global", ".f32", At(elemAddr(k, out, gid, 8), 0), Vec{v, k.Mov(".f32", F(0))})
		k.Place(done)
		k.Op("ret")
		m.Kernels = append(m.Kernels, k)
	}
	m.Kernels = append(m.Kernels, fftConvKernels()...)
	return m
}

// c64RealRows takes the real parts of the first L entries of each complex row, stored
// (the plain convolution's output) or accumulated (the FFT path's dk, a gradient).
func c64RealRows(name string, accumulate bool, doc ...string) *Kernel {
	k := NewKernel(name, doc...)
	out, in := k.Param("out", ".u64"), k.Param("in", ".u64")
	rows, L, n := k.Param("rows", ".u32"), k.Param("L", ".u32"), k.Param("n", ".u32")
	gid, r, i, done := guardedCell(k, rows, L)
	v := k.Ld("global", ".f32", At(elemAddr(k, in, k.Tern("mad.lo.u32", r, n, i), 8), 0))
	if accumulate {
		addAt(k, out, gid, v)
	} else {
		k.St("global", ".f32", At(elemAddr(k, out, gid, 4), 0), v)
	}
	k.Place(done)
	k.Op("ret")
	return k
}
