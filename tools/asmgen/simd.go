package main

import "fmt"

// simdKernels writes tensor/internal/simd/kernels_amd64.s: the vector primitives and the
// matrix-multiply kernels.
func simdKernels() *File {
	a := NewFile("kernels_amd64.s")
	a.Doc(`AVX2+FMA kernels. Their Go declarations are in asm_amd64.go, the wrappers that check
their bounds in dispatch_amd64.go, and the gemm kernels' contracts in sgemm.go. Loops
take 32 floats (four ymm registers) per trip so that loads, arithmetic and stores of
independent registers overlap, then 8 at a time, then one at a time for the last 0-7
elements; no load or store ever reaches past the end of a slice.`)
	v := Ymm
	dot(a, v)
	sum(a, v)
	for _, op := range []string{"add", "sub", "mul"} {
		binary(a, v, op)
	}
	mulAdd(a, v)
	axpy(a, v)
	scale(a, v)
	sgemmKernel(a, Ymm, mr, nr, `sgemmKernelAVX2 is the 6×16 register-blocked micro-kernel; see microKernel for the
contract. Y4..Y15 hold the 6×16 tile of sums (row r in Y(4+2r), Y(5+2r)); Y0, Y1 hold the 16
values of packed B for one p, and Y2, Y3 broadcast two values of packed A. Each p costs
2 loads, 6 broadcasts and 12 FMAs, so the FMA ports, not the loads, set the pace.`)
	packBRows(a, Ymm, nr)
	packBCols(a, "packB16ColsAVX2", nr)
	packA6Rows(a)
	a.Data(`Lanes 0..7 all ones, then 8 zero lanes: loading 8 lanes from float index 8-r gives a
mask of the first r lanes.`, "dotsMask", append(repeat(0xffffffff, 8), repeat(0, 8)...))
	dots4x3(a)
	gemvN(a)
	gemvT(a)
	return a
}

func repeat(w uint32, n int) []uint32 {
	ws := make([]uint32, n)
	for i := range ws {
		ws[i] = w
	}
	return ws
}

// sumTree adds registers 1..n-1 of v into register 0 pairwise, n a power of two.
func sumTree(a *File, v Vec, n int) {
	for step := 1; step < n; step *= 2 {
		for i := 0; i < n; i += 2 * step {
			a.I(v.Op("VADD"), v.R(i+step), v.R(i), v.R(i))
		}
	}
}

// The streaming kernels hold up to four partial results in registers 0-3, and take
// registers 4-7 for loaded operands, so an unrolled trip's four chains are independent.
const unroll = 4

func dot(a *File, v Vec) {
	fn := a.Fn("func "+v.Kernel("dot")+"(x, y []float32) float32", "")
	fn.Args("x_base", "SI", "x_len", "CX", "y_base", "DI")
	fn.Zero(v.Rs(0, unroll)...)
	Stream{V: v, Unroll: unroll, Ptrs: []string{"SI", "DI"}, L: "dot_",
		Body: func(f Vec, n int) {
			tmp := unroll
			if f == Scalar {
				tmp = 1 // the reduction has left only X0 live
			}
			for i := 0; i < n; i++ {
				fn.Load(f, Mem(i*f.Bytes, "SI"), f.R(tmp+i))
			}
			for i := 0; i < n; i++ {
				fn.I(f.Op("VFMADD231"), Mem(i*f.Bytes, "DI"), f.R(tmp+i), f.R(i))
			}
		},
		Mid: func() { sumTree(fn.File, v, unroll); fn.Reduce(v) },
		End: func() { fn.I("VMOVSS", "X0", fn.Arg("ret")) },
	}.emit(fn.File)
}

func sum(a *File, v Vec) {
	fn := a.Fn("func "+v.Kernel("sum")+"(x []float32) float32", "")
	fn.Args("x_base", "SI", "x_len", "CX")
	fn.Zero(v.Rs(0, unroll)...)
	Stream{V: v, Unroll: unroll, Ptrs: []string{"SI"}, L: "sum_",
		Body: func(f Vec, n int) {
			for i := 0; i < n; i++ {
				fn.I(f.Op("VADD"), Mem(i*f.Bytes, "SI"), f.R(i), f.R(i))
			}
		},
		Mid: func() { sumTree(fn.File, v, unroll); fn.Reduce(v) },
		End: func() { fn.I("VMOVSS", "X0", fn.Arg("ret")) },
	}.emit(fn.File)
}

// elementwise runs body over CX elements with SI and DI read and DX written: every
// pointer advances after each step, so a kernel with one input aliases DI to another.
func elementwise(fn *Func, v Vec, body func(f Vec, n int)) {
	Stream{V: v, Unroll: unroll, Ptrs: []string{"SI", "DI", "DX"}, Body: body}.emit(fn.File)
}

// storeAll writes registers 0..n-1 to DX.
func storeAll(fn *Func, f Vec, n int) {
	for i := 0; i < n; i++ {
		fn.Store(f, f.R(i), Mem(i*f.Bytes, "DX"))
	}
}

func threeSlices(fn *Func) {
	fn.Args("dst_base", "DX", "dst_len", "CX", "a_base", "SI", "b_base", "DI")
}

// binary computes (DX) = (SI) op (DI).
func binary(a *File, v Vec, op string) {
	fn := a.Fn("func "+v.Kernel(op)+"(dst, a, b []float32)", "")
	threeSlices(fn)
	stem := map[string]string{"add": "VADD", "sub": "VSUB", "mul": "VMUL"}[op]
	elementwise(fn, v, func(f Vec, n int) {
		for i := 0; i < n; i++ {
			fn.Load(f, Mem(i*f.Bytes, "SI"), f.R(i))
		}
		for i := 0; i < n; i++ {
			fn.I(f.Op(stem), Mem(i*f.Bytes, "DI"), f.R(i), f.R(i))
		}
		storeAll(fn, f, n)
	})
}

// mulAdd computes (DX) += (SI) * (DI); the dst and a loads are interleaved so the FMAs
// can issue as soon as their operands arrive.
func mulAdd(a *File, v Vec) {
	fn := a.Fn("func "+v.Kernel("mulAdd")+"(dst, a, b []float32)", "")
	threeSlices(fn)
	elementwise(fn, v, func(f Vec, n int) {
		for i := 0; i < n; i++ {
			fn.Load(f, Mem(i*f.Bytes, "DX"), f.R(i))
			fn.Load(f, Mem(i*f.Bytes, "SI"), f.R(unroll+i))
		}
		for i := 0; i < n; i++ {
			fn.I(f.Op("VFMADD231"), Mem(i*f.Bytes, "DI"), f.R(unroll+i), f.R(i))
		}
		storeAll(fn, f, n)
	})
}

// axpy computes (DX) += alpha * (SI), alpha broadcast into register 15.
func axpy(a *File, v Vec) {
	fn := a.Fn("func "+v.Kernel("axpy")+"(alpha float32, x, y []float32)", "")
	fn.I("VBROADCASTSS", fn.Arg("alpha"), v.R(15))
	fn.Args("x_base", "SI", "x_len", "CX", "y_base", "DX")
	fn.I("MOVQ", "DX", "DI")
	elementwise(fn, v, func(f Vec, n int) {
		for i := 0; i < n; i++ {
			fn.Load(f, Mem(i*f.Bytes, "DX"), f.R(i))
		}
		for i := 0; i < n; i++ {
			fn.I(f.Op("VFMADD231"), Mem(i*f.Bytes, "SI"), f.R(15), f.R(i))
		}
		storeAll(fn, f, n)
	})
}

// scale computes (DX) = alpha * (SI), alpha broadcast into register 15.
func scale(a *File, v Vec) {
	fn := a.Fn("func "+v.Kernel("scale")+"(dst []float32, alpha float32, x []float32)", "")
	fn.Args("dst_base", "DX", "dst_len", "CX")
	fn.I("VBROADCASTSS", fn.Arg("alpha"), v.R(15))
	fn.Args("x_base", "SI")
	fn.I("MOVQ", "SI", "DI")
	elementwise(fn, v, func(f Vec, n int) {
		for i := 0; i < n; i++ {
			fn.I(f.Op("VMUL"), Mem(i*f.Bytes, "SI"), f.R(15), f.R(i))
		}
		storeAll(fn, f, n)
	})
}

// The AVX2 sgemm micro-kernel's tile: mr rows of C by nr columns, two ymm registers a
// row. The AVX-512 tile is 12×32 (see simdKernels512).
const (
	mr = 6
	nr = 16
)

// sgemmKernel writes the mr×nr register-blocked micro-kernel for file v: nr/lanes
// registers of packed B from register 0, then as many broadcast registers as the file has
// left over, then the mr rows of sums, nr/lanes registers a row. Broadcasts go a group
// (one per broadcast register) at a time, followed by the group's FMAs, so the loads of
// one group overlap the arithmetic of the last.
func sgemmKernel(a *File, v Vec, mr, nr int, doc string) {
	nb := nr / v.Lanes()
	nbc := v.Regs - nb - mr*nb
	if nbc < 1 || mr%nbc != 0 {
		panic(fmt.Sprintf("a %d×%d tile does not fit %d registers of %d bytes", mr, nr, v.Regs, v.Bytes))
	}
	acc := func(r, j int) string { return v.R(nb + nbc + nb*r + j) }
	fn := a.Fn("func "+v.Kernel("sgemmKernel")+"(k int, a, b, c []float32, ldc int, alpha, beta float32)", doc)
	fn.Args("k", "CX", "a_base", "SI", "b_base", "DI", "c_base", "DX", "ldc", "R8")
	fn.I("SHLQ", "$2", "R8")
	fn.Blank()
	fn.Comment("Fetch the C tile early so its cache misses overlap the k loop.")
	fn.I("MOVQ", "DX", "R9")
	for r := 0; r < mr; r++ {
		if r > 0 {
			fn.I("ADDQ", "R8", "R9")
		}
		// Every line of the row, and its last float: the row may span one more line.
		for off := 0; off < 4*nr-4; off += 64 {
			fn.I("PREFETCHT0", Mem(off, "R9"))
		}
		fn.I("PREFETCHT0", Mem(4*nr-4, "R9"))
	}
	fn.Zero(v.Rs(nb+nbc, mr*nb)...)
	fn.Blank()
	// step is one p: packed B's nr floats at boff(DI) go to the B registers, packed A's mr
	// at aoff(SI) are broadcast a group at a time, and the mr×nr products are added to the
	// sums.
	step := func(boff, aoff int) {
		for j := 0; j < nb; j++ {
			fn.Load(v, Mem(boff+j*v.Bytes, "DI"), v.R(j))
		}
		for r := 0; r < mr; r += nbc {
			for i := 0; i < nbc; i++ {
				fn.I("VBROADCASTSS", Mem(aoff+4*(r+i), "SI"), v.R(nb+i))
			}
			for i := 0; i < nbc*nb; i++ {
				fn.I("VFMADD231PS", v.R(i%nb), v.R(nb+i/nb), acc(r+i/nb, i%nb))
			}
		}
	}
	const kUnroll = 4
	fn.I("MOVQ", "CX", "R10")
	fn.I("SHRQ", "$2", "R10")
	fn.I("JEQ", "kern_tail")
	fn.Label("kern_loop4")
	for s := 0; s < kUnroll; s++ {
		step(s*4*nr, s*4*mr)
	}
	fn.I("ADDQ", Imm(kUnroll*4*mr), "SI")
	fn.I("ADDQ", Imm(kUnroll*4*nr), "DI")
	fn.Repeat("R10", "kern_loop4")
	fn.Label("kern_tail")
	fn.I("ANDQ", Imm(kUnroll-1), "CX")
	fn.I("JEQ", "kern_store")
	fn.Label("kern_loop1")
	step(0, 0)
	fn.I("ADDQ", Imm(4*mr), "SI")
	fn.I("ADDQ", Imm(4*nr), "DI")
	fn.Repeat("CX", "kern_loop1")
	fn.Label("kern_store")
	fn.I("VBROADCASTSS", fn.Arg("alpha"), v.R(0))
	for r := 0; r < mr; r++ {
		for j := 0; j < nb; j++ {
			fn.I("VMULPS", v.R(0), acc(r, j), acc(r, j))
		}
	}
	fn.Blank()
	fn.Comment("beta == 0 (either sign) must not read C, which may hold NaN or garbage.")
	fn.I("MOVL", fn.Arg("beta"), "AX")
	fn.I("SHLL", "$1", "AX")
	fn.I("JEQ", "kern_overwrite")
	fn.I("VBROADCASTSS", fn.Arg("beta"), v.R(1))
	for _, withBeta := range []bool{true, false} {
		if !withBeta {
			fn.Label("kern_overwrite")
		}
		for r := 0; r < mr; r++ {
			if r > 0 {
				fn.I("ADDQ", "R8", "DX")
			}
			if withBeta {
				for j := 0; j < nb; j++ {
					fn.I("VFMADD231PS", Mem(j*v.Bytes, "DX"), v.R(1), acc(r, j))
				}
			}
			for j := 0; j < nb; j++ {
				fn.Store(v, acc(r, j), Mem(j*v.Bytes, "DX"))
			}
		}
		fn.Ret()
	}
}

// packBRows writes the copy of nr columns of kb stored rows of B, in registers of v.
func packBRows(a *File, v Vec, nr int) {
	name := fmt.Sprintf("packB%dRows%s", nr, v.Name)
	fn := a.Fn(fmt.Sprintf("func %s(dst, src []float32, kb, ldb int)", name),
		fmt.Sprintf("%s sets dst[p·%d+j] = src[p·ldb+j] for p < kb, j < %d.", name, nr, nr))
	fn.Args("dst_base", "DI", "src_base", "SI", "kb", "CX", "ldb", "R8")
	fn.I("SHLQ", "$2", "R8")
	fn.I("TESTQ", "CX", "CX")
	fn.I("JEQ", "pbr_done")
	fn.Label("pbr_loop")
	nb := nr / v.Lanes()
	for j := 0; j < nb; j++ {
		fn.Load(v, Mem(j*v.Bytes, "SI"), v.R(j))
	}
	for j := 0; j < nb; j++ {
		fn.Store(v, v.R(j), Mem(j*v.Bytes, "DI"))
	}
	fn.I("ADDQ", "R8", "SI")
	fn.I("ADDQ", Imm(4*nr), "DI")
	fn.Repeat("CX", "pbr_loop")
	fn.Exit("pbr_done")
}

// packPrologue loads dst, src, the count of whole 8×8 transposes (CX) and the source
// row stride in bytes (R8) and three strides (R9) of the transposing packs.
func packPrologue(fn *Func, ld, done string) {
	fn.Args("dst_base", "DI", "src_base", "SI", "kb", "CX")
	fn.I("MOVQ", fn.Arg(ld), "R8")
	fn.I("SHLQ", "$2", "R8")
	fn.I("SHRQ", "$3", "CX")
	fn.I("JEQ", done)
	fn.Note("3 rows", "LEAQ", "(R8)(R8*2)", "R9")
}

// loadRows loads n source rows from AX, R8 bytes apart, into Y0.., moving AX on by four
// rows after each four, except after the last when more is false.
func loadRows(fn *Func, n int, more bool) {
	for i := 0; i < n; i++ {
		fn.Load(Ymm, Row(0, "AX", "R8", "R9", i%4), Ymm.R(i))
		if i%4 == 3 && (more || i+1 < n) {
			fn.I("LEAQ", "(AX)(R8*4)", "AX")
		}
	}
}

// packBCols writes the transposing pack of nr stored rows of B into the columns of a
// sliver: nr/8 8×8 transposes of ymm registers per 8 values of p.
func packBCols(a *File, name string, nr int) {
	fn := a.Fn(fmt.Sprintf("func %s(dst, src []float32, kb, ldb int)", name),
		fmt.Sprintf(`%s sets dst[p·%d+j] = src[j·ldb+p] for p < kb&^7, j < %d: %s 8×8
transposes per 8 values of p.`, name, nr, nr, map[int]string{2: "two", 4: "four"}[nr/8]))
	packPrologue(fn, "ldb", "pbc_done")
	fn.Label("pbc_loop")
	fn.Comment("Rows 0-7 of the sliver's columns: src rows j = 0..7; rows j = 8..15 fill the next 8 columns.")
	fn.I("MOVQ", "SI", "AX")
	for part := 0; part < nr/8; part++ {
		loadRows(fn, 8, part+1 < nr/8)
		fn.Transpose8x8()
		for i := 0; i < 8; i++ {
			fn.Store(Ymm, Ymm.R(8+i), Mem(i*4*nr+32*part, "DI"))
		}
		fn.Blank()
	}
	fn.I("ADDQ", "$32", "SI")
	fn.I("ADDQ", Imm(8*4*nr), "DI")
	fn.Repeat("CX", "pbc_loop")
	fn.Exit("pbc_done")
}

func packA6Rows(a *File) {
	fn := a.Fn("func packA6RowsAVX2(dst, src []float32, kb, lda int)",
		`packA6RowsAVX2 sets dst[p·6+r] = src[r·lda+p] for p < kb&^7, r < 6. Each 8×8 transpose
takes row 5 twice more as rows 6 and 7 and stores 8 values per p; the two extra values
land where the next p's values go and are overwritten by them, so dst needs 2 floats of
room past 6·(kb&^7).`)
	packPrologue(fn, "lda", "pa_done")
	fn.Label("pa_loop")
	fn.I("MOVQ", "SI", "AX")
	loadRows(fn, mr, false)
	fn.I("VMOVAPS", "Y5", "Y6")
	fn.I("VMOVAPS", "Y5", "Y7")
	fn.Transpose8x8()
	for i := 0; i < 8; i++ {
		fn.Store(Ymm, Ymm.R(8+i), Mem(i*4*mr, "DI"))
	}
	fn.I("ADDQ", "$32", "SI")
	fn.I("ADDQ", Imm(8*4*mr), "DI")
	fn.Repeat("CX", "pa_loop")
	fn.Exit("pa_done")
}

// packA12Rows interleaves 12 rows: rows 0-7 through one 8×8 transpose that stores 8
// values per p, then rows 8-11, with row 11 repeated as rows 12-15, through a second
// whose stores keep only the low 4 values, so nothing lands past a p's 12 values.
func packA12Rows(a *File) {
	const rows = 12
	fn := a.Fn("func packA12RowsAVX512(dst, src []float32, kb, lda int)",
		`packA12RowsAVX512 sets dst[p·12+r] = src[r·lda+p] for p < kb&^7, r < 12, with two
8×8 transposes of ymm registers per 8 values of p; it writes nothing past 12·(kb&^7).`)
	packPrologue(fn, "lda", "pa_done")
	fn.Label("pa_loop")
	fn.I("MOVQ", "SI", "AX")
	loadRows(fn, 8, true)
	fn.Transpose8x8()
	for i := 0; i < 8; i++ {
		fn.Store(Ymm, Ymm.R(8+i), Mem(i*4*rows, "DI"))
	}
	fn.Blank()
	loadRows(fn, 4, false)
	for i := 4; i < 8; i++ {
		fn.I("VMOVAPS", "Y3", Ymm.R(i))
	}
	fn.Transpose8x8()
	for i := 0; i < 8; i++ {
		fn.Store(Xmm, Xmm.R(8+i), Mem(i*4*rows+32, "DI"))
	}
	fn.I("ADDQ", "$32", "SI")
	fn.I("ADDQ", Imm(8*4*rows), "DI")
	fn.Repeat("CX", "pa_loop")
	fn.Exit("pa_done")
}

// maskIndex points AX at dotsMask and sets BX = 8 − CX: the mask of the first CX lanes
// (CX < 8) is the 8 words at (AX)(BX*4).
func maskIndex(fn *Func) {
	fn.I("LEAQ", "dotsMask<>(SB)", "AX")
	fn.I("MOVQ", "$8", "BX")
	fn.I("SUBQ", "CX", "BX")
}

func dots4x3(a *File) {
	y := Ymm.R
	fn := a.Fn("func dots4x3AVX2(k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, alpha, beta float32)",
		`dots4x3AVX2 sets C[i][j] = alpha·Σₚ a[i·lda+p]·b[j·ldb+p] + beta·C[i][j] for i < 4,
j < 3. Y0..Y11 hold the 12 sums (row i in Y(3i)..Y(3i+2)); Y12..Y14 hold 8 values of the three rows of B
and Y15 the same 8 of one row of A, so each 8 values of p cost 7 loads and 12 FMAs.
The last k mod 8 values are read with masked loads, which never touch memory past the
rows.`)
	fn.Args("k", "CX", "a_base", "SI", "lda", "R8")
	fn.I("SHLQ", "$2", "R8")
	fn.I("LEAQ", "(R8)(R8*2)", "R9")
	fn.Args("b_base", "DI", "ldb", "R10")
	fn.I("SHLQ", "$2", "R10")
	fn.Args("c_base", "DX", "ldc", "R11")
	fn.I("SHLQ", "$2", "R11")
	fn.Zero(Ymm.Rs(0, 12)...)
	fn.I("MOVQ", "CX", "BX")
	fn.I("SHRQ", "$3", "BX")
	fn.I("JEQ", "dots_tail")
	// block multiplies 8 values of p, all of them or those that the mask at (AX) selects.
	block := func(masked bool) {
		if masked {
			fn.Load(Ymm, "(AX)", y(15))
		}
		for j := 0; j < 3; j++ {
			if masked {
				fn.I("VMASKMOVPS", Row(0, "DI", "R10", "", j), y(15), y(12+j))
			} else {
				fn.Load(Ymm, Row(0, "DI", "R10", "", j), y(12+j))
			}
		}
		for i := 0; i < 4; i++ {
			if masked {
				fn.Load(Ymm, "(AX)", y(15))
				fn.I("VMASKMOVPS", Row(0, "SI", "R8", "R9", i), y(15), y(15))
			} else {
				fn.Load(Ymm, Row(0, "SI", "R8", "R9", i), y(15))
			}
			for j := 0; j < 3; j++ {
				fn.I("VFMADD231PS", y(12+j), y(15), y(3*i+j))
			}
		}
	}
	fn.Label("dots_loop")
	block(false)
	fn.Advance(32, "SI", "DI")
	fn.Repeat("BX", "dots_loop")
	fn.Label("dots_tail")
	fn.I("ANDQ", "$7", "CX")
	fn.I("JEQ", "dots_reduce")
	maskIndex(fn)
	fn.I("LEAQ", "(AX)(BX*4)", "AX")
	block(true)
	fn.Label("dots_reduce")
	fn.Comment("Fold each row's three sums into the low three lanes of X13.")
	for i := 0; i < 12; i++ {
		fn.I("VEXTRACTF128", "$1", y(i), "X13")
		fn.I("VADDPS", "X13", Xmm.R(i), Xmm.R(i))
	}
	fn.I("VBROADCASTSS", fn.Arg("alpha"), "X12")
	fn.I("MOVL", fn.Arg("beta"), "AX")
	fn.I("SHLL", "$1", "AX")
	fn.I("JEQ", "dots_overwrite")
	fn.I("VBROADCASTSS", fn.Arg("beta"), "X15")
	for _, withBeta := range []bool{true, false} {
		if !withBeta {
			fn.Label("dots_overwrite")
		}
		for i := 0; i < 4; i++ {
			if i > 0 {
				fn.I("ADDQ", "R11", "DX")
			}
			// X13 = alpha times the three row sums, the low three lanes.
			x := Xmm.Rs(3*i, 3)
			fn.I("VHADDPS", x[1], x[0], "X13")
			fn.I("VHADDPS", x[2], x[2], "X14")
			fn.I("VHADDPS", "X14", "X13", "X13")
			fn.I("VMULPS", "X12", "X13", "X13")
			if withBeta {
				fn.I("VMOVSD", "(DX)", "X14")
				fn.I("VINSERTPS", Hex(0x20), "8(DX)", "X14", "X14")
				fn.I("VFMADD231PS", "X14", "X15", "X13")
			}
			fn.I("VMOVSD", "X13", "(DX)")
			fn.I("VEXTRACTPS", "$2", "X13", "8(DX)")
		}
		fn.Ret()
	}
}

// gemvNRows walks the k (R9) rows of a from DI with x from SI: for each row it
// broadcasts x[p] into Y8 and runs add, which adds x[p] times the row's columns at R10
// to the sums. R10..R12 are the walk's cursors; it ends at label done.
func gemvNRows(fn *Func, add func(), loop, done string) {
	fn.I("MOVQ", "DI", "R10")
	fn.I("MOVQ", "SI", "R11")
	fn.I("MOVQ", "R9", "R12")
	fn.I("TESTQ", "R12", "R12")
	fn.I("JEQ", done)
	fn.Label(loop)
	fn.I("VBROADCASTSS", "(R11)", "Y8")
	add()
	fn.I("ADDQ", "$4", "R11")
	fn.I("ADDQ", "R8", "R10")
	fn.Repeat("R12", loop)
}

func gemvN(a *File) {
	v := Ymm
	fn := a.Fn("func gemvNAVX2(k int, x []float32, a []float32, lda int, y []float32)",
		`gemvNAVX2 computes y[j] += Σₚ x[p]·a[p·lda+j] for j < len(y), p < k: it adds k scaled
rows. Columns go 64 at a time with the sums in Y0..Y7 for the whole walk down the rows, so y is read and written
once and every element of a is loaded once; then 8 at a time, then a masked remainder.
Each column adds its terms in row order with one rounding each (FMA), whichever loop
computes it.`)
	fn.Args("k", "R9", "x_base", "SI", "a_base", "DI", "lda", "R8")
	fn.I("SHLQ", "$2", "R8")
	fn.Args("y_base", "DX", "y_len", "CX")
	blocks := []int{8, 1} // registers of sums: 64 columns, then 8
	for bi, n := range blocks {
		l := fmt.Sprintf("gemvn_%d", n*v.Lanes())
		next := "gemvn_tail"
		if bi+1 < len(blocks) {
			next = fmt.Sprintf("gemvn_%d", blocks[bi+1]*v.Lanes())
		}
		fn.Label(l)
		fn.I("CMPQ", "CX", Imm(n*v.Lanes()))
		fn.I("JLT", next)
		for i := 0; i < n; i++ {
			fn.Load(v, Mem(i*v.Bytes, "DX"), v.R(i))
		}
		gemvNRows(fn, func() {
			for i := 0; i < n; i++ {
				fn.I("VFMADD231PS", Mem(i*v.Bytes, "R10"), "Y8", v.R(i))
			}
		}, l+"loop", l+"store")
		fn.Label(l + "store")
		for i := 0; i < n; i++ {
			fn.Store(v, v.R(i), Mem(i*v.Bytes, "DX"))
		}
		fn.Advance(n*v.Bytes, "DI", "DX")
		fn.I("SUBQ", Imm(n*v.Lanes()), "CX")
		fn.I("JMP", l)
	}
	fn.Label("gemvn_tail")
	fn.I("TESTQ", "CX", "CX")
	fn.I("JEQ", "gemvn_done")
	maskIndex(fn)
	fn.Load(v, "(AX)(BX*4)", "Y9")
	fn.I("VMASKMOVPS", "(DX)", "Y9", "Y0")
	// Only the columns that the mask in Y9 selects are read.
	gemvNRows(fn, func() {
		fn.I("VMASKMOVPS", "(R10)", "Y9", "Y10")
		fn.I("VFMADD231PS", "Y10", "Y8", "Y0")
	}, "gemvn_tailloop", "gemvn_tailstore")
	fn.Label("gemvn_tailstore")
	fn.I("VMASKMOVPS", "Y0", "Y9", "(DX)")
	fn.Exit("gemvn_done")
}

func gemvT(a *File) {
	y := Ymm.R
	fn := a.Fn("func gemvTAVX2(k int, x []float32, a []float32, lda int, y []float32)",
		`gemvTAVX2 computes y[j] = Σₚ a[j·lda+p]·x[p] for j < len(y), p < k: one dot product per
row of a. Rows go 4 at a time, sharing each load of x (5 loads per 4 FMAs) and with 4 independent sums;
the last k mod 8 values come through masked loads. The remaining 0-3 rows go one at a
time.`)
	fn.Args("k", "R9", "x_base", "SI", "a_base", "DI", "lda", "R8")
	fn.I("SHLQ", "$2", "R8")
	fn.I("LEAQ", "(R8)(R8*2)", "R13")
	fn.Args("y_base", "DX", "y_len", "CX")
	fn.Comment("Y9 masks the first k mod 8 lanes.")
	fn.I("LEAQ", "dotsMask<>(SB)", "AX")
	fn.I("MOVQ", "R9", "BX")
	fn.I("ANDQ", "$7", "BX")
	fn.I("NEGQ", "BX")
	fn.I("ADDQ", "$8", "BX")
	fn.Load(Ymm, "(AX)(BX*4)", "Y9")
	for _, n := range []int{4, 1} {
		l := fmt.Sprintf("gemvt_%d", n)
		fn.Label(l)
		if n == 4 {
			fn.I("CMPQ", "CX", "$4")
			fn.I("JLT", "gemvt_1")
		} else {
			fn.I("TESTQ", "CX", "CX")
			fn.I("JEQ", "gemvt_done")
		}
		fn.Zero(Ymm.Rs(0, n)...)
		fn.I("MOVQ", "DI", "R10")
		fn.I("MOVQ", "SI", "R11")
		fn.I("MOVQ", "R9", "R12")
		fn.I("SHRQ", "$3", "R12")
		fn.I("JEQ", l+"tail")
		fn.Label(l + "loop")
		fn.Load(Ymm, "(R11)", "Y8")
		for i := 0; i < n; i++ {
			fn.I("VFMADD231PS", Row(0, "R10", "R8", "R13", i), "Y8", y(i))
		}
		fn.Advance(32, "R11", "R10")
		fn.Repeat("R12", l+"loop")
		fn.Label(l + "tail")
		fn.I("TESTQ", "$7", "R9")
		fn.I("JEQ", l+"reduce")
		fn.I("VMASKMOVPS", "(R11)", "Y9", "Y8")
		for i := 0; i < n; i++ {
			fn.I("VMASKMOVPS", Row(0, "R10", "R8", "R13", i), "Y9", "Y10")
			fn.I("VFMADD231PS", "Y10", "Y8", y(i))
		}
		fn.Label(l + "reduce")
		for i := 0; i < n; i++ {
			fn.I("VEXTRACTF128", "$1", y(i), "X4")
			fn.I("VADDPS", "X4", Xmm.R(i), Xmm.R(i))
		}
		if n == 4 {
			fn.Comment("Lane sums of X0..X3 into the four lanes of X0.")
			fn.I("VHADDPS", "X1", "X0", "X0")
			fn.I("VHADDPS", "X3", "X2", "X2")
			fn.I("VHADDPS", "X2", "X0", "X0")
			fn.I("VMOVUPS", "X0", "(DX)")
			fn.I("LEAQ", "(DI)(R8*4)", "DI")
			fn.I("ADDQ", "$16", "DX")
			fn.I("SUBQ", "$4", "CX")
		} else {
			fn.Comment("The same additions, in the same order, as for a row of four.")
			fn.I("VHADDPS", "X0", "X0", "X0")
			fn.I("VHADDPS", "X0", "X0", "X0")
			fn.I("VMOVSS", "X0", "(DX)")
			fn.I("ADDQ", "R8", "DI")
			fn.I("ADDQ", "$4", "DX")
			fn.I("DECQ", "CX")
		}
		fn.I("JMP", l)
	}
	fn.Exit("gemvt_done")
}
