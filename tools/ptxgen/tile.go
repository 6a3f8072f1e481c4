package main

// Kernels that move (t, h) tiles of channels-last data transpose 32×32 tiles through
// shared memory, so that both sides are read and written by whole warps at consecutive
// addresses. Block (32, 8): thread (x, y) moves rows y, y+8, y+16, y+24 of its tile. The
// tile is 32×33 floats: the extra column puts a tile column's 32 entries in 32 different
// banks.
const convTile = 32

type tileCtx struct {
	k         *Kernel
	tx, ty    Reg
	t0, h0, b Reg // tile origin and batch
	smem      Reg // shared base address
}

func newTileCtx(k *Kernel) *tileCtx {
	c := &tileCtx{k: k}
	c.tx, c.ty = k.Special("%tid.x"), k.Special("%tid.y")
	c.t0 = k.Bin("mul.lo.u32", k.Special("%ctaid.x"), Imm(convTile))
	c.h0 = k.Bin("mul.lo.u32", k.Special("%ctaid.y"), Imm(convTile))
	c.b = k.Special("%ctaid.z")
	c.smem = k.Mov(".u32", k.Shared("tile", 4, 4*convTile*(convTile+1)))
	return c
}

// at returns the shared address of tile[row][col].
func (c *tileCtx) at(row, col Reg) Reg {
	return c.k.Bin("add.u32", c.smem, c.k.Bin("shl.b32", c.k.Tern("mad.lo.u32", row, Imm(convTile+1), col), Imm(2)))
}

// rows runs body for the four tile rows r = ty + 8q of this thread.
func (c *tileCtx) rows(body func(r Reg)) {
	for q := 0; q < convTile/8; q++ {
		body(c.k.Bin("add.u32", c.ty, Imm(8*q)))
	}
}

// inBounds runs body(r, y, x) for the four entries this thread moves, x = x0 + tx along
// the side being read or written with whole warps, y = y0 + r for its tile rows r, and
// skips those past xEnd or yEnd: partial tiles at the edges of the matrix.
func (c *tileCtx) inBounds(x0, xEnd, y0, yEnd Reg, body func(r, y, x Reg)) {
	k := c.k
	x := k.Bin("add.u32", x0, c.tx)
	xIn := k.Setp("lt.u32", x, xEnd)
	c.rows(func(r Reg) {
		y := k.Bin("add.u32", y0, r)
		skip := k.NewLabel("outside")
		k.OpIf(xIn, true, "bra", skip)
		k.OpIf(k.Setp("ge.u32", y, yEnd), false, "bra", skip)
		body(r, y, x)
		k.Place(skip)
	})
}
