package main

import "fmt"

// corr writes tensor/internal/simd/corr_amd64.s. Both kernels walk blocks of 4 rows ×
// two registers of channels (16 for ymm, 32 for zmm), the block's 8 sums in registers
// 0–7 (row r in 2r, 2r+1): R12 counts rows (or shifts) four at a time, R13 the block's
// channel byte offset up to R14, R10 is the row stride in bytes and R15 three times it.
func corr() *File {
	a := NewFile("corr_amd64.s")
	for _, v := range []Vec{Ymm, Zmm} {
		corrRows(a, v)
		corrSumRows(a, v)
	}
	return a
}

// corrBlocks is the block walk. bound is the row count R12 stops at; setup points AX at
// the block's first input row and BX at its first weights; count (≥ 1) is the number of
// taps each sum takes; store adds the sums to the output.
func corrBlocks(fn *Func, v Vec, l, bound string, setup func(), count string, store func()) {
	y := v.R
	fn.Note("first row of the block", "XORQ", "R12", "R12")
	fn.Label(l + "rows")
	fn.I("CMPQ", "R12", bound)
	fn.I("JGE", l+"done")
	fn.Note("channel byte offset of the block", "XORQ", "R13", "R13")
	fn.Label(l + "cols")
	fn.I("CMPQ", "R13", "R14")
	fn.I("JGE", l+"next")
	setup()
	fn.Zero(v.Rs(0, 8)...)
	fn.I("MOVQ", count, "CX")
	// Each step takes two registers of weights from BX into registers 8 and 9 and moves AX
	// and BX down one row.
	fn.Label(l + "step")
	fn.Load(v, "(BX)", y(8))
	fn.Load(v, Mem(v.Bytes, "BX"), y(9))
	for r := 0; r < 4; r++ {
		for h := 0; h < 2; h++ {
			fn.I("VFMADD231PS", Row(v.Bytes*h, "AX", "R10", "R15", r), y(8+h), y(2*r+h))
		}
	}
	fn.I("ADDQ", "R10", "AX")
	fn.I("ADDQ", "R10", "BX")
	fn.Repeat("CX", l+"step")
	fn.Blank()
	store()
	fn.I("ADDQ", Imm(2*v.Bytes), "R13")
	fn.I("JMP", l+"cols")
	fn.Label(l + "next")
	fn.I("ADDQ", "$4", "R12")
	fn.I("JMP", l+"rows")
	fn.Exit(l + "done")
}

// addStore adds accumulator acc to the register's worth of floats at mem.
func addStore(fn *Func, v Vec, acc, mem string) {
	fn.I("VADDPS", mem, acc, acc)
	fn.Store(v, acc, mem)
}

func corrRows(a *File, v Vec) {
	name := v.Kernel("corrRows")
	fn := a.Fn("func "+name+"(y, u, k []float32, rows, h, cols, taps int)",
		fmt.Sprintf(`%s computes CorrRows for rows [0, rows) and channels [0, cols), rows a
multiple of 4 and cols of %d, reading the slices through their base pointers; the
caller has checked their lengths.`, name, 2*v.Lanes()))
	fn.Args("y_base", "DI", "u_base", "SI", "k_base", "DX", "rows", "R9", "h", "R10", "cols", "R14", "taps", "R11")
	fn.Note("row stride in bytes", "SHLQ", "$2", "R10")
	fn.Note("channel bytes done by the assembly", "SHLQ", "$2", "R14")
	fn.Note("three row strides", "LEAQ", "(R10)(R10*2)", "R15")
	corrBlocks(fn, v, "corr_", "R9", func() {
		fn.Comment("AX: u at row R12, channel R13; BX: k at tap 0, channel R13; R8: y likewise.")
		fn.I("MOVQ", "R12", "AX")
		fn.I("IMULQ", "R10", "AX")
		fn.I("LEAQ", "(DI)(AX*1)", "R8")
		fn.I("ADDQ", "R13", "R8")
		fn.I("ADDQ", "SI", "AX")
		fn.I("ADDQ", "R13", "AX")
		fn.I("LEAQ", "(DX)(R13*1)", "BX")
	}, "R11", func() {
		for r := 0; r < 4; r++ {
			for h := 0; h < 2; h++ {
				addStore(fn, v, v.R(2*r+h), Row(v.Bytes*h, "R8", "R10", "R15", r))
			}
		}
	})
}

func corrSumRows(a *File, v Vec) {
	name := v.Kernel("corrSumRows")
	fn := a.Fn("func "+name+"(dst, a, b []float32, n, stride, width, cols, taps int)",
		fmt.Sprintf(`%s computes CorrSumRows for shifts [0, taps) and channels [0, cols), taps
a multiple of 4 and cols of %d, with the lengths checked by the caller.`, name, 2*v.Lanes()))
	fn.Args("dst_base", "DI", "a_base", "SI", "b_base", "DX", "n", "R9", "stride", "R10", "width", "R11", "cols", "R14")
	fn.Note("row stride of a and b in bytes", "SHLQ", "$2", "R10")
	fn.Note("row stride of dst in bytes", "SHLQ", "$2", "R11")
	fn.Note("channel bytes done by the assembly", "SHLQ", "$2", "R14")
	fn.Note("three row strides", "LEAQ", "(R10)(R10*2)", "R15")
	corrBlocks(fn, v, "sum_", fn.Arg("taps"), func() {
		fn.Comment("AX: b at row R12, channel R13; BX: a at row 0, channel R13.")
		fn.I("MOVQ", "R12", "AX")
		fn.I("IMULQ", "R10", "AX")
		fn.I("ADDQ", "DX", "AX")
		fn.I("ADDQ", "R13", "AX")
		fn.I("LEAQ", "(SI)(R13*1)", "BX")
	}, "R9", func() {
		fn.Comment("R8: dst at shift R12, channel R13; shifts are R11 bytes apart.")
		fn.I("MOVQ", "R12", "R8")
		fn.I("IMULQ", "R11", "R8")
		fn.I("ADDQ", "DI", "R8")
		fn.I("ADDQ", "R13", "R8")
		for r := 0; r < 4; r++ {
			if r > 0 {
				fn.I("ADDQ", "R11", "R8")
			}
			addStore(fn, v, v.R(2*r), "(R8)")
			addStore(fn, v, v.R(2*r+1), Mem(v.Bytes, "R8"))
		}
	})
}
