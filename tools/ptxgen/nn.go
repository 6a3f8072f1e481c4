package main

// Row kernels with the exact semantics of tensor's NNKernels where the first set differs:
// the causal softmax, backward passes that accumulate (dx +=) as the Device interface
// requires, a cross-entropy whose ignore index is a parameter, and a LayerNorm backward
// whose weight gradients are column sums in a fixed order instead of atomics.

// causalLimit returns the number of keys row r of an (..., L, L) score tensor sees:
// r mod L + 1.
func (c *rowCtx) causalLimit() Reg {
	return c.k.Bin("add.u32", c.k.Bin("rem.u32", c.row, c.cols), Imm(1))
}

func nnKernels() []*Kernel {
	var ks []*Kernel
	{
		k := newRowKernel("softmax_causal_fwd_f32",
			"causal softmax of attention scores (..., L, L) viewed as rows of cols = L: row r sees keys j < v = r mod L + 1,",
			"y[r, j] = exp(x[r,j] - max) / sum_{j<v} exp(x[r,j] - max) for j < v and 0 beyond (x is not read there); y may be x")
		y, x := k.Param("y", ".u64"), k.Param("x", ".u64")
		c := rowParams(k)
		xr, yr := c.rowBase(x), c.rowBase(y)
		v := c.causalLimit()
		mx := c.foldTo(v, "max.f32", negInf, "max", func(j Reg) Reg { return ldAt(k, xr, j) })
		sum := c.foldTo(v, "add.f32", 0, "sumexp", func(j Reg) Reg { return exp(k, k.Bin("sub.f32", ldAt(k, xr, j), mx)) })
		c.forEach("write", func(j Reg) {
			out := k.Mov(".f32", F(0))
			masked := k.Setp("ge.u32", j, v)
			store := k.NewLabel("store")
			k.OpIf(masked, false, "bra", store)
			e := exp(k, k.Bin("sub.f32", ldAt(k, xr, j), mx))
			k.Op("div.rn.f32", out, e, sum)
			k.Place(store)
			stAt(k, yr, j, out)
		})
		k.Op("ret")
		ks = append(ks, k)
	}
	{
		k := newRowKernel("softmax_bwd_acc_f32",
			"dx[r, j] += y[r,j] * (dy[r,j] - sum_j dy*y), y the softmax output; with causal != 0 only j < r mod cols + 1",
			"(the causal softmax's unmasked entries) are read and updated")
		dx, y, dy := k.Param("dx", ".u64"), k.Param("y", ".u64"), k.Param("dy", ".u64")
		c := rowParams(k)
		causal := k.Flag("causal")
		dxr, yr, dyr := c.rowBase(dx), c.rowBase(y), c.rowBase(dy)
		isCausal := k.Setp("ne.u32", causal, Imm(0))
		limit := k.Selp(".b32", c.causalLimit(), c.cols, isCausal)
		dot := c.foldTo(limit, "add.f32", 0, "dot", func(j Reg) Reg { return k.Bin("mul.f32", ldAt(k, yr, j), ldAt(k, dyr, j)) })
		rowLoop(k, c.tid, limit, redThreads, "write", func(j Reg) {
			t := k.Bin("mul.f32", ldAt(k, yr, j), k.Bin("sub.f32", ldAt(k, dyr, j), dot))
			stAt(k, dxr, j, k.Bin("add.f32", ldAt(k, dxr, j), t))
		})
		k.Op("ret")
		ks = append(ks, k)
	}
	{
		k := newRowKernel("logsoftmax_bwd_acc_f32", "dx[r, j] += dy[r,j] - exp(y[r,j]) * sum_j dy[r,j], y the log-softmax output")
		c, dxr, yr, dyr := softmaxGradRows(k)
		s := c.fold("add.f32", 0, "sum", func(j Reg) Reg { return ldAt(k, dyr, j) })
		c.forEach("write", func(j Reg) {
			t := k.Tern("fma.rn.f32", k.Un("neg.f32", exp(k, ldAt(k, yr, j))), s, ldAt(k, dyr, j))
			stAt(k, dxr, j, k.Bin("add.f32", ldAt(k, dxr, j), t))
		})
		k.Op("ret")
		ks = append(ks, k)
	}
	{
		k := newRowKernel("cross_entropy_ignore_fwd_f32",
			"loss[r] = lse[r] - logits[r, t[r]] with lse[r] = log sum_j exp(logits[r, j]) (always stored); targets are s32;",
			"loss[r] = 0 where t[r] == ignore; any other target outside [0, cols) gives a NaN loss (tensor.CPU.CrossEntropy)")
		loss, lse, logits, targets := k.Param("loss", ".u64"), k.Param("lse", ".u64"), k.Param("logits", ".u64"), k.Param("targets", ".u64")
		c := rowParams(k)
		ignore := k.Param("ignore", ".s32")
		xr := c.rowBase(logits)
		l := c.logSumExp(xr)
		c.thread0(func() {
			v, ignored := c.targetLoss(xr, targets, l, ignore)
			// ignore may be a real class, whose logit targetLoss has just used
			k.OpIf(ignored, false, "mov.f32", v, F(0))
			stAt(k, loss, c.row, v)
			stAt(k, lse, c.row, l)
		})
		k.Op("ret")
		ks = append(ks, k)
	}
	{
		k := newRowKernel("cross_entropy_bwd_acc_f32",
			"dlogits[r, j] += dloss[r] * (exp(logits[r,j] - lse[r]) - [j == t[r]]) for rows with t[r] != ignore; ignored rows",
			"are not touched (tensor.CPU.CrossEntropyBackward)")
		dlogits, logits, lse, targets, dloss := k.Param("dlogits", ".u64"), k.Param("logits", ".u64"), k.Param("lse", ".u64"), k.Param("targets", ".u64"), k.Param("dloss", ".u64")
		c := rowParams(k)
		ignore := k.Param("ignore", ".s32")
		t := k.Ld("global", ".s32", At(elemAddr(k, targets, c.row, 4), 0))
		skip := k.NewLabel("ignored")
		ignored := k.Setp("eq.s32", t, ignore)
		// The whole block takes the same branch: it depends on the row only.
		k.OpIf(ignored, false, "bra.uni", skip)
		xr, dr := c.rowBase(logits), c.rowBase(dlogits)
		l := ldAt(k, lse, c.row)
		g := ldAt(k, dloss, c.row)
		c.forEach("write", func(j Reg) {
			p := exp(k, k.Bin("sub.f32", ldAt(k, xr, j), l))
			hit := k.Setp("eq.u32", j, t)
			k.OpIf(hit, false, "sub.f32", p, p, F(1))
			stAt(k, dr, j, k.Tern("fma.rn.f32", p, g, ldAt(k, dr, j)))
		})
		k.Place(skip)
		k.Op("ret")
		ks = append(ks, k)
	}
	ks = append(ks, layerNormBwdDXAcc(), layerNormBwdDW())
	return ks
}

// layerNormBwdDXAcc is LayerNorm's input gradient, accumulated, with an optional weight.
func layerNormBwdDXAcc() *Kernel {
	k := newRowKernel("layernorm_bwd_dx_acc_f32",
		"xhat = (x-mean)*rstd, g = dy*gamma (gamma == 0 as a pointer: unit scale): dx += rstd*(g - mean_j g - xhat*mean_j(g*xhat))",
		"(tensor.CPU.LayerNormBackward's dx; layernorm_bwd_dw_f32 gives dgamma and dbeta)")
	dx, dy, x := k.Param("dx", ".u64"), k.Param("dy", ".u64"), k.Param("x", ".u64")
	mean, rstd, gamma := k.Param("mean", ".u64"), k.Param("rstd", ".u64"), k.Param("gamma", ".u64")
	c := rowParams(k)
	xr, dyr, dxr := c.rowBase(x), c.rowBase(dy), c.rowBase(dx)
	mu := ldAt(k, mean, c.row)
	rs := ldAt(k, rstd, c.row)
	hasGamma := k.Setp("ne.u64", gamma, Imm(0))
	fcols := k.Cvt("cvt.rn.f32.u32", c.cols)
	grad := func(j Reg) Reg {
		g := ldAt(k, dyr, j)
		w := k.Mov(".f32", F(1))
		k.OpIf(hasGamma, false, "ld.global.f32", w, At(elemAddr(k, gamma, j, 4), 0))
		return k.Bin("mul.f32", g, w)
	}
	xhat := func(j Reg) Reg { return k.Bin("mul.f32", k.Bin("sub.f32", ldAt(k, xr, j), mu), rs) }
	s1 := c.fold("add.f32", 0, "sg", grad)
	s2 := c.fold("add.f32", 0, "sgx", func(j Reg) Reg { return k.Bin("mul.f32", grad(j), xhat(j)) })
	m1 := k.Bin("div.rn.f32", s1, fcols)
	m2 := k.Bin("div.rn.f32", s2, fcols)
	c.forEach("write", func(j Reg) {
		t := k.Bin("sub.f32", k.Bin("sub.f32", grad(j), m1), k.Bin("mul.f32", xhat(j), m2))
		stAt(k, dxr, j, k.Tern("fma.rn.f32", t, rs, ldAt(k, dxr, j)))
	})
	k.Op("ret")
	return k
}

// layerNormBwdDW sums over rows per feature, like the column sums of broadcast.ptx.
func layerNormBwdDW() *Kernel {
	k := NewKernel("layernorm_bwd_dw_f32",
		"dgamma[j] (+)= sum_r dy[r,j] * (x[r,j]-mean[r])*rstd[r] and dbeta[j] (+)= sum_r dy[r,j] (assigned, or added when",
		"accumulate != 0; either pointer may be 0 to skip it); thread (j, c) covers rows [c*chunk, min(rows, (c+1)*chunk))",
		"and writes dgamma[c*cols + j], dbeta[c*cols + j]: chunk >= rows gives the sums; longer ones go through (chunks, cols)",
		"scratches that sum_axis_f32 reduces, in a fixed order either way").Launch(launch(256, 1, 1, "ceil(cols, 256)", "ceil(rows, chunk)", "1"))
	dg, db := k.Param("dgamma", ".u64"), k.Param("dbeta", ".u64")
	dy, x, mean, rstd := k.Param("dy", ".u64"), k.Param("x", ".u64"), k.Param("mean", ".u64"), k.Param("rstd", ".u64")
	rows, cols, chunk, acc := k.Param("rows", ".u32"), k.Param("cols", ".u32"), k.Param("chunk", ".u32"), k.Flag("accumulate")
	j, done := guardedIndex(k, cols)
	c := k.Special("%ctaid.y")
	r0 := k.Bin("mul.lo.u32", c, chunk)
	r1 := k.Bin("min.u32", k.Bin("add.u32", r0, chunk), rows)
	start := k.Tern("mad.lo.u32", r0, cols, j)
	pdy, px := elemAddr(k, dy, start, 4), elemAddr(k, x, start, 4)
	pm, pr := elemAddr(k, mean, r0, 4), elemAddr(k, rstd, r0, 4)
	step := k.Reg(B64)
	k.Op("mul.wide.u32", step, cols, 4)
	sg, sb := k.Mov(".f32", F(0)), k.Mov(".f32", F(0))
	r := k.Mov(".u32", r0)
	top, fin := k.NewLabel("rows"), k.NewLabel("rows_done")
	k.Place(top)
	end := k.Setp("ge.u32", r, r1)
	k.OpIf(end, false, "bra", fin)
	g := k.Ld("global", ".f32", At(pdy, 0))
	xh := k.Bin("mul.f32", k.Bin("sub.f32", k.Ld("global", ".f32", At(px, 0)), k.Ld("global", ".f32", At(pm, 0))), k.Ld("global", ".f32", At(pr, 0)))
	k.Op("fma.rn.f32", sg, g, xh, sg)
	k.Op("add.f32", sb, sb, g)
	k.Op("add.u64", pdy, pdy, step)
	k.Op("add.u64", px, px, step)
	k.Op("add.u64", pm, pm, 4)
	k.Op("add.u64", pr, pr, 4)
	k.Op("add.u32", r, r, 1)
	k.Op("bra", top)
	k.Place(fin)
	at := k.Tern("mad.lo.u32", c, cols, j)
	for _, pair := range [][2]Reg{{dg, sg}, {db, sb}} {
		skip := k.NewLabel("skip")
		none := k.Setp("eq.u64", pair[0], Imm(0))
		k.OpIf(none, false, "bra", skip)
		storeMaybeAcc(k, elemAddr(k, pair[0], at, 4), pair[1], acc)
		k.Place(skip)
	}
	k.Place(done)
	k.Op("ret")
	return k
}
