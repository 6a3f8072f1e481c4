package main

// embeddingBwdGrouped is the deterministic scatter-add: the host groups the token
// positions by id (it holds the ids anyway: tensor's ScatterAdd takes them as a Go slice),
// and each thread adds one feature of one id's tokens in token order, starting from the
// table's value, exactly as tensor.(*CPU).ScatterAdd does, so the result is bitwise the
// CPU's and does not depend on the order atomics land in.
func embeddingBwdGrouped() *Kernel {
	k := NewKernel("embedding_bwd_grouped_f32",
		"for u < nuniq and j < dim: dtable[uniq[u], j] += dout[pos[p], j] for p = start[u] .. start[u+1]-1 in order;",
		"uniq (nuniq) holds each id once, start (nuniq+1) and pos (ntokens) list the token positions of each id in",
		"increasing order (a CSR grouping of ids built on the host); all s32. Deterministic, no atomics").Launch(launch(256, 1, 1, "ceil(nuniq*dim, 256)", "1", "1"))
	dtable, dout := k.Param("dtable", ".u64"), k.Param("dout", ".u64")
	uniq, start, pos := k.Param("uniq", ".u64"), k.Param("start", ".u64"), k.Param("pos", ".u64")
	nuniq, dim := k.Param("nuniq", ".u32"), k.Param("dim", ".u32")
	_, u, j, done := guardedCell(k, nuniq, dim)
	id := k.Ld("global", ".s32", At(elemAddr(k, uniq, u, 4), 0))
	sp := elemAddr(k, start, u, 4)
	p := k.Ld("global", ".s32", At(sp, 0))
	end := k.Ld("global", ".s32", At(sp, 4))
	out := elemAddr(k, dtable, k.Tern("mad.lo.u32", id, dim, j), 4)
	acc := k.Ld("global", ".f32", At(out, 0))
	top, fin := k.NewLabel("tokens"), k.NewLabel("tokens_done")
	k.Place(top)
	k.OpIf(k.Setp("ge.s32", p, end), false, "bra", fin)
	t := k.Ld("global", ".s32", At(elemAddr(k, pos, p, 4), 0))
	k.Op("add.f32", acc, acc, k.Ld("global", ".f32", At(elemAddr(k, dout, k.Tern("mad.lo.u32", t, dim, j), 4), 0)))
	k.Op("add.s32", p, p, 1)
	k.Op("bra", top)
	k.Place(fin)
	k.St("global", ".f32", At(out, 0), acc)
	k.Place(done)
	k.Op("ret")
	return k
}
