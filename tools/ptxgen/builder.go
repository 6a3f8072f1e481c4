package main

import (
	"fmt"
	"math"
	"strings"
)

// RegClass is the PTX register file a virtual register lives in. Integer registers are
// declared .b32/.b64 so that one register can serve u32, s32 and b32 instructions.
type RegClass int

const (
	Pred RegClass = iota
	B32
	F32
	B64
	// F64 comes last so that adding it left the register numbering of the fp32 kernels alone.
	F64
	numClasses
)

var classPrefix = [numClasses]string{"%p", "%r", "%f", "%rd", "%fd"}
var classDecl = [numClasses]string{".pred", ".b32", ".f32", ".b64", ".f64"}

// Reg is a typed virtual register.
type Reg struct {
	class RegClass
	n     int
}

func (r Reg) String() string { return fmt.Sprintf("%s%d", classPrefix[r.class], r.n) }

// Imm is an integer immediate.
type Imm int64

// F is a float32 immediate, written as its exact bit pattern (0fXXXXXXXX).
type F float32

// D is a float64 immediate, written as its exact bit pattern (0dXXXXXXXXXXXXXXXX).
type D float64

// Sym names a shared-memory array; used as an operand it is the array's shared address.
type Sym string

// Addr is a memory operand [base+off].
type Addr struct {
	base any // Reg or Sym or param name (string)
	off  int
}

// Vec is a vector operand {a, b, ...}.
type Vec []Reg

// Label is a branch target.
type Label string

func operandText(o any) string {
	switch v := o.(type) {
	case Reg:
		return v.String()
	case Imm:
		return fmt.Sprint(int64(v))
	case int:
		return fmt.Sprint(v)
	case F:
		return fmt.Sprintf("0f%08X", math.Float32bits(float32(v)))
	case D:
		return fmt.Sprintf("0d%016X", math.Float64bits(float64(v)))
	case Sym:
		return string(v)
	case Label:
		return string(v)
	case string: // special registers such as %tid.x
		return v
	case Addr:
		var b string
		switch x := v.base.(type) {
		case Reg:
			b = x.String()
		case Sym:
			b = string(x)
		case string:
			b = x
		default:
			panic(fmt.Sprintf("ptxgen: bad address base %T", v.base))
		}
		if v.off != 0 {
			return fmt.Sprintf("[%s+%d]", b, v.off)
		}
		return "[" + b + "]"
	case Vec:
		s := make([]string, len(v))
		for i, r := range v {
			s[i] = r.String()
		}
		return "{" + strings.Join(s, ", ") + "}"
	}
	panic(fmt.Sprintf("ptxgen: unsupported operand %T", o))
}

type paramDecl struct {
	name, typ string
	// flag marks a .u32 that the kernel reads as a boolean; its Go launcher takes a bool.
	flag bool
}

// Kernel accumulates the text of one .entry. Builder misuse (a type mismatch between
// an instruction and its registers) is a bug in the generator itself, so it panics at
// generation time and never reaches a .ptx file.
type Kernel struct {
	Name   string
	doc    []string
	launch *LaunchSpec
	params []paramDecl
	counts [numClasses]int
	shared []string
	extern string // module-scope dynamic shared array this kernel uses
	body   []string
	labels int
}

// NewKernel starts a kernel; doc lines become the comment above .entry.
func NewKernel(name string, doc ...string) *Kernel { return &Kernel{Name: name, doc: doc} }

// Param declares a kernel parameter (typ is ".u64", ".u32", ".s32" or ".f32") and loads it
// into a fresh register.
func (k *Kernel) Param(name, typ string) Reg {
	k.params = append(k.params, paramDecl{name: name, typ: typ})
	r := k.Reg(classOf(typ))
	k.Op("ld.param"+typ, r, Addr{base: name})
	return r
}

// Flag declares a .u32 parameter the kernel tests against zero, and loads it: its Go
// launcher takes a bool, so a caller cannot pass a count where a switch belongs.
func (k *Kernel) Flag(name string) Reg {
	r := k.Param(name, ".u32")
	k.params[len(k.params)-1].flag = true
	return r
}

// Reg allocates a fresh virtual register.
func (k *Kernel) Reg(c RegClass) Reg {
	r := Reg{c, k.counts[c]}
	k.counts[c]++
	return r
}

// Shared declares a static shared array of n bytes aligned to align.
func (k *Kernel) Shared(name string, align, n int) Sym {
	k.shared = append(k.shared, fmt.Sprintf(".shared .align %d .b8 %s[%d];", align, name, n))
	return Sym(name)
}

// DynamicShared names the kernel's dynamic shared memory. PTX only allows .extern
// .shared at module scope, so Module.Text declares it there.
func (k *Kernel) DynamicShared(name string) Sym {
	k.extern = name
	return Sym(name)
}

// Comment adds a comment line to the body.
func (k *Kernel) Comment(format string, a ...any) {
	k.body = append(k.body, "\t// "+fmt.Sprintf(format, a...))
}

// NewLabel returns a fresh label name; Place puts it in the body.
func (k *Kernel) NewLabel(hint string) Label {
	k.labels++
	return Label(fmt.Sprintf("$L%d_%s", k.labels, hint))
}

// Place puts label l at the current position.
func (k *Kernel) Place(l Label) { k.body = append(k.body, string(l)+":") }

// Op emits one instruction.
func (k *Kernel) Op(opcode string, operands ...any) { k.emit("", opcode, operands) }

// OpIf emits an instruction guarded by predicate p (negated if neg).
func (k *Kernel) OpIf(p Reg, neg bool, opcode string, operands ...any) {
	if p.class != Pred {
		panic("ptxgen: guard must be a predicate")
	}
	g := "@" + p.String()
	if neg {
		g = "@!" + p.String()
	}
	k.emit(g+" ", opcode, operands)
}

func (k *Kernel) emit(guard, opcode string, operands []any) {
	s := make([]string, len(operands))
	for i, o := range operands {
		s[i] = operandText(o)
	}
	line := "\t" + guard + opcode
	if len(s) > 0 {
		line += " \t" + strings.Join(s, ", ")
	}
	k.body = append(k.body, line+";")
}

// classOf maps an instruction type suffix to the register class that holds it.
func classOf(typ string) RegClass {
	switch typ {
	case ".pred":
		return Pred
	case ".f32":
		return F32
	case ".f64":
		return F64
	case ".u32", ".s32", ".b32", ".tf32":
		return B32
	case ".u64", ".s64", ".b64":
		return B64
	}
	panic("ptxgen: unknown type " + typ)
}

func typeSuffix(opcode string) string {
	return opcode[strings.LastIndex(opcode, "."):]
}

func (k *Kernel) check(opcode string, c RegClass, operands ...any) {
	for _, o := range operands {
		if r, ok := o.(Reg); ok && r.class != c {
			panic(fmt.Sprintf("ptxgen: %s in %s: operand %s has the wrong register class", k.Name, opcode, r))
		}
	}
}

// Bin emits a two-source instruction whose operands all share the opcode's type and
// returns the destination.
func (k *Kernel) Bin(opcode string, a, b any) Reg {
	c := classOf(typeSuffix(opcode))
	k.check(opcode, c, a, b)
	d := k.Reg(c)
	k.Op(opcode, d, a, b)
	return d
}

// Tern is Bin for three-source instructions (fma, mad.lo).
func (k *Kernel) Tern(opcode string, a, b, c any) Reg {
	cl := classOf(typeSuffix(opcode))
	k.check(opcode, cl, a, b, c)
	d := k.Reg(cl)
	k.Op(opcode, d, a, b, c)
	return d
}

// Un emits a one-source instruction of the opcode's type.
func (k *Kernel) Un(opcode string, a any) Reg {
	c := classOf(typeSuffix(opcode))
	k.check(opcode, c, a)
	d := k.Reg(c)
	k.Op(opcode, d, a)
	return d
}

// Mov copies a value (register, immediate or special register) into a new register.
func (k *Kernel) Mov(typ string, a any) Reg { return k.Un("mov"+typ, a) }

// Setp compares a and b ("lt.u32" etc.) into a new predicate.
func (k *Kernel) Setp(cmp string, a, b any) Reg {
	k.check("setp."+cmp, classOf(typeSuffix("."+cmp)), a, b)
	p := k.Reg(Pred)
	k.Op("setp."+cmp, p, a, b)
	return p
}

// Selp returns p ? a : b.
func (k *Kernel) Selp(typ string, a, b any, p Reg) Reg {
	k.check("selp"+typ, classOf(typ), a, b)
	d := k.Reg(classOf(typ))
	k.Op("selp"+typ, d, a, b, p)
	return d
}

// Cvt converts a into a new register of the destination type named in opcode
// ("cvt.u64.u32", "cvt.rn.f32.s32", "cvt.rna.tf32.f32").
func (k *Kernel) Cvt(opcode string, a Reg) Reg {
	parts := strings.Split(opcode, ".")
	d := k.Reg(classOf("." + parts[len(parts)-2]))
	k.Op(opcode, d, a)
	return d
}

// Special reads a special register (%tid.x, ...) as u32.
func (k *Kernel) Special(name string) Reg { return k.Mov(".u32", name) }

// Ld loads one value of type typ from space ("global" or "shared").
func (k *Kernel) Ld(space, typ string, a Addr) Reg {
	d := k.Reg(classOf(typ))
	k.Op("ld."+space+typ, d, a)
	return d
}

// LdV loads a vector of n values.
func (k *Kernel) LdV(space, typ string, n int, a Addr) Vec {
	v := make(Vec, n)
	for i := range v {
		v[i] = k.Reg(classOf(typ))
	}
	k.Op(fmt.Sprintf("ld.%s.v%d%s", space, n, typ), v, a)
	return v
}

// St stores v.
func (k *Kernel) St(space, typ string, a Addr, v any) {
	if vv, ok := v.(Vec); ok {
		k.Op(fmt.Sprintf("st.%s.v%d%s", space, len(vv), typ), a, vv)
		return
	}
	k.Op("st."+space+typ, a, v)
}

// At builds the address operand [base+off].
func At(base any, off int) Addr { return Addr{base: base, off: off} }

// Text renders the kernel.
func (k *Kernel) Text() string {
	var b strings.Builder
	for _, d := range k.docLines() {
		b.WriteString("// " + d + "\n")
	}
	fmt.Fprintf(&b, ".visible .entry %s(\n", k.Name)
	for i, p := range k.params {
		sep := ","
		if i == len(k.params)-1 {
			sep = ""
		}
		fmt.Fprintf(&b, "\t.param %s %s%s\n", p.typ, p.name, sep)
	}
	b.WriteString(")\n{\n")
	for c := RegClass(0); c < numClasses; c++ {
		if k.counts[c] > 0 {
			fmt.Fprintf(&b, "\t.reg %s %s<%d>;\n", classDecl[c], classPrefix[c], k.counts[c])
		}
	}
	for _, s := range k.shared {
		b.WriteString("\t" + s + "\n")
	}
	b.WriteString("\n")
	for _, l := range k.body {
		b.WriteString(l + "\n")
	}
	b.WriteString("}\n")
	return b.String()
}

// Module is one generated .ptx file.
type Module struct {
	File    string
	Doc     []string
	Kernels []*Kernel
}

// Text renders the module with the fixed header every kernel file shares.
func (m *Module) Text() string {
	var b strings.Builder
	b.WriteString("// Code generated by tools/ptxgen; DO NOT EDIT.\n")
	for _, d := range m.Doc {
		b.WriteString("// " + d + "\n")
	}
	b.WriteString("\n.version 7.8\n.target sm_80\n.address_size 64\n")
	declared := map[string]bool{}
	for _, k := range m.Kernels {
		if k.extern != "" && !declared[k.extern] {
			declared[k.extern] = true
			fmt.Fprintf(&b, "\n// dynamic shared memory (size given at launch)\n.extern .shared .align 16 .b8 %s[];\n", k.extern)
		}
	}
	for _, k := range m.Kernels {
		b.WriteString("\n" + k.Text())
	}
	return b.String()
}
