package main

// Activations (tensor.UnaryOp) forward and backward, Fill and Copy, the SGD update and the
// partial sums of a squared norm. Elementwise kernels launch with block (256,1,1), grid
// (ceil(n/1024),1,1), like elementwise.ptx.

// sigmoidOf returns 1/(1 + e^(−x)). ex2 of a large argument is +Inf and 1/Inf is 0, so
// very negative x give 0 without a NaN.
func sigmoidOf(k *Kernel, x Reg) Reg {
	e := k.Un("ex2.approx.f32", k.Bin("mul.f32", x, F(-log2e)))
	return k.Bin("div.rn.f32", F(1), k.Bin("add.f32", e, F(1)))
}

// tanhOf is Cephes' tanhf: an odd polynomial below |x| = 0.625, where 1 − 2/(e^(2x)+1)
// would lose the leading bits of a small result, and that form above it (with the sign of
// x restored). Both are within a few ulp.
func tanhOf(k *Kernel, x Reg) Reg {
	z := k.Bin("mul.f32", x, x)
	p := k.Tern("fma.rn.f32", z, F(-5.70498872745e-3), F(2.06390887954e-2))
	p = k.Tern("fma.rn.f32", p, z, F(-5.37397155531e-2))
	p = k.Tern("fma.rn.f32", p, z, F(1.33314422036e-1))
	p = k.Tern("fma.rn.f32", p, z, F(-3.33332819422e-1))
	small := k.Tern("fma.rn.f32", k.Bin("mul.f32", p, z), x, x)
	ax := k.Un("abs.f32", x)
	e := k.Un("ex2.approx.f32", k.Bin("mul.f32", ax, F(2*log2e)))
	big := k.Bin("sub.f32", F(1), k.Bin("div.rn.f32", F(2), k.Bin("add.f32", e, F(1))))
	neg := k.Setp("lt.f32", x, F(0))
	k.Op("selp.f32", big, k.Un("neg.f32", big), big, neg)
	isSmall := k.Setp("lt.f32", ax, F(0.625))
	return k.Selp(".f32", small, big, isSmall)
}

type unaryOp struct {
	name, fwdDoc, bwdDoc string
	fwd                  func(k *Kernel, x Reg) Reg
	// grad returns f'(x) given x and y = f(x) (only the one named in uses is loaded).
	grad func(k *Kernel, x, y Reg) Reg
	uses string // "x" or "y"
}

var unaryOps = []unaryOp{
	{name: "gelu", fwdDoc: "gelu_tanh(x) = x / (1 + exp(-2*sqrt(2/pi)*(xc + 0.044715 xc^3))), xc = x clamped to [-10, 10] as the CPU does",
		bwdDoc: "s + 2*xc*s*(1-s)*sqrt(2/pi)*(1 + 3*0.044715 xc^2), s = sigma(2*sqrt(2/pi)*(xc + 0.044715 xc^3))",
		fwd: func(k *Kernel, x Reg) Reg {
			s, _ := geluSigma(k, x)
			return k.Bin("mul.f32", x, s)
		},
		grad: func(k *Kernel, x, _ Reg) Reg { return geluGrad(k, x) },
		uses: "x"},
	{name: "relu", fwdDoc: "max(x, 0)", bwdDoc: "[x > 0]",
		fwd: func(k *Kernel, x Reg) Reg { return k.Bin("max.f32", x, F(0)) },
		grad: func(k *Kernel, x, _ Reg) Reg {
			return k.Selp(".f32", F(1), F(0), k.Setp("gt.f32", x, F(0)))
		}, uses: "x"},
	{name: "silu", fwdDoc: "x * sigmoid(x)", bwdDoc: "s * (1 + x*(1 - s)), s = sigmoid(x)",
		fwd: func(k *Kernel, x Reg) Reg { return k.Bin("mul.f32", x, sigmoidOf(k, x)) },
		grad: func(k *Kernel, x, _ Reg) Reg {
			s := sigmoidOf(k, x)
			return k.Bin("mul.f32", s, k.Tern("fma.rn.f32", x, k.Bin("sub.f32", F(1), s), F(1)))
		}, uses: "x"},
	{name: "sigmoid", fwdDoc: "1 / (1 + exp(-x))", bwdDoc: "y * (1 - y)",
		fwd: sigmoidOf,
		grad: func(k *Kernel, _, y Reg) Reg {
			return k.Bin("mul.f32", y, k.Bin("sub.f32", F(1), y))
		}, uses: "y"},
	{name: "tanh", fwdDoc: "tanh(x)", bwdDoc: "1 - y^2",
		fwd: tanhOf,
		grad: func(k *Kernel, _, y Reg) Reg {
			return k.Tern("fma.rn.f32", k.Un("neg.f32", y), y, F(1))
		}, uses: "y"},
	{name: "exp", fwdDoc: "exp(x)", bwdDoc: "y",
		fwd:  func(k *Kernel, x Reg) Reg { return exp(k, x) },
		grad: func(_ *Kernel, _, y Reg) Reg { return y }, uses: "y"},
}

func unaryModule() *Module {
	m := &Module{File: "unary.ptx", Doc: []string{
		"Activations (tensor.UnaryOp) forward and backward, fill, copy, SGD and squared-norm partial sums.",
	}}
	for _, op := range unaryOps {
		k := NewKernel("unary_"+op.name+"_f32", "out[i] = "+op.fwdDoc+" for x = x[i]; out may be x").Launch(ewLaunch)
		out, x := k.Param("out", ".u64"), k.Param("x", ".u64")
		n := k.Param("n", ".u32")
		elementwiseBody(k, map[string]Reg{"out": out, "x": x}, []string{"x"}, []string{"out"}, n,
			func(in []Reg) []Reg { return []Reg{op.fwd(k, in[0])} })
		m.Kernels = append(m.Kernels, k)
	}
	for _, op := range unaryOps {
		unread := "y"
		if op.uses == "y" {
			unread = "x"
		}
		k := NewKernel("unary_bwd_"+op.name+"_f32",
			"dx[i] += dout[i] * f'(x[i]) with f'(x) = "+op.bwdDoc+", y = f(x) the forward output (accumulates; "+unread+" is not read)").Launch(ewLaunch)
		ptr := map[string]Reg{}
		for _, p := range []string{"dx", "dout", "x", "y"} {
			ptr[p] = k.Param(p, ".u64")
		}
		n := k.Param("n", ".u32")
		elementwiseBody(k, ptr, []string{"dx", "dout", "x", "y"}, []string{"dx"}, n, func(in []Reg) []Reg {
			return []Reg{k.Tern("fma.rn.f32", in[1], op.grad(k, in[2], in[3]), in[0])}
		}, unread)
		m.Kernels = append(m.Kernels, k)
	}
	m.Kernels = append(m.Kernels, elementwiseKernel(ewSpec{name: "sgd_f32",
		doc:  "SGD with momentum as tensor.CPU.SGD (PyTorch's form): g = grad*grad_scale + weight_decay*p; buf = momentum*buf + g; p -= lr*buf",
		outs: []string{"p", "buf"}, ins: []string{"p", "grad", "buf"},
		scalars: []string{"lr", "momentum", "weight_decay", "grad_scale"},
		op: func(k *Kernel, in, s []Reg) []Reg {
			p, g0, b0 := in[0], in[1], in[2]
			lr, mom, wd, gs := s[0], s[1], s[2], s[3]
			g := k.Tern("fma.rn.f32", g0, gs, k.Bin("mul.f32", wd, p))
			b := k.Tern("fma.rn.f32", mom, b0, g)
			return []Reg{k.Tern("fma.rn.f32", k.Un("neg.f32", lr), b, p), b}
		}}))
	m.Kernels = append(m.Kernels, squaredNormKernel())
	return m
}

// squaredNormKernel writes one partial sum per block so the result does not depend on
// the order atomics would land in; the caller adds the partials (in float64 on the host,
// as tensor.CPU.SquaredNorm returns float64, or with sum_rows_f32 to stay on the device).
func squaredNormKernel() *Kernel {
	k := NewKernel("squared_norm_partial_f32",
		"partial[blockIdx.x] = sum of x[i]^2 over i = blockIdx.x*256 + tid + k*gridDim.x*256 < n (a grid-stride loop, any",
		"grid size G >= 1; partial holds G floats); sum the G partials for sum_i x[i]^2. Each thread sums about n/(256 G) squares",
		"in fp32, then the block reduces in a tree, so G = min(ceil(n/256), 1024) keeps the fp32 error near 2^-24 * log(n)").Launch(launch(256, 1, 1, "min(ceil(n, 256), 1024)", "1", "1"))
	partial, x := k.Param("partial", ".u64"), k.Param("x", ".u64")
	n := k.Param("n", ".u32")
	gid, tid := globalIndex(k)
	stride := k.Bin("mul.lo.u32", k.Special("%nctaid.x"), Imm(redThreads))
	red := newBlockReducer(k, tid, redThreads)
	acc := k.Mov(".f32", F(0))
	i := k.Mov(".u32", gid)
	top, done := k.NewLabel("loop"), k.NewLabel("loop_done")
	k.Place(top)
	fin := k.Setp("ge.u32", i, n)
	k.OpIf(fin, false, "bra", done)
	v := ldAt(k, x, i)
	k.Op("fma.rn.f32", acc, v, v, acc)
	k.Op("add.u32", i, i, stride)
	k.Op("bra", top)
	k.Place(done)
	s := red.reduce(acc, "add.f32")
	lead := k.Setp("ne.u32", tid, Imm(0))
	end := k.NewLabel("end")
	k.OpIf(lead, false, "bra", end)
	stAt(k, partial, k.Special("%ctaid.x"), s)
	k.Place(end)
	k.Op("ret")
	return k
}
