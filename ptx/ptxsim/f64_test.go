package ptxsim

import (
	"math"
	"testing"
)

// TestFloat64 runs the .f64 subset on known values: arithmetic rounds once in float64,
// conversions to float32 round to nearest, to integers they round as the modifier says,
// and mov.b64 moves the bit pattern between integer and float registers.
func TestFloat64(t *testing.T) {
	src := header + `.visible .entry k(
.param .u64 out
)
{
.reg .pred %p<2>;
.reg .b32 %r<4>;
.reg .f32 %f<4>;
.reg .b64 %rd<4>;
.reg .f64 %fd<12>;
	ld.param.u64 %rd1, [out];
	mov.f64 %fd1, 0d3FF8000000000000;
	mov.f64 %fd2, 0d4004000000000000;
	fma.rn.f64 %fd3, %fd1, %fd2, %fd1;
	div.rn.f64 %fd4, %fd3, %fd2;
	neg.f64 %fd5, %fd4;
	cvt.rni.f64.f64 %fd6, %fd5;
	cvt.rni.s32.f64 %r1, %fd3;
	mov.b64 %rd2, 4611686018427387904;
	mov.b64 %fd7, %rd2;
	setp.lt.f64 %p1, %fd5, %fd7;
	selp.f64 %fd8, %fd7, %fd1, %p1;
	cvt.rn.f32.f64 %f1, %fd8;
	cvt.rn.f32.f64 %f2, %fd6;
	cvt.rn.f32.s32 %f3, %r1;
	st.global.f32 [%rd1], %f1;
	st.global.f32 [%rd1+4], %f2;
	st.global.f32 [%rd1+8], %f3;
	cvt.f64.f32 %fd9, %f3;
	sqrt.rn.f64 %fd10, %fd9;
	st.global.f64 [%rd1+16], %fd10;
}
`
	m, err := Load(src)
	if err != nil {
		t.Fatal(err)
	}
	mem := NewMemory()
	out, err := mem.Alloc(24)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Launch(mem, "k", [3]int{1, 1, 1}, [3]int{1, 1, 1}, 0, out); err != nil {
		t.Fatal(err)
	}
	got, err := mem.ReadF32(out, 3)
	if err != nil {
		t.Fatal(err)
	}
	// 1.5·2.5 + 1.5 = 5.25; 5.25/2.5 = 2.1; −2.1 rounds to −2; 5.25 rounds to 5;
	// −2.1 < 2 (the bits 0x4000000000000000) selects 2.
	if want := []float32{2, -2, 5}; got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Errorf("got %v, want %v", got, want)
	}
	raw, err := mem.ReadF32(out+16, 2)
	if err != nil {
		t.Fatal(err)
	}
	bits := uint64(math.Float32bits(raw[0])) | uint64(math.Float32bits(raw[1]))<<32
	if v := math.Float64frombits(bits); v != math.Sqrt(5) {
		t.Errorf("sqrt.rn.f64(5) = %v, want %v", v, math.Sqrt(5))
	}
}
