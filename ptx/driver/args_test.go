package driver

import (
	"math"
	"testing"
	"unsafe"
)

// The driver reads parameter i as Size() bytes at ptrs[i]; read them back the same way.
func TestPackArgs(t *testing.T) {
	args := []Arg{Ptr(0xdead_beef_0000_1230), I32(-7), U32(4_000_000_000), F32(-1.5), I64(-1 << 40), F32(float32(math.Inf(1)))}
	p, err := packArgs(args)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.ptrs) != len(args) {
		t.Fatalf("%d pointers for %d args", len(p.ptrs), len(args))
	}
	if got := *(*uint64)(p.ptrs[0]); got != 0xdead_beef_0000_1230 {
		t.Errorf("ptr arg reads %#x", got)
	}
	if got := *(*int32)(p.ptrs[1]); got != -7 {
		t.Errorf("i32 arg reads %d", got)
	}
	if got := *(*uint32)(p.ptrs[2]); got != 4_000_000_000 {
		t.Errorf("u32 arg reads %d", got)
	}
	if got := *(*float32)(p.ptrs[3]); got != -1.5 {
		t.Errorf("f32 arg reads %g", got)
	}
	if got := *(*int64)(p.ptrs[4]); got != -1<<40 {
		t.Errorf("i64 arg reads %d", got)
	}
	if got := *(*float32)(p.ptrs[5]); !math.IsInf(float64(got), 1) {
		t.Errorf("f32 inf reads %g", got)
	}
	// The array handed to cuLaunchKernel is the pointer slice itself.
	if p.base() != unsafe.Pointer(&p.ptrs[0]) {
		t.Error("base is not the pointer array")
	}
	// Distinct slots: writing through one pointer must not change another value.
	*(*int32)(p.ptrs[1]) = 99
	if *(*uint32)(p.ptrs[2]) != 4_000_000_000 {
		t.Error("slots overlap")
	}
	for i, a := range args {
		want := 8
		if i >= 1 && i <= 3 || i == 5 {
			want = 4
		}
		if a.Size() != want {
			t.Errorf("%v: size %d, want %d", a, a.Size(), want)
		}
	}
}

func TestPackArgsEmptyAndInvalid(t *testing.T) {
	p, err := packArgs(nil)
	if err != nil || p.base() != nil {
		t.Fatalf("no args: base %v, err %v", p.base(), err)
	}
	if _, err := packArgs([]Arg{I32(1), {}}); err == nil {
		t.Fatal("zero Arg accepted")
	}
}

func TestArgString(t *testing.T) {
	for _, c := range []struct {
		a    Arg
		want string
	}{{Ptr(0x100), "ptr(0x100)"}, {I32(-3), "i32(-3)"}, {U32(3), "u32(3)"}, {F32(0.5), "f32(0.5)"}, {I64(-9), "i64(-9)"}, {Arg{}, "invalid"}} {
		if c.a.String() != c.want {
			t.Errorf("%q, want %q", c.a.String(), c.want)
		}
	}
}

func TestArgValue(t *testing.T) {
	for _, c := range []struct {
		a    Arg
		want any
	}{{Ptr(0x100), DevicePtr(0x100)}, {I32(-3), int32(-3)}, {U32(3), uint32(3)}, {F32(0.5), float32(0.5)}, {I64(-9), int64(-9)}, {Arg{}, nil}} {
		if got := c.a.Value(); got != c.want {
			t.Errorf("%v: Value %#v, want %#v", c.a, got, c.want)
		}
	}
}

func TestBlocks1D(t *testing.T) {
	for _, c := range []struct{ n, block, grid int }{{1, 256, 1}, {256, 256, 1}, {257, 256, 2}, {1000, 128, 8}, {0, 64, 1}, {7, 0, 7}} {
		cfg := Blocks1D(c.n, c.block)
		if int(cfg.Grid.X) != c.grid {
			t.Errorf("Blocks1D(%d, %d): grid %d, want %d", c.n, c.block, cfg.Grid.X, c.grid)
		}
		if x, y, z := cfg.Grid.norm(); x == 0 || y != 1 || z != 1 {
			t.Errorf("grid %v normalises to %d,%d,%d", cfg.Grid, x, y, z)
		}
	}
	if x, y, z := (Dim3{X: 4, Y: 3, Z: 2}).norm(); x != 4 || y != 3 || z != 2 {
		t.Error("explicit Dim3 changed")
	}
}

func TestHostBytes(t *testing.T) {
	f := []float32{1, -2, 0.25}
	b := HostBytes(f)
	if len(b) != 12 || unsafe.Pointer(&b[0]) != unsafe.Pointer(&f[0]) {
		t.Fatalf("HostBytes copied or mis-sized: len %d", len(b))
	}
	if got := math.Float32frombits(uint32(b[4]) | uint32(b[5])<<8 | uint32(b[6])<<16 | uint32(b[7])<<24); got != -2 {
		t.Fatalf("second element reads %g", got)
	}
	if HostBytes([]int64(nil)) != nil {
		t.Fatal("empty slice gave bytes")
	}
}

func TestInfoString(t *testing.T) {
	i := Info{Name: "NVIDIA H200", ComputeMajor: 9, TotalMemory: 140 << 30, Multiprocessors: 132, DriverVersion: 12040}
	if i.Arch() != "sm_90" {
		t.Errorf("arch %s", i.Arch())
	}
	if want := "cuda:0 NVIDIA H200 (sm_90, 140.0 GiB, 132 SMs, driver 12.4)"; i.String() != want {
		t.Errorf("%q, want %q", i.String(), want)
	}
}

func TestKernelParams(t *testing.T) {
	ps, err := KernelParams([]Arg{U32(5), Ptr(0x1000)})
	if err != nil || len(ps) != 2 {
		t.Fatalf("%d params, %v", len(ps), err)
	}
	// Other backends copy 8 bytes per parameter (gorgonia.org/cu does): the slot of a
	// 4-byte value must hold it in the low half and zeros above.
	if *(*uint64)(ps[0]) != 5 || *(*uint64)(ps[1]) != 0x1000 {
		t.Fatalf("slots hold %#x and %#x", *(*uint64)(ps[0]), *(*uint64)(ps[1]))
	}
	if _, err := KernelParams([]Arg{{}}); err == nil {
		t.Fatal("zero Arg accepted")
	}
}
