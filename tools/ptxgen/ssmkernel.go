package main

// Generation of the SSM convolution kernels from their parameters, tensor.(*CPU)'s
// ShiftSSMKernel / DiagSSMKernel and their backward passes.

func shiftSSMKernels() []*Kernel {
	var ks []*Kernel
	{
		k := NewKernel("shift_ssm_kernel_f32",
			"k[h, i] = sum_{j < N-i} B[h,j] * C[h,j+i] for i < Lk <= N: the shift SSM's kernel (B, C (H, N); C may carry a leading 1)",
			"launch: block (256,1,1), grid (ceil(H*Lk/256),1,1)")
		kk, b, c := k.Param("k", ".u64"), k.Param("b", ".u64"), k.Param("c", ".u64")
		H, N, Lk := k.Param("H", ".u32"), k.Param("N", ".u32"), k.Param("Lk", ".u32")
		gid, done := guardedIndex(k, k.Bin("mul.lo.u32", H, Lk))
		h := k.Bin("div.u32", gid, Lk)
		i := k.Bin("rem.u32", gid, Lk)
		row := k.Bin("mul.lo.u32", h, N)
		bp := elemAddr(k, b, row, 4)
		cp := elemAddr(k, c, k.Bin("add.u32", row, i), 4)
		acc := k.Mov(".f32", F(0))
		terms := k.Bin("sub.u32", N, i)
		j := k.Mov(".u32", Imm(0))
		top, fin := k.NewLabel("j"), k.NewLabel("j_done")
		k.Place(top)
		k.OpIf(k.Setp("ge.u32", j, terms), false, "bra", fin)
		k.Op("fma.rn.f32", acc, k.Ld("global", ".f32", At(bp, 0)), k.Ld("global", ".f32", At(cp, 0)), acc)
		k.Op("add.u64", bp, bp, 4)
		k.Op("add.u64", cp, cp, 4)
		k.Op("add.u32", j, j, 1)
		k.Op("bra", top)
		k.Place(fin)
		stAt(k, kk, gid, acc)
		k.Place(done)
		k.Op("ret")
		ks = append(ks, k)
	}
	{
		k := NewKernel("shift_ssm_kernel_bwd_f32",
			"dB[h,j] += sum_{i < Lk, j+i < N} dk[h,i] * C[h,j+i] and dC[h,j] += sum_{i < Lk, i <= j} dk[h,i] * B[h,j-i]",
			"(either gradient pointer may be 0 to skip it); dk is (H, Lk), B, C, dB, dC are (H, N)",
			"launch: block (256,1,1), grid (ceil(H*N/256),1,1)")
		dB, dC, dk := k.Param("dB", ".u64"), k.Param("dC", ".u64"), k.Param("dk", ".u64")
		b, c := k.Param("b", ".u64"), k.Param("c", ".u64")
		H, N, Lk := k.Param("H", ".u32"), k.Param("N", ".u32"), k.Param("Lk", ".u32")
		gid, done := guardedIndex(k, k.Bin("mul.lo.u32", H, N))
		h := k.Bin("div.u32", gid, N)
		j := k.Bin("rem.u32", gid, N)
		row := k.Bin("mul.lo.u32", h, N)
		gRow := elemAddr(k, dk, k.Bin("mul.lo.u32", h, Lk), 4)
		// dB: i runs over min(Lk, N-j) taps, C forward from j.
		skipB := k.NewLabel("no_dB")
		k.OpIf(k.Setp("eq.u64", dB, Imm(0)), false, "bra", skipB)
		{
			gp := k.Mov(".u64", gRow)
			cp := elemAddr(k, c, k.Bin("add.u32", row, j), 4)
			n := k.Bin("min.u32", Lk, k.Bin("sub.u32", N, j))
			acc := k.Mov(".f32", F(0))
			i := k.Mov(".u32", Imm(0))
			top, fin := k.NewLabel("db"), k.NewLabel("db_done")
			k.Place(top)
			k.OpIf(k.Setp("ge.u32", i, n), false, "bra", fin)
			k.Op("fma.rn.f32", acc, k.Ld("global", ".f32", At(gp, 0)), k.Ld("global", ".f32", At(cp, 0)), acc)
			k.Op("add.u64", gp, gp, 4)
			k.Op("add.u64", cp, cp, 4)
			k.Op("add.u32", i, i, 1)
			k.Op("bra", top)
			k.Place(fin)
			out := elemAddr(k, dB, gid, 4)
			k.St("global", ".f32", At(out, 0), k.Bin("add.f32", k.Ld("global", ".f32", At(out, 0)), acc))
		}
		k.Place(skipB)
		// dC: i runs over min(Lk, j+1) taps, B backward from j.
		k.OpIf(k.Setp("eq.u64", dC, Imm(0)), false, "bra", done)
		{
			gp := k.Mov(".u64", gRow)
			bp := elemAddr(k, b, k.Bin("add.u32", row, j), 4)
			n := k.Bin("min.u32", Lk, k.Bin("add.u32", j, Imm(1)))
			acc := k.Mov(".f32", F(0))
			i := k.Mov(".u32", Imm(0))
			top, fin := k.NewLabel("dc"), k.NewLabel("dc_done")
			k.Place(top)
			k.OpIf(k.Setp("ge.u32", i, n), false, "bra", fin)
			k.Op("fma.rn.f32", acc, k.Ld("global", ".f32", At(gp, 0)), k.Ld("global", ".f32", At(bp, 0)), acc)
			k.Op("add.u64", gp, gp, 4)
			k.Op("sub.u64", bp, bp, 4)
			k.Op("add.u32", i, i, 1)
			k.Op("bra", top)
			k.Place(fin)
			out := elemAddr(k, dC, gid, 4)
			k.St("global", ".f32", At(out, 0), k.Bin("add.f32", k.Ld("global", ".f32", At(out, 0)), acc))
		}
		k.Place(done)
		k.Op("ret")
		ks = append(ks, k)
	}
	return ks
}

func ssmKernelModule() *Module {
	m := &Module{File: "ssmkernel.ptx", Doc: []string{"SSM convolution kernels generated from their parameters, and their gradients."}}
	m.Kernels = append(m.Kernels, shiftSSMKernels()...)
	return m
}
