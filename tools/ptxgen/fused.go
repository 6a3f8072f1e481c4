package main

// Fused kernels: a dense layer's product with its bias added in the epilogue, and the
// residual addition fused with the LayerNorm that reads its result (tensor.FusedKernels).
// Each replaces two launches and a round trip of the whole activation through global
// memory.
func fusedModule() *Module {
	return &Module{File: "fused.ptx", Doc: []string{"Fused kernels: SGEMM with a bias epilogue, residual add with LayerNorm."},
		Kernels: []*Kernel{sgemmKernelWith(false, true, true), addLayerNormFwd()}}
}

// addLayerNormFwd is layernorm_fwd_f32 reading x + r instead of x and writing that sum
// as it goes: each thread stores the sum of the columns it owns in the first pass and
// reads back only its own stores in the next two, so no barrier is needed between them.
func addLayerNormFwd() *Kernel {
	k := newRowKernel("add_layernorm_fwd_f32",
		"sum = x + r; y = (sum - mean) * rstd * gamma + beta; mean[r] and rstd[r] = 1/sqrt(var + eps) saved for backward",
		"(tensor.CPU.AddLayerNorm); variance is two-pass (mean first, then squared deviations): no cancellation")
	y, sum, mean, rstd := k.Param("y", ".u64"), k.Param("sum", ".u64"), k.Param("mean", ".u64"), k.Param("rstd", ".u64")
	x, r, gamma, beta := k.Param("x", ".u64"), k.Param("r", ".u64"), k.Param("gamma", ".u64"), k.Param("beta", ".u64")
	c := rowParams(k)
	eps := k.Param("eps", ".f32")
	xr, rr, sr, yr := c.rowBase(x), c.rowBase(r), c.rowBase(sum), c.rowBase(y)
	fcols := k.Cvt("cvt.rn.f32.u32", c.cols)
	s := c.fold("add.f32", 0, "sum", func(j Reg) Reg {
		v := k.Bin("add.f32", ldAt(k, xr, j), ldAt(k, rr, j))
		stAt(k, sr, j, v)
		return v
	})
	mu := k.Bin("div.rn.f32", s, fcols)
	ss := c.fold("add.f32", 0, "sq", func(j Reg) Reg {
		d := k.Bin("sub.f32", ldAt(k, sr, j), mu)
		return k.Bin("mul.f32", d, d)
	})
	vr := k.Bin("add.f32", k.Bin("div.rn.f32", ss, fcols), eps)
	rs := k.Bin("div.rn.f32", F(1), k.Un("sqrt.rn.f32", vr))
	c.forEach("write", func(j Reg) {
		xh := k.Bin("mul.f32", k.Bin("sub.f32", ldAt(k, sr, j), mu), rs)
		stAt(k, yr, j, k.Tern("fma.rn.f32", xh, ldAt(k, gamma, j), ldAt(k, beta, j)))
	})
	c.thread0(func() {
		stAt(k, mean, c.row, mu)
		stAt(k, rstd, c.row, rs)
	})
	k.Op("ret")
	return k
}
