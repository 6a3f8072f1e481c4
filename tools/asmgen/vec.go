package main

import "fmt"

// Vec is one way of holding float32 values in registers: a whole vector register (ymm
// for AVX2; zmm for AVX-512 is the same table with 64 bytes and 32 registers), a 128-bit
// xmm register, or one float in the low lane of an xmm register. A kernel written
// against Vec takes its strides, unrolled offsets and opcodes from it, so the vector
// loop and the scalar tail of a kernel are one piece of code.
type Vec struct {
	Name   string // the suffix of the kernels written for this file; empty for tail forms
	Bytes  int    // bytes per register (or per scalar)
	Regs   int    // registers in the file
	prefix string // register name prefix
	mov    string // unaligned load and store
	sfx    string // opcode suffix: PS packed, SS scalar
}

var (
	// Ymm is AVX2's file; its kernels are named with the suffix AVX2.
	Ymm = Vec{Name: "AVX2", Bytes: 32, Regs: 16, prefix: "Y", mov: "VMOVUPS", sfx: "PS"}
	// Zmm is AVX-512's file; its kernels are named with the suffix AVX512.
	Zmm = Vec{Name: "AVX512", Bytes: 64, Regs: 32, prefix: "Z", mov: "VMOVUPS", sfx: "PS"}
	// Xmm is the lower half of Ymm, for reductions and half-width tails.
	Xmm = Vec{Bytes: 16, Regs: 16, prefix: "X", mov: "VMOVUPS", sfx: "PS"}
	// Scalar is one float32 in the low lane of an xmm register, for tails.
	Scalar = Vec{Bytes: 4, Regs: 16, prefix: "X", mov: "VMOVSS", sfx: "SS"}
)

// Kernel names a kernel written for this file: Ymm.Kernel("dot") is dotAVX2.
func (v Vec) Kernel(stem string) string {
	if v.Name == "" {
		panic(fmt.Sprintf("no kernels are written for %d-byte %s registers", v.Bytes, v.prefix))
	}
	return stem + v.Name
}

// R is register i of the file.
func (v Vec) R(i int) string {
	if i < 0 || i >= v.Regs {
		panic(fmt.Sprintf("register %s%d out of range", v.prefix, i))
	}
	return fmt.Sprintf("%s%d", v.prefix, i)
}

// Rs is registers i, i+1, ..., i+n-1.
func (v Vec) Rs(i, n int) []string {
	rs := make([]string, n)
	for j := range rs {
		rs[j] = v.R(i + j)
	}
	return rs
}

// Lanes is the number of float32 values a register holds.
func (v Vec) Lanes() int { return v.Bytes / 4 }

// Op is a float32 arithmetic opcode in this file's form: Op("VADD") is VADDPS or VADDSS.
func (v Vec) Op(stem string) string { return stem + v.sfx }

// Load and Store move one register's worth between memory and a register.
func (a *File) Load(v Vec, mem, reg string)  { a.I(v.mov, mem, reg) }
func (a *File) Store(v Vec, reg, mem string) { a.I(v.mov, reg, mem) }

// Zero clears registers.
func (a *File) Zero(regs ...string) {
	for _, r := range regs {
		a.I("VXORPS", r, r, r)
	}
}

// Stream is the loop skeleton of the kernels that walk slices element by element: CX
// elements, first Unroll registers per trip, then one register, then one float. Body
// processes n registers (or n floats, given Scalar) at the current pointers; after each
// body every pointer in Ptrs moves past what it consumed, so a kernel with fewer inputs
// aliases a pointer register rather than special-casing the stride. Mid, if set, runs
// between the vector loops and the scalar tail (a reduction folds its registers there)
// and End before the return. L prefixes the labels, which are scoped to one TEXT.
type Stream struct {
	V      Vec
	Unroll int
	Ptrs   []string
	Body   func(v Vec, n int)
	Mid    func()
	End    func()
	L      string
}

func (s Stream) emit(a *File) {
	big, one := s.Unroll*s.V.Lanes(), s.V.Lanes()
	vectorLoop := func(lanes, n int, loop, next string) {
		a.Label(loop)
		s.Body(s.V, n)
		a.Advance(lanes*4, s.Ptrs...)
		a.I("SUBQ", Imm(lanes), "CX")
		a.I("CMPQ", "CX", Imm(lanes))
		a.I("JGE", loop)
		a.Label(next)
	}
	a.I("CMPQ", "CX", Imm(big))
	a.I("JLT", s.L+"vectors")
	vectorLoop(big, s.Unroll, s.L+"unrolled", s.L+"vectors")
	a.I("CMPQ", "CX", Imm(one))
	a.I("JLT", s.L+"scalars")
	vectorLoop(one, 1, s.L+"vector", s.L+"scalars")
	if s.Mid != nil {
		s.Mid()
	}
	a.I("TESTQ", "CX", "CX")
	a.I("JEQ", s.L+"done")
	a.Label(s.L + "scalar")
	s.Body(Scalar, 1)
	a.Advance(4, s.Ptrs...)
	a.I("DECQ", "CX")
	a.I("JNE", s.L+"scalar")
	a.Label(s.L + "done")
	if s.End != nil {
		s.End()
	}
	a.I("VZEROUPPER")
	a.I("RET")
}

// Reduce folds the lanes of register 0 of v into the low float of X0, clobbering
// register 1: a zmm register is first folded into its lower ymm half.
func (a *File) Reduce(v Vec) {
	if v.Bytes == 64 {
		a.I("VEXTRACTF32X8", "$1", "Z0", "Y1")
		a.I("VADDPS", "Y1", "Y0", "Y0")
	}
	a.ReduceYmm()
}

// ReduceYmm folds the eight lanes of Y0 into the low float of X0, clobbering X1.
func (a *File) ReduceYmm() {
	a.I("VEXTRACTF128", "$1", "Y0", "X1")
	a.I("VADDPS", "X1", "X0", "X0")
	a.I("VMOVHLPS", "X0", "X0", "X1")
	a.I("VADDPS", "X1", "X0", "X0")
	a.I("VPSHUFD", "$1", "X0", "X1")
	a.I("VADDSS", "X1", "X0", "X0")
}

// Transpose8x8 turns the rows in Y0..Y7 into columns in Y8..Y15 (Y8 holds element 0 of
// every row, and so on), clobbering Y0..Y7: interleave pairs of rows, then pairs of
// pairs, then swap 128-bit halves.
func (a *File) Transpose8x8() {
	y := Ymm.R
	for i := 0; i < 8; i += 2 {
		a.I("VUNPCKLPS", y(i+1), y(i), y(8+i))
		a.I("VUNPCKHPS", y(i+1), y(i), y(9+i))
	}
	for i := 0; i < 8; i += 4 {
		for j := 0; j < 2; j++ {
			a.I("VSHUFPS", Hex(0x44), y(10+i+j), y(8+i+j), y(i+2*j))
			a.I("VSHUFPS", Hex(0xEE), y(10+i+j), y(8+i+j), y(i+2*j+1))
		}
	}
	for h, ctl := range []int{0x20, 0x31} { // low halves, then high halves
		for i := 0; i < 4; i++ {
			a.I("VPERM2F128", Hex(ctl), y(4+i), y(i), y(8+4*h+i))
		}
	}
}
