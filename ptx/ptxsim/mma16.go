package ptxsim

import "math"

// 16-bit tensor-core forms: mma.sync m16n8k16 with .bf16 or .f16 inputs and .f32
// accumulators, the ldmatrix that loads their fragments from shared memory, and the
// cvt.rn.{bf16x2,f16x2}.f32 that packs them.

// half converts f to the 16-bit float t names (.f16x2: IEEE binary16, .bf16x2: bfloat16),
// rounding to nearest even as cvt.rn does; NaN stays NaN (a canonical quiet one).
func half(t ptype, f float32) uint16 {
	if t == tBF16x2 {
		return bf16FromF32(f)
	}
	return f16FromF32(f)
}

func bf16FromF32(f float32) uint16 {
	b := math.Float32bits(f)
	if f != f {
		return uint16(b>>16) | 0x0040
	}
	return uint16((b + 0x7fff + (b>>16)&1) >> 16)
}

func bf16ToF64(h uint16) float64 { return float64(math.Float32frombits(uint32(h) << 16)) }

func f16FromF32(f float32) uint16 {
	sign := uint16(math.Float32bits(f)>>16) & 0x8000
	a := math.Abs(float64(f))
	switch {
	case f != f:
		return sign | 0x7e00
	case a >= 65520: // halfway between the largest half, 65504, and 2^16 rounds (to even) to Inf
		return sign | 0x7c00
	case a < 0x1p-14: // subnormal (or zero): a multiple of 2^-24, exact scaling then one rounding
		return sign | uint16(math.RoundToEven(a*0x1p24)) // 1024 is the smallest normal's encoding
	}
	fr, exp := math.Frexp(a) // a = fr·2^exp, fr in [0.5, 1)
	m := math.RoundToEven(fr * 2048)
	if m == 2048 {
		m, exp = 1024, exp+1
	}
	e := exp - 1 + 15
	if e >= 31 {
		return sign | 0x7c00
	}
	return sign | uint16(e)<<10 | uint16(m-1024)
}

func f16ToF64(h uint16) float64 {
	sign := 1.0
	if h&0x8000 != 0 {
		sign = -1
	}
	e, m := int(h>>10)&31, float64(h&0x3ff)
	switch e {
	case 0:
		return sign * m * 0x1p-24
	case 31:
		if m != 0 {
			return math.NaN()
		}
		return sign * math.Inf(1)
	}
	return sign * (1 + m/1024) * math.Ldexp(1, e-15)
}

// mma16 executes mma.sync.aligned.m16n8k16.row.col.f32.{bf16,f16}.{bf16,f16}.f32 with the
// fragment layouts of the PTX ISA ("Matrix Fragments for mma.m16n8k16 with floating point
// type"). Each .b32 register holds two elements, the lower-numbered in its low half:
//
//	groupID = laneid>>2, tig = laneid%4
//	A (16×16), a0..a7 in 4 registers: row g for a0, a1, a4, a5 and g+8 for a2, a3, a6, a7;
//	  column 2·tig + (i&1) for i < 4, and that + 8 for i ≥ 4
//	B (16×8), b0..b3 in 2 registers: row 2·tig + (i&1) for i < 2, and that + 8 for i ≥ 2;
//	  column g
//	C, D (16×8, .f32): c0 (g, 2·tig), c1 (g, 2·tig+1), c2 (g+8, 2·tig), c3 (g+8, 2·tig+1)
//
// Products of 16-bit floats are exact in float64, and so is their sum to well within one
// float32 rounding; the result is rounded once to float32. Hardware accumulates in at
// least fp32 in an unspecified order, which a test tolerance of a few fp32 ulps of the
// sum of |products| covers.
func (l *launch) mma16(in *instr, lanes []*thread) error {
	ops := in.ops
	if len(ops[0].vec) != 4 || len(ops[1].vec) != 4 || len(ops[2].vec) != 2 || len(ops[3].vec) != 4 {
		return l.errorf(lanes[0], "mma m16n8k16 needs {4}, {4}, {2}, {4} registers")
	}
	dec := f16ToF64
	if in.t2 == tBF16 {
		dec = bf16ToF64
	}
	var a [16][16]float64
	var b [16][8]float64
	var c [16][8]float64
	for lane, th := range lanes {
		g, t := lane>>2, lane%4
		var av [8]uint16
		for r := 0; r < 4; r++ {
			v := uint32(th.r(ops[1].vec[r]))
			av[2*r], av[2*r+1] = uint16(v), uint16(v>>16)
		}
		for i, h := range av {
			row, col := g, 2*t+(i&1)
			if i&2 != 0 {
				row += 8
			}
			if i >= 4 {
				col += 8
			}
			a[row][col] = dec(h)
		}
		for r := 0; r < 2; r++ {
			v := uint32(th.r(ops[2].vec[r]))
			b[2*t+8*r][g], b[2*t+8*r+1][g] = dec(uint16(v)), dec(uint16(v>>16))
		}
		cv := ops[3].vec
		c[g][2*t] = float64(f32(th.r(cv[0])))
		c[g][2*t+1] = float64(f32(th.r(cv[1])))
		c[g+8][2*t] = float64(f32(th.r(cv[2])))
		c[g+8][2*t+1] = float64(f32(th.r(cv[3])))
	}
	for lane, th := range lanes {
		g, t := lane>>2, lane%4
		for r, rc := range [4][2]int{{g, 2 * t}, {g, 2*t + 1}, {g + 8, 2 * t}, {g + 8, 2*t + 1}} {
			s := c[rc[0]][rc[1]]
			for k := 0; k < 16; k++ {
				s += a[rc[0]][k] * b[k][rc[1]]
			}
			th.w(ops[0].vec[r], fbits(float32(s)))
		}
	}
	return nil
}

// ldmatrix executes ldmatrix.sync.aligned.m8n8.{x1,x2,x4}[.trans].shared.b16: lane
// 8·m + r gives the shared address of row r (16 bytes, 16-byte aligned) of matrix m
// (lanes past the last matrix give none), and lane 4·r + w receives in its m-th register
// the 32-bit word w of row r of matrix m: elements (r, 2w) and (r, 2w+1), the first in
// the low half. With .trans each matrix arrives transposed: the register holds elements
// (2w, r) and (2w+1, r) of the matrix as stored. This is the A and B fragment layout of
// mma.m16n8k16.
func (l *launch) ldmatrix(in *instr, lanes []*thread) error {
	nmat := in.vec
	var rows [4][8][8]uint16 // matrix, row, column
	for m := 0; m < nmat; m++ {
		for r := 0; r < 8; r++ {
			th := lanes[8*m+r]
			addr := l.address(th, &in.ops[1])
			if addr%16 != 0 {
				return l.errorf(th, "ldmatrix row address 0x%x is not 16-byte aligned", addr)
			}
			for w := 0; w < 4; w++ {
				v, err := l.load(th, spShared, addr+uint64(4*w), 4, false)
				if err != nil {
					return err
				}
				rows[m][r][2*w], rows[m][r][2*w+1] = uint16(v), uint16(v>>16)
			}
		}
	}
	trans := in.mod == "trans"
	for lane, th := range lanes {
		r, w := lane/4, lane%4
		for m := 0; m < nmat; m++ {
			lo, hi := rows[m][r][2*w], rows[m][r][2*w+1]
			if trans {
				lo, hi = rows[m][2*w][r], rows[m][2*w+1][r]
			}
			th.w(in.ops[0].vec[m], uint64(hi)<<16|uint64(lo))
		}
	}
	return nil
}
