// Package drivertest checks that an implementation of driver.Backend behaves as package
// driver documents: copies, memset, PTX loading with the JIT log in the error, kernel
// launches with typed arguments, and the caching allocator on top. Both bindings run it on
// the fake libcuda of package driver's tests (the gorgonia one through scripts/cuda-stub.sh)
// and on a GPU.
package drivertest

import (
	"errors"
	"math"
	"math/rand"
	"strings"
	"testing"

	"github.com/hungry-ssm/hungry/ptx/driver"
)

// SaxpyPTX holds one kernel, saxpy(y, x, a, n): y[i] = a*x[i] + y[i] for i < n, one thread
// per element. PTX 6.0 for sm_52, so that any recent driver JIT-compiles it for its device
// (checked with ptxas 11.8 for sm_52, sm_80 and sm_90).
const SaxpyPTX = `.version 6.0
.target sm_52
.address_size 64

.visible .entry saxpy(.param .u64 y, .param .u64 x, .param .f32 a, .param .u32 n)
{
	.reg .pred %p;
	.reg .b32 %r<5>;
	.reg .f32 %f<4>;
	.reg .b64 %rd<7>;

	ld.param.u64 %rd1, [y];
	ld.param.u64 %rd2, [x];
	ld.param.f32 %f1, [a];
	ld.param.u32 %r1, [n];
	mov.u32 %r2, %ctaid.x;
	mov.u32 %r3, %ntid.x;
	mov.u32 %r4, %tid.x;
	mad.lo.s32 %r2, %r2, %r3, %r4;
	setp.ge.u32 %p, %r2, %r1;
	@%p bra DONE;
	cvta.to.global.u64 %rd1, %rd1;
	cvta.to.global.u64 %rd2, %rd2;
	mul.wide.u32 %rd3, %r2, 4;
	add.s64 %rd4, %rd1, %rd3;
	add.s64 %rd5, %rd2, %rd3;
	ld.global.f32 %f2, [%rd5];
	ld.global.f32 %f3, [%rd4];
	fma.rn.f32 %f3, %f1, %f2, %f3;
	st.global.f32 [%rd4], %f3;
DONE:
	ret;
}
`

// sizes are the element counts every check runs on: tiny, odd, one short of a warp, and
// sizes that leave partial blocks.
func sizes() []int { return []int{1, 7, 31, 1000, 100_003} }

// Exercise runs every check on b. It frees what it allocates, and leaves b open.
func Exercise(t *testing.T, b driver.Backend) {
	t.Run("Memory", func(t *testing.T) { memory(t, b) })
	t.Run("Saxpy", func(t *testing.T) { saxpy(t, b) })
	t.Run("InvalidPTX", func(t *testing.T) { invalidPTX(t, b) })
}

func memory(t *testing.T, b driver.Backend) {
	rng := rand.New(rand.NewSource(1))
	for _, n := range sizes() {
		src := make([]float32, n)
		for i := range src {
			src[i] = rng.Float32()*2 - 1
		}
		p, err := b.MemAlloc(int64(4 * n))
		if err != nil {
			t.Fatal(err)
		}
		q, err := b.MemAlloc(int64(4 * n))
		if err != nil {
			t.Fatal(err)
		}
		if err := b.CopyHtoD(p, driver.HostBytes(src)); err != nil {
			t.Fatal(err)
		}
		if err := b.CopyDtoD(q, p, int64(4*n)); err != nil {
			t.Fatal(err)
		}
		got := make([]float32, n)
		if err := b.CopyDtoH(driver.HostBytes(got), q); err != nil {
			t.Fatal(err)
		}
		for i := range got {
			if got[i] != src[i] {
				t.Fatalf("n=%d: element %d is %g after a round trip, want %g", n, i, got[i], src[i])
			}
		}
		if err := b.MemsetD32(p, math.Float32bits(-2.5), int64(n)); err != nil {
			t.Fatal(err)
		}
		if err := b.CopyDtoH(driver.HostBytes(got), p); err != nil {
			t.Fatal(err)
		}
		for i := range got {
			if got[i] != -2.5 {
				t.Fatalf("n=%d: element %d is %g after memset to -2.5", n, i, got[i])
			}
		}
		if err := b.MemFree(p); err != nil {
			t.Fatal(err)
		}
		if err := b.MemFree(q); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := b.MemAlloc(1 << 50); !errors.Is(err, driver.ErrOutOfMemory) {
		t.Fatalf("1 PiB allocation: %v, want ErrOutOfMemory", err)
	}
}

func saxpy(t *testing.T, b driver.Backend) {
	m, err := b.LoadPTX(SaxpyPTX)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Unload()
	k, err := m.Kernel("saxpy")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Kernel("no_such_kernel"); !errors.Is(err, driver.ErrNotFound) {
		t.Fatalf("missing kernel: %v, want ErrNotFound", err)
	}
	alloc := driver.NewAllocator(b)
	defer alloc.ReleaseCached()
	rng := rand.New(rand.NewSource(2))
	for _, n := range sizes() {
		x, y := make([]float32, n), make([]float32, n)
		for i := range x {
			x[i], y[i] = rng.Float32()*2-1, rng.Float32()*2-1
		}
		dx, err := alloc.Alloc(int64(4 * n))
		if err != nil {
			t.Fatal(err)
		}
		dy, err := alloc.Alloc(int64(4 * n))
		if err != nil {
			t.Fatal(err)
		}
		if err := b.CopyHtoD(dx, driver.HostBytes(x)); err != nil {
			t.Fatal(err)
		}
		if err := b.CopyHtoD(dy, driver.HostBytes(y)); err != nil {
			t.Fatal(err)
		}
		const a = float32(0.75)
		if err := k.Launch(driver.Blocks1D(n, 256), driver.Ptr(dy), driver.Ptr(dx), driver.F32(a), driver.U32(uint32(n))); err != nil {
			t.Fatal(err)
		}
		got := make([]float32, n)
		if err := b.CopyDtoH(driver.HostBytes(got), dy); err != nil {
			t.Fatal(err)
		}
		for i := range got {
			// The kernel's fma rounds once; a*x+y in float64 rounded to float32 equals it
			// except for rare double roundings, and a CPU stand-in may round twice: allow
			// an error of a few ulps of values that are below 2 in magnitude.
			want := float32(float64(a)*float64(x[i]) + float64(y[i]))
			if math.Abs(float64(got[i]-want)) > 5e-7 {
				t.Fatalf("n=%d: y[%d] = %g, want %g", n, i, got[i], want)
			}
		}
		if err := alloc.Free(dx); err != nil {
			t.Fatal(err)
		}
		if err := alloc.Free(dy); err != nil {
			t.Fatal(err)
		}
	}
	if s := alloc.Stats(); s.Hits == 0 || s.InUseBlocks != 0 {
		t.Errorf("allocator stats %+v: expected reuse and nothing left in use", s)
	}
}

func invalidPTX(t *testing.T, b driver.Backend) {
	bad := strings.Replace(SaxpyPTX, "\tret;", "\tsyntax error;", 1)
	_, err := b.LoadPTX(bad)
	var e *driver.Error
	if !errors.As(err, &e) || e.Code != driver.ErrInvalidPTX {
		t.Fatalf("invalid PTX: %v, want an *Error with ErrInvalidPTX", err)
	}
	if e.Log == "" || !strings.Contains(err.Error(), e.Log) {
		t.Fatalf("the JIT's log is missing from %q", err)
	}
	t.Logf("JIT error: %v", err)
}
