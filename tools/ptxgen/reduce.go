package main

// Row kernels: one block of 256 threads per row of a row-major (rows, cols) matrix, i.e.
// a reduction over the last axis. Launch: block (256,1,1), grid (rows,1,1).
const redThreads = 256

type rowCtx struct {
	k    *Kernel
	tid  Reg
	row  Reg
	cols Reg
	red  *blockReducer
}

func newRowKernel(name string, doc ...string) *Kernel {
	return NewKernel(name, doc...).Launch(launch(256, 1, 1, "rows", "1", "1"))
}

// rowParams declares the (rows, cols) parameters every row kernel takes after its
// pointers and sets up the block's view of its row; the row itself comes from the grid.
func rowParams(k *Kernel) *rowCtx {
	k.Param("rows", ".u32")
	c := &rowCtx{k: k, cols: k.Param("cols", ".u32")}
	c.tid = k.Special("%tid.x")
	c.row = k.Special("%ctaid.x")
	c.red = newBlockReducer(k, c.tid, redThreads)
	return c
}

// rowBase returns the address of element (row, 0) of a rows×cols fp32 matrix.
func (c *rowCtx) rowBase(base Reg) Reg {
	off := c.k.Reg(B64)
	c.k.Op("mul.wide.u32", off, c.row, c.cols)
	c.k.Op("shl.b64", off, off, 2)
	return c.k.Bin("add.u64", base, off)
}

// fold accumulates f(j) over the row with op, then reduces over the block.
func (c *rowCtx) fold(op string, init float32, hint string, f func(j Reg) Reg) Reg {
	return c.foldTo(c.cols, op, init, hint, f)
}

// foldTo is fold over the first limit columns only (a causal row sees fewer).
func (c *rowCtx) foldTo(limit Reg, op string, init float32, hint string, f func(j Reg) Reg) Reg {
	k := c.k
	acc := k.Mov(".f32", F(init))
	rowLoop(k, c.tid, limit, redThreads, hint, func(j Reg) { k.Op(op, acc, acc, f(j)) })
	return c.red.reduce(acc, op)
}

// forEach runs body for every column this thread owns.
func (c *rowCtx) forEach(hint string, body func(j Reg)) {
	rowLoop(c.k, c.tid, c.cols, redThreads, hint, body)
}

func ldAt(k *Kernel, base, j Reg) Reg { return k.Ld("global", ".f32", At(elemAddr(k, base, j, 4), 0)) }
func stAt(k *Kernel, base, j, v Reg)  { k.St("global", ".f32", At(elemAddr(k, base, j, 4), 0), v) }

// softmaxGradRows declares the (dx, y, dy) pointers and the row parameters that the
// softmax-family backward kernels share, and returns the row context and the three rows.
func softmaxGradRows(k *Kernel) (c *rowCtx, dxr, yr, dyr Reg) {
	dx, y, dy := k.Param("dx", ".u64"), k.Param("y", ".u64"), k.Param("dy", ".u64")
	c = rowParams(k)
	return c, c.rowBase(dx), c.rowBase(y), c.rowBase(dy)
}

// logSumExp returns log sum_j exp(x[row, j]) for the row at xr, the max taken out first
// so that no exp overflows.
func (c *rowCtx) logSumExp(xr Reg) Reg {
	k := c.k
	mx := c.fold("max.f32", negInf, "max", func(j Reg) Reg { return ldAt(k, xr, j) })
	sum := c.fold("add.f32", 0, "sumexp", func(j Reg) Reg { return exp(k, k.Bin("sub.f32", ldAt(k, xr, j), mx)) })
	return k.Bin("add.f32", mx, ln(k, sum))
}

// targetLoss returns lse - x[row, t] for the row's s32 target t, NaN when t is outside
// [0, cols), and 0 when t == ignore and ignore is outside [0, cols) too; also t == ignore,
// for the callers whose ignore index may be a real class.
func (c *rowCtx) targetLoss(xr, targets, lse Reg, ignore any) (loss, ignored Reg) {
	k := c.k
	t := k.Ld("global", ".s32", At(elemAddr(k, targets, c.row, 4), 0))
	ignored = k.Setp("eq.s32", t, ignore)
	// An unsigned compare folds t < 0 and t >= cols into one test.
	valid := k.Setp("lt.u32", t, c.cols)
	loss = k.Mov(".f32", F(0))
	nan := k.Mov(".f32", "0f7FC00000")
	k.Op("selp.f32", loss, loss, nan, ignored)
	xt := k.Reg(F32)
	k.OpIf(valid, false, "ld.global.f32", xt, At(elemAddr(k, xr, t, 4), 0))
	k.OpIf(valid, false, "sub.f32", loss, lse, xt)
	return loss, ignored
}

// thread0 emits body guarded so only thread 0 of the block runs it.
func (c *rowCtx) thread0(body func()) {
	k := c.k
	p := k.Setp("ne.u32", c.tid, Imm(0))
	skip := k.NewLabel("not_thread0")
	k.OpIf(p, false, "bra", skip)
	body()
	k.Place(skip)
}

const negInf = float32(-3.4028235e38) // -FLT_MAX: max-reductions start here so no Inf arithmetic occurs

func reduceModule() *Module {
	m := &Module{File: "reduce.ptx", Doc: []string{"Reductions over the last axis, one block of 256 threads per row."}}

	for _, logMode := range []bool{false, true} {
		name, doc := "softmax_fwd_f32", "y[r, j] = exp(x[r,j] - max_r) / sum_j exp(x[r,j] - max_r)"
		if logMode {
			name, doc = "logsoftmax_fwd_f32", "y[r, j] = x[r,j] - max_r - log(sum_j exp(x[r,j] - max_r))"
		}
		k := newRowKernel(name, doc)
		y, x := k.Param("y", ".u64"), k.Param("x", ".u64")
		c := rowParams(k)
		xr, yr := c.rowBase(x), c.rowBase(y)
		mx := c.fold("max.f32", negInf, "max", func(j Reg) Reg { return ldAt(k, xr, j) })
		sum := c.fold("add.f32", 0, "sumexp", func(j Reg) Reg {
			return exp(k, k.Bin("sub.f32", ldAt(k, xr, j), mx))
		})
		if logMode {
			shift := k.Bin("add.f32", mx, ln(k, sum))
			c.forEach("write", func(j Reg) { stAt(k, yr, j, k.Bin("sub.f32", ldAt(k, xr, j), shift)) })
		} else {
			c.forEach("write", func(j Reg) {
				e := exp(k, k.Bin("sub.f32", ldAt(k, xr, j), mx))
				stAt(k, yr, j, k.Bin("div.rn.f32", e, sum))
			})
		}
		k.Op("ret")
		m.Kernels = append(m.Kernels, k)
	}
	{
		k := newRowKernel("layernorm_fwd_f32",
			"y = (x - mean) * rstd * gamma + beta; mean[r] and rstd[r] = 1/sqrt(var + eps) saved for backward",
			"variance is two-pass (mean first, then squared deviations): no cancellation")
		y, mean, rstd := k.Param("y", ".u64"), k.Param("mean", ".u64"), k.Param("rstd", ".u64")
		x, gamma, beta := k.Param("x", ".u64"), k.Param("gamma", ".u64"), k.Param("beta", ".u64")
		c := rowParams(k)
		eps := k.Param("eps", ".f32")
		xr, yr := c.rowBase(x), c.rowBase(y)
		fcols := k.Cvt("cvt.rn.f32.u32", c.cols)
		s := c.fold("add.f32", 0, "sum", func(j Reg) Reg { return ldAt(k, xr, j) })
		mu := k.Bin("div.rn.f32", s, fcols)
		ss := c.fold("add.f32", 0, "sq", func(j Reg) Reg {
			d := k.Bin("sub.f32", ldAt(k, xr, j), mu)
			return k.Bin("mul.f32", d, d)
		})
		vr := k.Bin("add.f32", k.Bin("div.rn.f32", ss, fcols), eps)
		rs := k.Bin("div.rn.f32", F(1), k.Un("sqrt.rn.f32", vr))
		c.forEach("write", func(j Reg) {
			xh := k.Bin("mul.f32", k.Bin("sub.f32", ldAt(k, xr, j), mu), rs)
			stAt(k, yr, j, k.Tern("fma.rn.f32", xh, ldAt(k, gamma, j), ldAt(k, beta, j)))
		})
		c.thread0(func() {
			stAt(k, mean, c.row, mu)
			stAt(k, rstd, c.row, rs)
		})
		k.Op("ret")
		m.Kernels = append(m.Kernels, k)
	}
	m.Kernels = append(m.Kernels, nnKernels()...)
	return m
}
