package ptxsim

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// Every finite half survives a round trip through float32, and a value halfway between
// two neighbouring halves rounds to the one with an even mantissa (cvt.rn).
func TestHalfConversions(t *testing.T) {
	for _, c := range []struct {
		name     string
		to       func(float32) uint16
		from     func(uint16) float64
		isFinite func(uint16) bool
	}{
		{"f16", f16FromF32, f16ToF64, func(h uint16) bool { return h&0x7c00 != 0x7c00 }},
		{"bf16", bf16FromF32, bf16ToF64, func(h uint16) bool { return h&0x7f80 != 0x7f80 }},
	} {
		for i := 0; i < 1<<16; i++ {
			h := uint16(i)
			if !c.isFinite(h) {
				continue
			}
			v := c.from(h)
			if got := c.to(float32(v)); got != h && !(v == 0 && got&0x7fff == 0) {
				t.Fatalf("%s: 0x%04x = %g converts back to 0x%04x", c.name, h, v, got)
			}
			next := h + 1
			if h&0x7fff == 0x7fff || !c.isFinite(next) || math.Signbit(v) != math.Signbit(c.from(next)) {
				continue
			}
			mid := float32((v + c.from(next)) / 2) // exact: one bit more than a half's mantissa
			want := h
			if h&1 != 0 {
				want = next
			}
			if got := c.to(mid); got != want {
				t.Fatalf("%s: halfway %g between 0x%04x and 0x%04x gives 0x%04x, want 0x%04x", c.name, mid, h, next, got, want)
			}
		}
	}
	for _, c := range []struct {
		f    float32
		want uint16
	}{{65504, 0x7bff}, {65519, 0x7bff}, {65520, 0x7c00}, {-1e9, 0xfc00}, {0x1p-25, 0}, {0x1.8p-25, 1}, {0x1p-24, 1},
		{float32(math.Inf(1)), 0x7c00}} {
		if got := f16FromF32(c.f); got != c.want {
			t.Errorf("f16(%g) = 0x%04x, want 0x%04x", c.f, got, c.want)
		}
	}
	if h := f16FromF32(float32(math.NaN())); h&0x7c00 != 0x7c00 || h&0x3ff == 0 {
		t.Errorf("f16(NaN) = 0x%04x, not a NaN", h)
	}
	if h := bf16FromF32(float32(math.NaN())); h&0x7f80 != 0x7f80 || h&0x7f == 0 {
		t.Errorf("bf16(NaN) = 0x%04x, not a NaN", h)
	}
}

const mmaHeader = header + `.visible .entry k(.param .u64 out, .param .u64 in, .param .u32 n)
{
.reg .pred %p<4>;
.reg .b32 %r<40>;
.reg .f32 %f<16>;
.reg .b64 %rd<16>;
.shared .align 16 .b8 sa[512];
.shared .align 16 .b8 sb[256];
ld.param.u64 %rd1, [out];
ld.param.u64 %rd2, [in];
mov.u32 %r1, %tid.x;
`

// cvt.rn.{bf16x2,f16x2}.f32 d, a, b puts a in the upper half and b in the lower.
func TestCvtPacksHalves(t *testing.T) {
	for _, ty := range []string{"bf16x2", "f16x2"} {
		src := mmaHeader + `
	shl.b32 %r2, %r1, 3;
	cvt.u64.u32 %rd3, %r2;
	add.u64 %rd4, %rd2, %rd3;
	ld.global.f32 %f1, [%rd4];
	ld.global.f32 %f2, [%rd4+4];
	cvt.rn.` + ty + `.f32 %r3, %f1, %f2;
	shl.b32 %r4, %r1, 2;
	cvt.u64.u32 %rd5, %r4;
	add.u64 %rd6, %rd1, %rd5;
	st.global.b32 [%rd6], %r3;
	ret;
}`
		m, err := Load(src)
		if err != nil {
			t.Fatal(err)
		}
		in := []float32{1.5, -2, 3.14159, 1e-3, 70000, -0.1, 0x1p-20, 7}
		mem := NewMemory()
		pin, _ := mem.AllocF32(in)
		pout, _ := mem.Alloc(4 * len(in) / 2)
		if err := m.Launch(mem, "k", [3]int{1, 1, 1}, [3]int{len(in) / 2, 1, 1}, 0, pout, pin, len(in)); err != nil {
			t.Fatal(err)
		}
		out, _ := mem.ReadI32(pout, len(in)/2)
		conv := f16FromF32
		if ty == "bf16x2" {
			conv = bf16FromF32
		}
		for i, w := range out {
			if hi, lo := uint16(uint32(w)>>16), uint16(w); hi != conv(in[2*i]) || lo != conv(in[2*i+1]) {
				t.Errorf("%s of (%g, %g) = 0x%08x", ty, in[2*i], in[2*i+1], uint32(w))
			}
		}
	}
}

// mmaProblem is a random 16×16 by 16×8 product with a 16×8 accumulator, its inputs
// already rounded to the 16-bit type.
type mmaProblem struct {
	ty      string // "bf16" or "f16"
	a       [16][16]uint16
	b       [16][8]uint16
	c       [16][8]float32
	to      func(float32) uint16
	decoded func(uint16) float64
}

func newMMAProblem(ty string, rng *rand.Rand) *mmaProblem {
	p := &mmaProblem{ty: ty, to: f16FromF32, decoded: f16ToF64}
	if ty == "bf16" {
		p.to, p.decoded = bf16FromF32, bf16ToF64
	}
	for i := range p.a {
		for j := range p.a[i] {
			p.a[i][j] = p.to(float32(rng.NormFloat64()))
		}
	}
	for i := range p.b {
		for j := range p.b[i] {
			p.b[i][j] = p.to(float32(rng.NormFloat64()))
			p.c[i][j] = float32(rng.NormFloat64())
		}
	}
	return p
}

// check compares d with A·B + C in float64. The simulator rounds once, so the tolerance
// is one float32 rounding of the result plus 2^-40 of the sum of |terms| (float64
// accumulation); hardware, accumulating in fp32, would need a few fp32 ulps of that sum.
func (p *mmaProblem) check(t *testing.T, what string, d [16][8]float32) {
	t.Helper()
	for i := 0; i < 16; i++ {
		for j := 0; j < 8; j++ {
			s, mag := float64(p.c[i][j]), math.Abs(float64(p.c[i][j]))
			for k := 0; k < 16; k++ {
				x := p.decoded(p.a[i][k]) * p.decoded(p.b[k][j])
				s += x
				mag += math.Abs(x)
			}
			if err := math.Abs(float64(d[i][j]) - s); err > math.Abs(s)*0x1p-24+mag*0x1p-40 {
				t.Fatalf("%s %s: D[%d][%d] = %g, want %g (|terms| %g)", what, p.ty, i, j, d[i][j], s, mag)
			}
		}
	}
}

// The fragments are placed in the registers by the PTX ISA's formulas for mma.m16n8k16
// with .f16/.bf16 inputs, written out here independently of the simulator, and D is read
// back by the accumulator formula:
//
//	A: row = groupID for ai with 0 ≤ i < 2 or 4 ≤ i < 6, groupID + 8 otherwise;
//	   col = threadID_in_group·2 + (i & 1) for i < 4, + 8 for i ≥ 4
//	B: row = threadID_in_group·2 + (i & 1) for i < 2, + 8 for i ≥ 2; col = groupID
//	C, D: row = groupID for c0, c1, groupID + 8 for c2, c3; col = threadID_in_group·2 + (i & 1)
//
// each register holding its two elements low to high.
func TestMMA16FragmentsFollowTheISA(t *testing.T) {
	src := mmaHeader + `
	shl.b32 %r3, %r1, 4;
	cvt.u64.u32 %rd3, %r3;
	add.u64 %rd4, %rd2, %rd3;
	ld.global.v4.b32 {%r10, %r11, %r12, %r13}, [%rd4];
	shl.b32 %r4, %r1, 3;
	cvt.u64.u32 %rd5, %r4;
	add.u64 %rd6, %rd2, %rd5;
	ld.global.v2.b32 {%r15, %r16}, [%rd6+512];
	ld.global.v4.f32 {%f1, %f2, %f3, %f4}, [%rd4+768];
	mma.sync.aligned.m16n8k16.row.col.f32.TY.TY.f32 {%f5, %f6, %f7, %f8}, {%r10, %r11, %r12, %r13}, {%r15, %r16}, {%f1, %f2, %f3, %f4};
	add.u64 %rd7, %rd1, %rd3;
	st.global.v4.f32 [%rd7], {%f5, %f6, %f7, %f8};
	ret;
}`
	rng := rand.New(rand.NewPCG(1, 2))
	for _, ty := range []string{"bf16", "f16"} {
		m, err := Load(strings.ReplaceAll(src, "TY", ty))
		if err != nil {
			t.Fatal(err)
		}
		for trial := 0; trial < 3; trial++ {
			p := newMMAProblem(ty, rng)
			in := make([]int32, 320)
			for lane := 0; lane < 32; lane++ {
				g, tig := lane>>2, lane%4
				var a [8]uint16
				for i := range a {
					row, col := g+8, tig*2+(i&1)
					if i < 2 || (4 <= i && i < 6) {
						row = g
					}
					if i >= 4 {
						col += 8
					}
					a[i] = p.a[row][col]
				}
				for r := 0; r < 4; r++ {
					in[4*lane+r] = int32(uint32(a[2*r]) | uint32(a[2*r+1])<<16)
				}
				var b [4]uint16
				for i := range b {
					row := tig*2 + (i & 1)
					if i >= 2 {
						row += 8
					}
					b[i] = p.b[row][g]
				}
				in[128+2*lane] = int32(uint32(b[0]) | uint32(b[1])<<16)
				in[128+2*lane+1] = int32(uint32(b[2]) | uint32(b[3])<<16)
				for i := 0; i < 4; i++ {
					row, col := cFragment(lane, i)
					in[192+4*lane+i] = int32(math.Float32bits(p.c[row][col]))
				}
			}
			mem := NewMemory()
			pin, _ := mem.AllocI32(in)
			pout, _ := mem.Alloc(4 * 128)
			if err := m.Launch(mem, "k", [3]int{1, 1, 1}, [3]int{32, 1, 1}, 0, pout, pin, 0); err != nil {
				t.Fatal(err)
			}
			out, _ := mem.ReadF32(pout, 128)
			var d [16][8]float32
			for lane := 0; lane < 32; lane++ {
				for i := 0; i < 4; i++ {
					row, col := cFragment(lane, i)
					d[row][col] = out[4*lane+i]
				}
			}
			p.check(t, "fragments", d)
		}
	}
}

// cFragment is the ISA's accumulator layout: element ci of lane.
func cFragment(lane, i int) (row, col int) {
	row = lane >> 2
	if i >= 2 {
		row += 8
	}
	return row, (lane%4)*2 + (i & 1)
}

// ldmatrix feeds mma as the kernels use it: A row-major with .x4; B row-major (K×N) with
// .x2.trans, or column-major (N×K) with .x2. A layout error in either instruction makes
// D differ from A·B + C.
func TestLdmatrixFeedsMMA16(t *testing.T) {
	// in: A (16×16 halves, row-major, 512 bytes), then B (256 bytes), then C (16×8 f32,
	// row-major). Each thread copies its words of A and B to shared memory first.
	loadB := map[bool]string{
		// row-major B, 16 rows of 16 bytes: lane l < 16 gives row l.
		false: `and.b32 %r14, %r1, 15;
	shl.b32 %r14, %r14, 4;
	add.u32 %r14, %r14, %r6;
	ldmatrix.sync.aligned.m8n8.x2.trans.shared.b16 {%r15, %r16}, [%r14];`,
		// column-major B: 8 rows (n) of 32 bytes (k); matrix m covers k in [8m, 8m+8).
		true: `and.b32 %r14, %r1, 7;
	shl.b32 %r14, %r14, 5;
	shr.u32 %r17, %r1, 3;
	and.b32 %r17, %r17, 1;
	shl.b32 %r17, %r17, 4;
	add.u32 %r14, %r14, %r17;
	add.u32 %r14, %r14, %r6;
	ldmatrix.sync.aligned.m8n8.x2.shared.b16 {%r15, %r16}, [%r14];`,
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for _, ty := range []string{"bf16", "f16"} {
		for _, colMajor := range []bool{false, true} {
			src := mmaHeader + `
	mul.wide.u32 %rd3, %r1, 4;
	add.u64 %rd4, %rd2, %rd3;
	mov.u32 %r2, sa;
	shl.b32 %r3, %r1, 2;
	add.u32 %r4, %r2, %r3;
	ld.global.b32 %r5, [%rd4];
	st.shared.b32 [%r4], %r5;
	ld.global.b32 %r5, [%rd4+128];
	st.shared.b32 [%r4+128], %r5;
	ld.global.b32 %r5, [%rd4+256];
	st.shared.b32 [%r4+256], %r5;
	ld.global.b32 %r5, [%rd4+384];
	st.shared.b32 [%r4+384], %r5;
	mov.u32 %r6, sb;
	add.u32 %r7, %r6, %r3;
	ld.global.b32 %r5, [%rd4+512];
	st.shared.b32 [%r7], %r5;
	ld.global.b32 %r5, [%rd4+640];
	st.shared.b32 [%r7+128], %r5;
	bar.sync 0;
	and.b32 %r8, %r1, 15;
	shl.b32 %r8, %r8, 5;
	shr.u32 %r9, %r1, 4;
	shl.b32 %r9, %r9, 4;
	add.u32 %r8, %r8, %r9;
	add.u32 %r8, %r8, %r2;
	ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%r10, %r11, %r12, %r13}, [%r8];
	` + loadB[colMajor] + `
	shr.u32 %r20, %r1, 2;
	and.b32 %r21, %r1, 3;
	shl.b32 %r22, %r20, 3;
	shl.b32 %r23, %r21, 1;
	add.u32 %r22, %r22, %r23;
	mul.wide.u32 %rd5, %r22, 4;
	add.u64 %rd6, %rd2, %rd5;
	ld.global.f32 %f1, [%rd6+768];
	ld.global.f32 %f2, [%rd6+772];
	ld.global.f32 %f3, [%rd6+1024];
	ld.global.f32 %f4, [%rd6+1028];
	mma.sync.aligned.m16n8k16.row.col.f32.` + ty + `.` + ty + `.f32 {%f5, %f6, %f7, %f8}, {%r10, %r11, %r12, %r13}, {%r15, %r16}, {%f1, %f2, %f3, %f4};
	add.u64 %rd7, %rd1, %rd5;
	st.global.f32 [%rd7], %f5;
	st.global.f32 [%rd7+4], %f6;
	st.global.f32 [%rd7+256], %f7;
	st.global.f32 [%rd7+260], %f8;
	ret;
}`
			m, err := Load(src)
			if err != nil {
				t.Fatal(err)
			}
			p := newMMAProblem(ty, rng)
			var halves []uint16
			for i := range p.a {
				halves = append(halves, p.a[i][:]...)
			}
			if colMajor {
				for n := 0; n < 8; n++ {
					for k := 0; k < 16; k++ {
						halves = append(halves, p.b[k][n])
					}
				}
			} else {
				for k := range p.b {
					halves = append(halves, p.b[k][:]...)
				}
			}
			in := make([]int32, 0, 320)
			for i := 0; i < len(halves); i += 2 {
				in = append(in, int32(uint32(halves[i])|uint32(halves[i+1])<<16))
			}
			for i := range p.c {
				for _, v := range p.c[i] {
					in = append(in, int32(math.Float32bits(v)))
				}
			}
			mem := NewMemory()
			pin, _ := mem.AllocI32(in)
			pout, _ := mem.Alloc(4 * 128)
			if err := m.Launch(mem, "k", [3]int{1, 1, 1}, [3]int{32, 1, 1}, 0, pout, pin, 0); err != nil {
				t.Fatal(err)
			}
			out, _ := mem.ReadF32(pout, 128)
			var d [16][8]float32
			for i := range d {
				copy(d[i][:], out[8*i:])
			}
			p.check(t, fmt.Sprintf("ldmatrix (B column-major %v)", colMajor), d)
		}
	}
}

// Each form of ldmatrix on four distinct 8×8 matrices, checked against the ISA's rule:
// lane 8m + r addresses row r of matrix m; lane 4r + w receives word w of row r of each
// matrix (transposed with .trans: elements (2w, r) and (2w+1, r)).
func TestLdmatrixForms(t *testing.T) {
	var mats [4][8][8]uint16
	for m := range mats {
		for r := range mats[m] {
			for c := range mats[m][r] {
				mats[m][r][c] = uint16(1000*m + 10*r + c + 1)
			}
		}
	}
	// Shared layout: matrix m row r at byte 16·(8m + r) of sa, rows in reverse order
	// (row 7 first) so that a reader ignoring the addresses is caught.
	words := make([]int32, 128)
	for m := range mats {
		for r := range mats[m] {
			at := 4 * (8*m + 7 - r)
			for w := 0; w < 4; w++ {
				words[at+w] = int32(uint32(mats[m][r][2*w]) | uint32(mats[m][r][2*w+1])<<16)
			}
		}
	}
	for _, n := range []int{1, 2, 4} {
		for _, trans := range []bool{false, true} {
			regs := []string{"%r10", "%r11", "%r12", "%r13"}[:n]
			form := fmt.Sprintf("ldmatrix.sync.aligned.m8n8.x%d", n)
			if trans {
				form += ".trans"
			}
			var stores strings.Builder
			for i, r := range regs {
				fmt.Fprintf(&stores, "st.global.b32 [%%rd7+%d], %s;\n", 4*i, r)
			}
			src := mmaHeader + `
	mul.wide.u32 %rd3, %r1, 4;
	add.u64 %rd4, %rd2, %rd3;
	mov.u32 %r2, sa;
	shl.b32 %r3, %r1, 2;
	add.u32 %r4, %r2, %r3;
	ld.global.b32 %r5, [%rd4];
	st.shared.b32 [%r4], %r5;
	ld.global.b32 %r5, [%rd4+128];
	st.shared.b32 [%r4+128], %r5;
	ld.global.b32 %r5, [%rd4+256];
	st.shared.b32 [%r4+256], %r5;
	ld.global.b32 %r5, [%rd4+384];
	st.shared.b32 [%r4+384], %r5;
	bar.sync 0;
	shr.u32 %r8, %r1, 3;
	and.b32 %r9, %r1, 7;
	mov.u32 %r14, 7;
	sub.u32 %r9, %r14, %r9;
	shl.b32 %r8, %r8, 3;
	add.u32 %r8, %r8, %r9;
	shl.b32 %r8, %r8, 4;
	add.u32 %r8, %r8, %r2;
	` + form + `.shared.b16 {` + strings.Join(regs, ", ") + `}, [%r8];
	shl.b32 %r15, %r1, 4;
	cvt.u64.u32 %rd5, %r15;
	add.u64 %rd7, %rd1, %rd5;
	` + stores.String() + `
	ret;
}`
			m, err := Load(src)
			if err != nil {
				t.Fatalf("%s: %v", form, err)
			}
			mem := NewMemory()
			pin, _ := mem.AllocI32(words)
			pout, _ := mem.ZerosF32(4 * 32)
			if err := m.Launch(mem, "k", [3]int{1, 1, 1}, [3]int{32, 1, 1}, 0, pout, pin, 0); err != nil {
				t.Fatalf("%s: %v", form, err)
			}
			out, _ := mem.ReadI32(pout, 4*32)
			for lane := 0; lane < 32; lane++ {
				r, w := lane/4, lane%4
				for mi := 0; mi < n; mi++ {
					lo, hi := mats[mi][r][2*w], mats[mi][r][2*w+1]
					if trans {
						lo, hi = mats[mi][2*w][r], mats[mi][2*w+1][r]
					}
					if got := uint32(out[4*lane+mi]); got != uint32(lo)|uint32(hi)<<16 {
						t.Errorf("%s lane %d register %d = 0x%08x, want 0x%04x%04x", form, lane, mi, got, hi, lo)
					}
				}
			}
		}
	}
}

// Malformed or unsupported 16-bit forms are rejected when the module loads.
func TestMMA16RejectsUnsupportedForms(t *testing.T) {
	for _, bad := range []string{
		`mma.sync.aligned.m16n8k8.row.col.f32.bf16.bf16.f32 {%f5, %f6, %f7, %f8}, {%r10, %r11}, {%r15}, {%f1, %f2, %f3, %f4};`,
		`mma.sync.aligned.m16n8k16.row.col.f16.f16.f16.f16 {%r5, %r6}, {%r10, %r11, %r12, %r13}, {%r15, %r16}, {%r1, %r2};`,
		`ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%r10, %r11}, [%r1];`,
		`ldmatrix.sync.aligned.m8n8.x1.global.b16 {%r10}, [%rd1];`,
		`cvt.rn.bf16x2.f32 %r3, %f1;`,
		`cvt.rz.f16x2.f32 %r3, %f1, %f2;`,
		`cvt.f32.bf16 %f1, %r3;`,
	} {
		if _, err := Load(mmaHeader + bad + "\nret;\n}"); err == nil {
			t.Errorf("%s was accepted", bad)
		}
	}
}
