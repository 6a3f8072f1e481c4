package main

import "math"

// Elementwise kernels: each thread handles 4 consecutive elements with one v4 access per
// operand when all 4 are in range and every pointer is 16-byte aligned (cudaMalloc's
// are; views into a tensor may not be), and with scalar accesses otherwise.
const ewThreads = 256

var ewLaunch = launch(ewThreads, 1, 1, "ceil(n, 1024)", "1", "1").note("16-byte aligned pointers take the vector path")

type ewSpec struct {
	name    string
	doc     string
	outs    []string // output pointer params
	ins     []string // input pointer params (may repeat an output for in-place updates)
	scalars []string // .f32 params
	op      func(k *Kernel, in []Reg, s []Reg) []Reg
}

func elementwiseKernel(s ewSpec) *Kernel {
	k := NewKernel(s.name, s.doc).Launch(ewLaunch)
	ptr := map[string]Reg{}
	for _, n := range append(append([]string{}, s.outs...), s.ins...) {
		if _, ok := ptr[n]; !ok {
			ptr[n] = k.Param(n, ".u64")
		}
	}
	var sc []Reg
	for _, n := range s.scalars {
		sc = append(sc, k.Param(n, ".f32"))
	}
	n := k.Param("n", ".u32")
	elementwiseBody(k, ptr, s.ins, s.outs, n, func(in []Reg) []Reg { return s.op(k, in, sc) })
	return k
}

// elementwiseBody emits the vector-plus-tail body over n elements: ins are loaded (names
// in unread are passed as the zero Reg and never loaded), op maps them to the outs.
func elementwiseBody(k *Kernel, ptr map[string]Reg, ins, outs []string, n Reg, op func(in []Reg) []Reg, unread ...string) {
	skip := map[string]bool{}
	for _, u := range unread {
		skip[u] = true
	}
	gid, _ := globalIndex(k)
	i := k.Bin("shl.b32", gid, Imm(2))
	end := k.Bin("add.u32", i, Imm(4))
	full := k.Setp("le.u32", end, n)
	addrs := map[string]Reg{}
	for _, name := range append(append([]string{}, outs...), ins...) {
		if _, done := addrs[name]; !done && !skip[name] {
			addrs[name] = elemAddr(k, ptr[name], i, 4)
		}
	}
	tail, done := k.NewLabel("tail"), k.NewLabel("done")
	k.OpIf(full, true, "bra", tail)
	var names []string
	for _, name := range append(append([]string{}, outs...), ins...) {
		if !skip[name] {
			names = append(names, name)
		}
	}
	k.OpIf(misaligned(k, ptr, names), false, "bra", tail)
	k.Comment("four elements in range, pointers aligned: vector path")
	vin := make([]Vec, len(ins))
	for x, name := range ins {
		if !skip[name] {
			vin[x] = k.LdV("global", ".f32", 4, At(addrs[name], 0))
		}
	}
	vout := make([]Vec, len(outs))
	for e := 0; e < 4; e++ {
		args := make([]Reg, len(ins))
		for x, name := range ins {
			if !skip[name] {
				args[x] = vin[x][e]
			}
		}
		res := op(args)
		for o := range outs {
			vout[o] = append(vout[o], res[o])
		}
	}
	for o, name := range outs {
		k.St("global", ".f32", At(addrs[name], 0), vout[o])
	}
	k.Op("bra", done)
	k.Place(tail)
	k.Comment("tail or unaligned: up to four elements, one at a time")
	for e := 0; e < 4; e++ {
		ie := k.Bin("add.u32", i, Imm(e))
		out := k.Setp("ge.u32", ie, n)
		k.OpIf(out, false, "bra", done)
		args := make([]Reg, len(ins))
		for x, name := range ins {
			if !skip[name] {
				args[x] = k.Ld("global", ".f32", At(addrs[name], 4*e))
			}
		}
		res := op(args)
		for o, name := range outs {
			k.St("global", ".f32", At(addrs[name], 4*e), res[o])
		}
	}
	k.Place(done)
	k.Op("ret")
}

// GELU, tanh approximation: 0.5·x·(1+tanh(z)), z = √(2/π)·(x + 0.044715·x³). Written as
// x·σ(2z) = x / (1 + e^(−2z)), which never subtracts nearly equal numbers.
var geluC = math.Sqrt(2 / math.Pi)

// geluClamp bounds the x that enters z, as tensor's GELU does: beyond ±10, σ(2z) is 0 or 1
// to float32 precision, and the clamp keeps x³ finite (an Inf times s(1−s) = 0 would make
// the gradient NaN). For x < −10 the forward gives x·σ(2z(−10)) ≈ x·1.2e-38, like the CPU.
const geluClamp = 10

// geluSigma returns σ(2z) for input x, and the clamped x it was computed from.
func geluSigma(k *Kernel, x Reg) (s, xc Reg) {
	xc = k.Bin("max.f32", k.Bin("min.f32", x, F(geluClamp)), F(-geluClamp))
	x2 := k.Bin("mul.f32", xc, xc)
	t := k.Tern("fma.rn.f32", x2, F(0.044715), F(1))
	u := k.Bin("mul.f32", xc, t)
	e := k.Un("ex2.approx.f32", k.Bin("mul.f32", u, F(-2*geluC*math.Log2E)))
	den := k.Bin("add.f32", e, F(1))
	return k.Bin("div.rn.f32", F(1), den), xc
}

// geluGrad returns GELU'(x) = s + 2·xc·s(1−s)·z'(xc), the derivative of x·σ(2z) with x
// clamped as in geluSigma (the second term is below 1e-35 beyond the clamp).
func geluGrad(k *Kernel, x Reg) Reg {
	s, xc := geluSigma(k, x)
	oneMinus := k.Bin("sub.f32", F(1), s)
	ds := k.Bin("mul.f32", s, oneMinus)
	x2 := k.Bin("mul.f32", xc, xc)
	dz := k.Tern("fma.rn.f32", x2, F(3*0.044715*2*geluC), F(2*geluC))
	return k.Tern("fma.rn.f32", k.Bin("mul.f32", xc, ds), dz, s)
}

// misaligned returns a predicate: some pointer named is not 16-byte aligned. It is the
// same for every thread, so the branch on it does not diverge.
func misaligned(k *Kernel, ptr map[string]Reg, names []string) Reg {
	var or Reg
	seen := map[string]bool{}
	for _, name := range names {
		if seen[name] {
			continue
		}
		seen[name] = true
		if or == (Reg{}) {
			or = ptr[name]
			continue
		}
		or = k.Bin("or.b64", or, ptr[name])
	}
	low := k.Bin("and.b64", or, Imm(15))
	return k.Setp("ne.u64", low, Imm(0))
}

func elementwiseModule() *Module {
	m := &Module{File: "elementwise.ptx", Doc: []string{"Fused elementwise fp32 kernels."}}
	specs := []ewSpec{
		{name: "add_f32", doc: "out[i] = a[i] + b[i]", outs: []string{"out"}, ins: []string{"a", "b"},
			op: func(k *Kernel, in, _ []Reg) []Reg { return []Reg{k.Bin("add.f32", in[0], in[1])} }},
		{name: "scale_f32", doc: "out[i] = alpha * a[i]", outs: []string{"out"}, ins: []string{"a"}, scalars: []string{"alpha"},
			op: func(k *Kernel, in, s []Reg) []Reg { return []Reg{k.Bin("mul.f32", in[0], s[0])} }},
		{name: "axpy_f32", doc: "y[i] += alpha * x[i] (one fused multiply-add)", outs: []string{"y"}, ins: []string{"x", "y"}, scalars: []string{"alpha"},
			op: func(k *Kernel, in, s []Reg) []Reg { return []Reg{k.Tern("fma.rn.f32", s[0], in[0], in[1])} }},
		{name: "adamw_f32",
			doc:  "AdamW (decoupled decay), as tensor.CPU.AdamW: g=grad*gscale; m=b1*m+(1-b1)g; v=b2*v+(1-b2)g^2; p=p*decay - step*m/(sqrt(v)/sqrtbc2+eps); decay=1-lr*wd, step=lr/(1-b1^t), sqrtbc2=sqrt(1-b2^t)",
			outs: []string{"p", "m", "v"}, ins: []string{"p", "grad", "m", "v"},
			scalars: []string{"beta1", "beta2", "eps", "decay", "step_size", "sqrt_bc2", "grad_scale"},
			op: func(k *Kernel, in, s []Reg) []Reg {
				p, g0, m0, v0 := in[0], in[1], in[2], in[3]
				b1, b2, eps, decay, step, sbc2, gs := s[0], s[1], s[2], s[3], s[4], s[5], s[6]
				g := k.Bin("mul.f32", g0, gs)
				omb1 := k.Bin("sub.f32", F(1), b1)
				omb2 := k.Bin("sub.f32", F(1), b2)
				m := k.Tern("fma.rn.f32", b1, m0, k.Bin("mul.f32", omb1, g))
				v := k.Tern("fma.rn.f32", b2, v0, k.Bin("mul.f32", k.Bin("mul.f32", omb2, g), g))
				den := k.Bin("add.f32", k.Bin("div.rn.f32", k.Un("sqrt.rn.f32", v), sbc2), eps)
				upd := k.Bin("div.rn.f32", k.Bin("mul.f32", step, m), den)
				pn := k.Bin("sub.f32", k.Bin("mul.f32", p, decay), upd)
				return []Reg{pn, m, v}
			}},
	}
	for _, s := range specs {
		m.Kernels = append(m.Kernels, elementwiseKernel(s))
	}
	return m
}
