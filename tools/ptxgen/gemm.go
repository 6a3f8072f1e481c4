package main

import "fmt"

// Tensor-core SGEMM: C = alpha·op(A)·op(B) + beta·C, row-major, TF32 inputs (cvt.rna),
// fp32 accumulation with mma.sync.m16n8k8. Block tile 64×64×16, 4 warps in a 2×2 grid each
// owning 32×32 (2×4 mma tiles). Global→shared copies are 4-byte cp.async with zero fill
// beyond M, N, K (src-size 0), double-buffered so tile k+1 streams in while tile k is used.
// A strided batch of such products runs in one launch, item z in grid.z: each operand of
// item z starts z·stride elements after the operand's pointer.
const (
	gemmBM, gemmBN, gemmBK = 64, 64, 16
	gemmThreads            = 128
	// Row pitches in floats, padded so the fragment reads of a warp hit 32 distinct banks.
	gemmAPitch = gemmBK + 4
	gemmBPitch = gemmBN + 8
	gemmAStage = gemmBM * gemmAPitch * 4 // bytes
	gemmBStage = gemmBK * gemmBPitch * 4
)

// tileLoader issues the cp.async copies of one operand tile (8 elements per thread).
type tileLoader struct {
	k          *Kernel
	base       Reg    // the matrix pointer: the in-bounds address used when a copy is empty
	ptr        Reg    // global address of this thread's element 0 in the current k tile
	rStride    Reg    // bytes between this thread's element r and r+1
	kAdvance   Reg    // bytes from one k tile to the next
	kContig    bool   // k is the contiguous dimension (each thread has one k for all r)
	kOff       Reg    // this thread's k offset within a tile
	kStep      int    // k step between elements when k is not contiguous
	otherOK    [8]Reg // predicate: the m (or n) index of element r is in range
	sOff       Reg    // shared byte offset of element 0 within a stage
	sStep      int    // shared byte step between elements
	stageBytes int
	sym        Sym
}

// newTileLoader maps thread t to elements e = t + 128r of a tile whose contiguous global
// dimension has cdim elements: c = t mod cdim, o = t / cdim + (128/cdim)·r, so consecutive
// threads read consecutive addresses.
func newTileLoader(k *Kernel, name string, sym Sym, base, ld, tid, otherBase, otherLimit Reg, kContig bool, pitch, stageBytes int) *tileLoader {
	tl := &tileLoader{k: k, base: base, kContig: kContig, sym: sym, stageBytes: stageBytes}
	cdim := contigRun(kContig)
	step := gemmThreads / cdim
	k.Comment("%s tile: %d-wide contiguous runs, %d rows apart per element", name, cdim, step)
	c := k.Bin("and.b32", tid, Imm(cdim-1))
	o := k.Bin("shr.u32", tid, Imm(log2(cdim)))
	ld64 := k.Cvt("cvt.u64.u32", ld)
	tl.rStride = k.Bin("mul.lo.u64", ld64, Imm(4*step))
	var row, col Reg // global row/col (in the stored layout) of element 0
	if kContig {
		// stored rows are m (or n), columns are k
		row = k.Bin("add.u32", otherBase, o)
		col = c
		tl.kOff = c
		tl.kAdvance = k.Mov(".u64", Imm(4*gemmBK))
		tl.sOff = k.Bin("shl.b32", k.Tern("mad.lo.u32", o, Imm(pitch), c), Imm(2))
		tl.sStep = 4 * step * pitch
		for r := 0; r < 8; r++ {
			tl.otherOK[r] = k.Setp("lt.u32", k.Bin("add.u32", row, Imm(step*r)), otherLimit)
		}
	} else {
		// stored rows are k, columns are m (or n)
		row = o
		col = k.Bin("add.u32", otherBase, c)
		tl.kOff = o
		tl.kStep = step
		tl.kAdvance = k.Bin("mul.lo.u64", ld64, Imm(4*gemmBK))
		tl.sOff = k.Bin("shl.b32", k.Tern("mad.lo.u32", o, Imm(pitch), c), Imm(2))
		tl.sStep = 4 * step * pitch
		ok := k.Setp("lt.u32", col, otherLimit)
		for r := 0; r < 8; r++ {
			tl.otherOK[r] = ok
		}
	}
	idx := k.Reg(B64)
	k.Op("mul.wide.u32", idx, row, ld)
	col64 := k.Cvt("cvt.u64.u32", col)
	k.Op("add.u64", idx, idx, col64)
	k.Op("shl.b64", idx, idx, 2)
	tl.ptr = k.Bin("add.u64", base, idx)
	return tl
}

// contigRun is how many elements of a tile row are contiguous in global memory: the
// tile's k extent when k is contiguous, its m (or n) extent otherwise.
func contigRun(kContig bool) int {
	if kContig {
		return gemmBK
	}
	return 64
}

// transposeInShared makes the loader put element (o, c) at [c][o] of a shared tile with
// the given pitch instead of [o][c]: for a transposed operand the stored layout is the
// transpose of the one the mma fragments read.
func (tl *tileLoader) transposeInShared(tid Reg, pitch int) {
	k := tl.k
	cdim := contigRun(tl.kContig)
	c := k.Bin("and.b32", tid, Imm(cdim-1))
	o := k.Bin("shr.u32", tid, Imm(log2(cdim)))
	tl.sOff = k.Bin("shl.b32", k.Tern("mad.lo.u32", c, Imm(pitch), o), Imm(2))
	tl.sStep = 4 * (gemmThreads / cdim)
}

// issue copies the tile whose first k is k0 into stage (a shared byte offset register).
func (tl *tileLoader) issue(k0, K, stage Reg) {
	k := tl.k
	dst := k.Bin("add.u32", stage, tl.sOff)
	src := k.Mov(".u64", tl.ptr)
	kIdx := k.Bin("add.u32", k0, tl.kOff)
	var kOK Reg
	if tl.kContig {
		kOK = k.Setp("lt.u32", kIdx, K)
	}
	for r := 0; r < 8; r++ {
		if !tl.kContig {
			kOK = k.Setp("lt.u32", k.Bin("add.u32", kIdx, Imm(tl.kStep*r)), K)
		}
		ok := k.Reg(Pred)
		k.Op("and.pred", ok, kOK, tl.otherOK[r])
		// Out-of-range copies read 0 bytes from a valid address and zero-fill the slot.
		from := k.Selp(".b64", src, tl.base, ok)
		n := k.Selp(".b32", Imm(4), Imm(0), ok)
		k.Op("cp.async.ca.shared.global", At(dst, tl.sStep*r), At(from, 0), 4, n)
		if r < 7 {
			k.Op("add.u64", src, src, tl.rStride)
		}
	}
	k.Op("add.u64", tl.ptr, tl.ptr, tl.kAdvance)
}

func log2(n int) int {
	l := 0
	for 1<<l < n {
		l++
	}
	return l
}

func sgemmKernel(transA, transB bool) *Kernel { return sgemmKernelWith(transA, transB, false) }

// sgemmKernelWith is sgemmKernel, with withBias a variant that takes one more parameter,
// bias (N floats), and adds bias[j] to every element of column j in the epilogue, where
// the result is stored (fused.go's sgemm_nt_bias).
func sgemmKernelWith(transA, transB, withBias bool) *Kernel {
	name := "sgemm_" + map[bool]string{false: "n", true: "t"}[transA] + map[bool]string{false: "n", true: "t"}[transB]
	opA := map[bool]string{false: "A[i*lda + k]", true: "A[k*lda + i]"}[transA]
	opB := map[bool]string{false: "B[k*ldb + j]", true: "B[j*ldb + k]"}[transB]
	first := fmt.Sprintf("C[i*ldc + j] = alpha * sum_k %s * %s + beta * C[i*ldc + j]  (C is not read when beta == 0)", opA, opB)
	if withBias {
		name += "_bias"
		first = fmt.Sprintf("C[i*ldc + j] = alpha * sum_k %s * %s + beta * C[i*ldc + j] + bias[j]  (C is not read when beta == 0)", opA, opB)
	}
	k := NewKernel(name,
		first,
		"for each of batch products z, with A, B and C of item z starting z*strideA, z*strideB, z*strideC elements on",
		"(stride 0: one matrix for the whole batch; items must not write the same C);",
		"TF32 tensor cores (mma.sync m16n8k8, inputs rounded with cvt.rna.tf32), fp32 accumulation; any M, N, K >= 0").Launch(
		launch(128, 1, 1, "ceil(N, 64)", "ceil(M, 64)", "batch").note("19456 bytes of static shared memory; grid.z is at most 65535: a larger batch takes several launches"))
	C, A, B := k.Param("C", ".u64"), k.Param("A", ".u64"), k.Param("B", ".u64")
	M, N, K := k.Param("M", ".u32"), k.Param("N", ".u32"), k.Param("K", ".u32")
	lda, ldb, ldc := k.Param("lda", ".u32"), k.Param("ldb", ".u32"), k.Param("ldc", ".u32")
	alpha, beta := k.Param("alpha", ".f32"), k.Param("beta", ".f32")
	k.Param("batch", ".u32") // sizes the grid; each block's item is its ctaid.z
	strideA, strideB, strideC := k.Param("strideA", ".u32"), k.Param("strideB", ".u32"), k.Param("strideC", ".u32")
	var bias Reg
	if withBias {
		bias = k.Param("bias", ".u64")
	}
	k.Comment("batch item z = ctaid.z: move each operand to its item, 64-bit (z*stride may pass 2^32 bytes)")
	z := k.Special("%ctaid.z")
	item := func(p, stride Reg) Reg {
		off := k.Reg(B64)
		k.Op("mul.wide.u32", off, z, stride)
		return k.Bin("add.u64", p, k.Bin("shl.b64", off, Imm(2)))
	}
	C, A, B = item(C, strideC), item(A, strideA), item(B, strideB)
	as := k.Shared("gemm_as", 16, 2*gemmAStage)
	bs := k.Shared("gemm_bs", 16, 2*gemmBStage)

	tid := k.Special("%tid.x")
	m0 := k.Bin("shl.b32", k.Special("%ctaid.y"), Imm(6))
	n0 := k.Bin("shl.b32", k.Special("%ctaid.x"), Imm(6))
	asBase, bsBase := k.Mov(".u32", as), k.Mov(".u32", bs)

	// Shared layouts: As[m][k] with pitch gemmAPitch, Bs[k][n] with pitch gemmBPitch.
	var la, lb *tileLoader
	if !transA { // A stored M×K: k contiguous
		la = newTileLoader(k, "A (m×k, k contiguous)", as, A, lda, tid, m0, M, true, gemmAPitch, gemmAStage)
	} else { // A stored K×M: m contiguous; element (k=o, m=c) goes to As[c][o]
		la = newTileLoader(k, "A (k×m, m contiguous)", as, A, lda, tid, m0, M, false, 0, gemmAStage)
		la.transposeInShared(tid, gemmAPitch)
	}
	if !transB { // B stored K×N: n contiguous, Bs[k][n] matches
		lb = newTileLoader(k, "B (k×n, n contiguous)", bs, B, ldb, tid, n0, N, false, gemmBPitch, gemmBStage)
	} else { // B stored N×K: k contiguous; element (n=o, k=c) goes to Bs[c][o]
		lb = newTileLoader(k, "B (n×k, k contiguous)", bs, B, ldb, tid, n0, N, true, 0, gemmBStage)
		lb.transposeInShared(tid, gemmBPitch)
	}

	k.Comment("warp tile: rows wm*32.., cols wn*32..; lane = 4*g + t")
	lane := k.Bin("and.b32", tid, Imm(31))
	warp := k.Bin("shr.u32", tid, Imm(5))
	wm := k.Bin("shr.u32", warp, Imm(1))
	wn := k.Bin("and.b32", warp, Imm(1))
	g := k.Bin("shr.u32", lane, Imm(2))
	t := k.Bin("and.b32", lane, Imm(3))
	// fragment base offsets inside a stage (bytes)
	aRow := k.Tern("mad.lo.u32", wm, Imm(32), g)
	aFrag := k.Bin("shl.b32", k.Tern("mad.lo.u32", aRow, Imm(gemmAPitch), t), Imm(2))
	bCol := k.Tern("mad.lo.u32", wn, Imm(32), g)
	bFrag := k.Bin("shl.b32", k.Tern("mad.lo.u32", t, Imm(gemmBPitch), bCol), Imm(2))

	var acc [2][4][4]Reg
	for i := range acc {
		for j := range acc[i] {
			for e := range acc[i][j] {
				acc[i][j][e] = k.Mov(".f32", F(0))
			}
		}
	}
	ktiles := k.Bin("shr.u32", k.Bin("add.u32", K, Imm(gemmBK-1)), Imm(4))
	kt := k.Mov(".u32", Imm(0))
	knext := k.Mov(".u32", Imm(0))
	k.Comment("prologue: tile 0 into stage 0")
	la.issue(knext, K, asBase)
	lb.issue(knext, K, bsBase)
	k.Op("cp.async.commit_group")
	k.Op("add.u32", knext, knext, gemmBK)
	epi := k.NewLabel("epilogue")
	none := k.Setp("eq.u32", ktiles, Imm(0))
	k.OpIf(none, false, "bra.uni", epi)
	loop := k.NewLabel("ktile")
	k.Place(loop)
	k.Comment("prefetch tile kt+1 into the other stage, if there is one")
	kt1 := k.Bin("add.u32", kt, Imm(1))
	more := k.Setp("lt.u32", kt1, ktiles)
	skip := k.NewLabel("no_prefetch")
	k.OpIf(more, true, "bra.uni", skip)
	odd := k.Bin("and.b32", kt1, Imm(1))
	la.issue(knext, K, k.Tern("mad.lo.u32", odd, Imm(gemmAStage), asBase))
	lb.issue(knext, K, k.Tern("mad.lo.u32", odd, Imm(gemmBStage), bsBase))
	k.Op("add.u32", knext, knext, gemmBK)
	k.Place(skip)
	k.Comment("an empty group when nothing was prefetched keeps wait_group 1 meaning 'tile kt landed'")
	k.Op("cp.async.commit_group")
	k.Op("cp.async.wait_group", 1)
	k.Op("bar.sync", 0)
	cur := k.Bin("and.b32", kt, Imm(1))
	aS := k.Bin("add.u32", k.Tern("mad.lo.u32", cur, Imm(gemmAStage), asBase), aFrag)
	bS := k.Bin("add.u32", k.Tern("mad.lo.u32", cur, Imm(gemmBStage), bsBase), bFrag)
	for kk := 0; kk < gemmBK; kk += 8 {
		k.Comment("k step %d: fragments per the PTX ISA m16n8k8 .tf32 layout", kk)
		var af [2]Vec
		for i := 0; i < 2; i++ {
			offs := []int{0, 8 * gemmAPitch, 4, 8*gemmAPitch + 4} // a0 (g,t) a1 (g+8,t) a2 (g,t+4) a3 (g+8,t+4)
			for _, o := range offs {
				f := k.Ld("shared", ".f32", At(aS, 4*(i*16*gemmAPitch+kk+o)))
				af[i] = append(af[i], k.Cvt("cvt.rna.tf32.f32", f))
			}
		}
		var bf [4]Vec
		for j := 0; j < 4; j++ {
			for _, o := range []int{0, 4 * gemmBPitch} { // b0 (t,g) b1 (t+4,g)
				f := k.Ld("shared", ".f32", At(bS, 4*(kk*gemmBPitch+j*8+o)))
				bf[j] = append(bf[j], k.Cvt("cvt.rna.tf32.f32", f))
			}
		}
		for i := 0; i < 2; i++ {
			for j := 0; j < 4; j++ {
				d := Vec(acc[i][j][:])
				k.Op("mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32", d, af[i], bf[j], d)
			}
		}
	}
	k.Comment("the stage just read is refilled by the next iteration's prefetch")
	k.Op("bar.sync", 0)
	k.Op("add.u32", kt, kt, 1)
	again := k.Setp("lt.u32", kt, ktiles)
	k.OpIf(again, false, "bra.uni", loop)
	k.Place(epi)
	k.Comment("epilogue: c0,c1 at (g, 2t..2t+1), c2,c3 at (g+8, 2t..2t+1); bounds-checked")
	useBeta := k.Setp("ne.f32", beta, F(0))
	rowBase := k.Bin("add.u32", m0, aRow)
	colBase := k.Bin("add.u32", n0, k.Tern("mad.lo.u32", wn, Imm(32), k.Bin("shl.b32", t, Imm(1))))
	var colOK [4][2]Reg
	var colOff [4][2]Reg
	var colBias [4][2]Reg
	for j := 0; j < 4; j++ {
		for e := 0; e < 2; e++ {
			col := k.Bin("add.u32", colBase, Imm(8*j+e))
			colOK[j][e] = k.Setp("lt.u32", col, N)
			colOff[j][e] = k.Reg(B64)
			k.Op("mul.wide.u32", colOff[j][e], col, 4)
			if withBias {
				// Each thread's 8 columns are the same for its 4 rows: their bias is
				// loaded once.
				colBias[j][e] = k.Mov(".f32", F(0))
				k.OpIf(colOK[j][e], false, "ld.global.f32", colBias[j][e], At(k.Bin("add.u64", bias, colOff[j][e]), 0))
			}
		}
	}
	for i := 0; i < 2; i++ {
		for h := 0; h < 2; h++ {
			row := k.Bin("add.u32", rowBase, Imm(16*i+8*h))
			rowOK := k.Setp("lt.u32", row, M)
			rp := k.Reg(B64)
			k.Op("mul.wide.u32", rp, row, ldc)
			k.Op("shl.b64", rp, rp, 2)
			k.Op("add.u64", rp, rp, C)
			for j := 0; j < 4; j++ {
				for e := 0; e < 2; e++ {
					ok := k.Reg(Pred)
					k.Op("and.pred", ok, rowOK, colOK[j][e])
					rd := k.Reg(Pred)
					k.Op("and.pred", rd, ok, useBeta)
					addr := k.Bin("add.u64", rp, colOff[j][e])
					v := k.Bin("mul.f32", acc[i][j][2*h+e], alpha)
					old := k.Reg(F32)
					k.OpIf(rd, false, "ld.global.f32", old, At(addr, 0))
					k.OpIf(rd, false, "fma.rn.f32", v, beta, old, v)
					if withBias {
						k.Op("add.f32", v, v, colBias[j][e])
					}
					k.OpIf(ok, false, "st.global.f32", At(addr, 0), v)
				}
			}
		}
	}
	k.Op("ret")
	return k
}

func gemmModule() *Module {
	return &Module{File: "gemm.ptx", Doc: []string{"TF32 tensor-core SGEMM (mma.sync m16n8k8), NN, NT, TN and TT."},
		Kernels: []*Kernel{sgemmKernel(false, false), sgemmKernel(false, true), sgemmKernel(true, false), sgemmKernel(true, true)}}
}
