package ptxsim

import (
	"fmt"
	"strings"
)

type ptype uint8

const (
	tNone ptype = iota
	tPred
	tB32
	tU32
	tS32
	tF32
	tB64
	tU64
	tS64
	tTF32
	tF64
	// 16-bit floats: scalars in .b16 registers, pairs (x2) packed in a 32-bit register
	// with the first element in the low half, as the mma fragments hold them.
	tB16
	tF16
	tBF16
	tF16x2
	tBF16x2
)

func parseType(s string) (ptype, error) {
	switch s {
	case ".pred":
		return tPred, nil
	case ".b32":
		return tB32, nil
	case ".u32":
		return tU32, nil
	case ".s32":
		return tS32, nil
	case ".f32":
		return tF32, nil
	case ".b64":
		return tB64, nil
	case ".u64":
		return tU64, nil
	case ".s64":
		return tS64, nil
	case ".tf32":
		return tTF32, nil
	case ".f64":
		return tF64, nil
	case ".b16":
		return tB16, nil
	case ".f16":
		return tF16, nil
	case ".bf16":
		return tBF16, nil
	case ".f16x2":
		return tF16x2, nil
	case ".bf16x2":
		return tBF16x2, nil
	}
	return tNone, fmt.Errorf("unsupported type %q", s)
}

func (t ptype) bits() int {
	switch t {
	case tPred:
		return 1
	case tB64, tU64, tS64, tF64:
		return 64
	case tB16, tF16, tBF16:
		return 16
	}
	return 32
}

type opcode uint8

const (
	opMov opcode = iota
	opAdd
	opSub
	opMul
	opMad
	opFma
	opDiv
	opRem
	opNeg
	opAbs
	opMin
	opMax
	opAnd
	opOr
	opXor
	opNot
	opShl
	opShr
	opSetp
	opSelp
	opCvt
	opEx2
	opLg2
	opSqrt
	opRcp
	opBrev
	opLd
	opSt
	opAtom
	opBra
	opExit
	opBar
	opShfl
	opVote
	opMma
	opLdmatrix
	opCpAsync
	opCpCommit
	opCpWait
	opCpWaitAll
)

var opcodeNames = map[string]opcode{
	"mov": opMov, "add": opAdd, "sub": opSub, "mul": opMul, "mad": opMad, "fma": opFma,
	"div": opDiv, "rem": opRem, "neg": opNeg, "abs": opAbs, "min": opMin, "max": opMax,
	"and": opAnd, "or": opOr, "xor": opXor, "not": opNot, "shl": opShl, "shr": opShr,
	"setp": opSetp, "selp": opSelp, "cvt": opCvt, "ex2": opEx2, "lg2": opLg2, "sqrt": opSqrt,
	"rcp": opRcp, "brev": opBrev, "ld": opLd, "st": opSt, "atom": opAtom, "red": opAtom, "bra": opBra,
	"ret": opExit, "exit": opExit, "bar": opBar, "shfl": opShfl, "vote": opVote, "mma": opMma,
	"ldmatrix": opLdmatrix,
}

type space uint8

const (
	spNone space = iota
	spGlobal
	spShared
	spParam
)

const (
	oReg = iota
	oImm
	oSpecial
	oSym
	oMem
	oVec
	oLabel
	oParam
)

const (
	sTidX = iota
	sTidY
	sTidZ
	sNtidX
	sNtidY
	sNtidZ
	sCtaidX
	sCtaidY
	sCtaidZ
	sNctaidX
	sNctaidY
	sNctaidZ
	sLaneid
	numSpecials
)

var specialNames = map[string]int{
	"%tid.x": sTidX, "%tid.y": sTidY, "%tid.z": sTidZ,
	"%ntid.x": sNtidX, "%ntid.y": sNtidY, "%ntid.z": sNtidZ,
	"%ctaid.x": sCtaidX, "%ctaid.y": sCtaidY, "%ctaid.z": sCtaidZ,
	"%nctaid.x": sNctaidX, "%nctaid.y": sNctaidY, "%nctaid.z": sNctaidZ,
	"%laneid": sLaneid,
}

type operand struct {
	kind    int
	reg     int    // oReg, oMem with a register base
	imm     uint64 // oImm; oSym and oMem-with-symbol: shared offset; oParam: index; oLabel: pc
	memKind int    // base kind of oMem: oReg, oSym or oParam
	off     int64
	vec     []int
	neg     bool
	alt     int // second destination of shfl (predicate), -1 if none
}

type instr struct {
	op       opcode
	t, t2    ptype
	sp       space
	vec      int
	mod      string // comparison, shuffle/vote mode, mul width, atomic operation or rounding
	guard    int    // predicate register, -1 if none
	guardNeg bool
	uni      bool // .uni: the author promises all lanes of a warp agree
	ops      []operand
	line     int
	text     string
}

// entry is a compiled kernel.
type entry struct {
	name         string
	params       []param
	nregs        int
	regType      []ptype
	regNames     []string
	code         []instr
	staticShared int
	dynOffset    int // where dynamic shared memory begins
	hasDynamic   bool
}

func compileEntry(r *rawEntry, externs []sharedDecl) (*entry, error) {
	e := &entry{name: r.name, params: r.params}
	regIndex := map[string]int{}
	for _, d := range r.regs {
		for i := 0; i < d.n; i++ {
			name := fmt.Sprintf("%s%d", d.prefix, i)
			regIndex[name] = len(e.regType)
			e.regType = append(e.regType, d.t)
			e.regNames = append(e.regNames, name)
		}
	}
	e.nregs = len(e.regType)
	symOff := map[string]int{}
	off := 0
	for _, d := range r.shared {
		if d.dynamic {
			continue
		}
		off = (off + d.align - 1) / d.align * d.align
		symOff[d.name] = off
		off += d.size
	}
	e.staticShared = off
	for _, d := range append(append([]sharedDecl(nil), externs...), r.shared...) {
		if d.dynamic {
			// Dynamic shared memory follows the static part, 16-byte aligned as on hardware.
			e.dynOffset = (off + 15) &^ 15
			e.hasDynamic = true
			symOff[d.name] = e.dynOffset
		}
	}
	paramIndex := map[string]int{}
	for i, p := range r.params {
		paramIndex[p.name] = i
	}
	errf := func(s rawStmt, format string, a ...any) error {
		return fmt.Errorf("ptxsim: kernel %s line %d (%s): %s", r.name, s.line, s.opcode, fmt.Sprintf(format, a...))
	}
	for _, s := range r.stmts {
		in := instr{guard: -1, line: s.line, text: s.opcode, vec: 1}
		if s.guard != "" {
			g, ok := regIndex[s.guard]
			if !ok || e.regType[g] != tPred {
				return nil, errf(s, "guard %q is not a predicate register", s.guard)
			}
			in.guard, in.guardNeg = g, s.guardNeg
		}
		parts := strings.Split(s.opcode, ".")
		op, ok := opcodeNames[parts[0]]
		if !ok && parts[0] == "cp" {
			switch {
			case len(parts) >= 3 && parts[1] == "async" && parts[2] == "commit_group":
				op, ok = opCpCommit, true
			case len(parts) >= 3 && parts[1] == "async" && parts[2] == "wait_group":
				op, ok = opCpWait, true
			case len(parts) >= 3 && parts[1] == "async" && parts[2] == "wait_all":
				op, ok = opCpWaitAll, true
			case len(parts) >= 2 && parts[1] == "async":
				op, ok = opCpAsync, true
			}
		}
		if !ok {
			return nil, errf(s, "unsupported instruction")
		}
		in.op = op
		var types []ptype
		for _, m := range parts[1:] {
			if t, err := parseType("." + m); err == nil {
				types = append(types, t)
				continue
			}
			switch m {
			case "global":
				in.sp = spGlobal
			case "shared":
				in.sp = spShared
			case "param":
				in.sp = spParam
			case "v2":
				in.vec = 2
			case "v4":
				in.vec = 4
			case "x1", "x2", "x4": // ldmatrix: the number of 8×8 matrices
				in.vec = int(m[1] - '0')
			case "trans":
				in.mod = m
			case "uni":
				in.uni = true
			case "sync", "aligned", "approx", "ftz", "async", "row", "col", "m16n8k8", "m16n8k16", "m8n8", "ca", "cg", "commit_group", "wait_group", "wait_all":
			case "lt", "le", "gt", "ge", "eq", "ne", "lo", "wide", "hi", "bfly", "idx", "up", "down",
				"all", "any", "ballot", "rn", "rz", "rm", "rp", "rna", "rni", "rzi", "rmi", "rpi", "add", "exch":
				if in.mod == "" || op == opAtom {
					in.mod = m
				} else {
					in.mod += "." + m
				}
			default:
				return nil, errf(s, "unsupported modifier %q", m)
			}
		}
		if len(types) > 0 {
			in.t = types[0]
		}
		if len(types) > 1 {
			in.t2 = types[1]
		}
		switch op {
		case opMma:
			switch s.opcode {
			case "mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32",
				"mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32",
				"mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32":
			default:
				return nil, errf(s, "unsupported mma form (m16n8k8 .tf32, m16n8k16 .bf16 and .f16, all .row.col with .f32 accumulators)")
			}
		case opLdmatrix:
			if !strings.HasPrefix(s.opcode, "ldmatrix.sync.aligned.m8n8.x") || in.sp != spShared || in.t != tB16 {
				return nil, errf(s, "only ldmatrix.sync.aligned.m8n8.{x1,x2,x4}[.trans].shared.b16 is supported")
			}
		case opCvt:
			if (in.t == tF16x2 || in.t == tBF16x2) && (in.t2 != tF32 || in.mod != "rn") || in.t2 == tF16x2 || in.t2 == tBF16x2 ||
				in.t.bits() == 16 || in.t2.bits() == 16 {
				return nil, errf(s, "the only conversions to 16-bit floats are cvt.rn.{f16x2,bf16x2}.f32")
			}
		case opLd, opSt:
			if in.t.bits() == 16 {
				return nil, errf(s, "16-bit loads and stores are not supported (move pairs as .b32)")
			}
		}
		for _, ro := range s.ops {
			o := operand{alt: -1, neg: ro.neg}
			switch ro.kind {
			case rawNum:
				o.kind, o.imm = oImm, uint64(ro.num)
			case rawVec:
				o.kind = oVec
				for _, name := range ro.vec {
					ri, ok := regIndex[name]
					if !ok {
						return nil, errf(s, "unknown register %q", name)
					}
					o.vec = append(o.vec, ri)
				}
			case rawMem:
				o.kind, o.off = oMem, ro.off
				if ri, ok := regIndex[ro.ident]; ok {
					o.memKind, o.reg = oReg, ri
				} else if so, ok := symOff[ro.ident]; ok {
					o.memKind, o.imm = oSym, uint64(so)
				} else if pi, ok := paramIndex[ro.ident]; ok {
					o.memKind, o.imm = oParam, uint64(pi)
				} else {
					return nil, errf(s, "unknown address base %q", ro.ident)
				}
			case rawIdent:
				if ri, ok := regIndex[ro.ident]; ok {
					o.kind, o.reg = oReg, ri
				} else if sp, ok := specialNames[ro.ident]; ok {
					o.kind, o.imm = oSpecial, uint64(sp)
				} else if so, ok := symOff[ro.ident]; ok {
					o.kind, o.imm = oSym, uint64(so)
				} else if pc, ok := r.labels[ro.ident]; ok {
					o.kind, o.imm = oLabel, uint64(pc)
				} else {
					return nil, errf(s, "unknown operand %q", ro.ident)
				}
				if ro.altDest != "" {
					ai, ok := regIndex[ro.altDest]
					if !ok || e.regType[ai] != tPred {
						return nil, errf(s, "bad predicate destination %q", ro.altDest)
					}
					o.alt = ai
				}
			}
			in.ops = append(in.ops, o)
		}
		if err := checkArity(&in); err != nil {
			return nil, errf(s, "%v", err)
		}
		e.code = append(e.code, in)
	}
	return e, nil
}

func checkArity(in *instr) error {
	want := map[opcode]int{
		opMov: 2, opAdd: 3, opSub: 3, opMul: 3, opMad: 4, opFma: 4, opDiv: 3, opRem: 3, opNeg: 2,
		opAbs: 2, opMin: 3, opMax: 3, opAnd: 3, opOr: 3, opXor: 3, opNot: 2, opShl: 3, opShr: 3,
		opSetp: 3, opSelp: 4, opEx2: 2, opLg2: 2, opSqrt: 2, opRcp: 2, opBrev: 2, opLd: 2, opSt: 2,
		opBra: 1, opExit: 0, opBar: 1, opShfl: 5, opMma: 4, opCpCommit: 0, opCpWait: 1, opCpWaitAll: 0,
	}
	if n, ok := want[in.op]; ok && len(in.ops) != n {
		return fmt.Errorf("has %d operands, want %d", len(in.ops), n)
	}
	switch in.op {
	case opAtom:
		if len(in.ops) != 3 && len(in.ops) != 2 {
			return fmt.Errorf("atom/red needs 2 or 3 operands")
		}
	case opVote:
		if len(in.ops) != 3 {
			return fmt.Errorf("vote needs 3 operands")
		}
	case opCvt:
		packs := in.t == tF16x2 || in.t == tBF16x2
		if packs && len(in.ops) != 3 || !packs && len(in.ops) != 2 {
			return fmt.Errorf("has %d operands, want %d", len(in.ops), map[bool]int{true: 3, false: 2}[packs])
		}
	case opLdmatrix:
		if len(in.ops) != 2 || in.ops[0].kind != oVec || len(in.ops[0].vec) != in.vec || in.ops[1].kind != oMem {
			return fmt.Errorf("ldmatrix .x%d needs {%d registers} and an address", in.vec, in.vec)
		}
	case opCpAsync:
		if len(in.ops) != 3 && len(in.ops) != 4 {
			return fmt.Errorf("cp.async needs 3 or 4 operands")
		}
	case opLd, opSt:
		if in.sp == spNone {
			return fmt.Errorf("generic addressing is not supported: name the state space")
		}
	case opBra:
		if in.ops[0].kind != oLabel {
			return fmt.Errorf("branch target is not a label")
		}
	}
	return nil
}
