package driver

import (
	"errors"
	"math"
	"math/rand"
	"strings"
	"testing"
	"time"
)

// gpuContext is a context on device 0 of the system's driver, or a skip where there is none.
func gpuContext(t *testing.T) *Context {
	t.Helper()
	c, err := NewContext(0)
	if IsUnavailable(err) {
		t.Skipf("no CUDA driver or device: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Error(err)
		}
	})
	return c
}

// saxpyPTX: y[i] = a*x[i] + y[i] for i < n, one thread per element. sm_52 and PTX 6.0 so
// that every driver of the last years can JIT it for its device.
const saxpyPTX = `.version 6.0
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

func TestGPUSaxpy(t *testing.T) {
	c := gpuContext(t)
	t.Logf("device: %v", c.Info())
	m, err := c.LoadPTX(saxpyPTX)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Unload()
	k, err := m.Kernel("saxpy")
	if err != nil {
		t.Fatal(err)
	}
	alloc := NewAllocator(c)
	defer alloc.ReleaseCached()
	rng := rand.New(rand.NewSource(7))
	for _, n := range []int{1, 7, 31, 1000, 100_003} {
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
		if err := c.CopyHtoD(dx, HostBytes(x)); err != nil {
			t.Fatal(err)
		}
		if err := c.CopyHtoD(dy, HostBytes(y)); err != nil {
			t.Fatal(err)
		}
		const a = float32(0.75)
		if err := k.Launch(Blocks1D(n, 256), Ptr(dy), Ptr(dx), F32(a), U32(uint32(n))); err != nil {
			t.Fatal(err)
		}
		got := make([]float32, n)
		if err := c.CopyDtoH(HostBytes(got), dy); err != nil {
			t.Fatal(err)
		}
		for i := range got {
			// fma rounds once; the float64 reference rounded to float32 is the same number
			// except in rare double-rounding cases, hence one ulp of slack.
			want := float32(float64(a)*float64(x[i]) + float64(y[i]))
			if diff := math.Abs(float64(got[i] - want)); diff > 1e-7*math.Max(1, math.Abs(float64(want))) {
				t.Fatalf("n=%d: y[%d] = %g, want %g", n, i, got[i], want)
			}
		}
		_ = alloc.Free(dx)
		_ = alloc.Free(dy)
	}
	if s := alloc.Stats(); s.Hits == 0 {
		t.Errorf("allocator never reused a block: %+v", s)
	}
}

func TestGPUInvalidPTX(t *testing.T) {
	c := gpuContext(t)
	_, err := c.LoadPTX(strings.Replace(saxpyPTX, "fma.rn.f32", "fma.bogus.f32", 1))
	var e *Error
	if !errors.As(err, &e) || e.Code != ErrInvalidPTX || !strings.Contains(e.Log, "error") {
		t.Fatalf("invalid PTX gave %v", err)
	}
	t.Logf("JIT error: %v", err)
}

func TestGPUMemsetStreamEvents(t *testing.T) {
	c := gpuContext(t)
	const n = 1 << 20
	p, err := c.MemAlloc(4 * n)
	if err != nil {
		t.Fatal(err)
	}
	defer c.MemFree(p)
	s, err := c.NewStream()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Destroy()
	start, _ := c.NewEvent()
	end, _ := c.NewEvent()
	if err := start.Record(s); err != nil {
		t.Fatal(err)
	}
	if err := c.MemsetD32(p, math.Float32bits(-2.5), n); err != nil {
		t.Fatal(err)
	}
	host := make([]float32, n)
	if err := c.CopyDtoHAsync(HostBytes(host), p, s); err != nil {
		t.Fatal(err)
	}
	if err := end.Record(s); err != nil {
		t.Fatal(err)
	}
	if err := end.Synchronize(); err != nil {
		t.Fatal(err)
	}
	dt, err := end.Since(start)
	if err != nil || dt <= 0 || dt > 10*time.Second {
		t.Fatalf("elapsed %v, %v", dt, err)
	}
	for _, i := range []int{0, 1, n / 2, n - 1} {
		if host[i] != -2.5 {
			t.Fatalf("element %d is %g after memset to -2.5", i, host[i])
		}
	}
	_ = start.Destroy()
	_ = end.Destroy()
	if _, err := c.MemAlloc(1 << 50); !errors.Is(err, ErrOutOfMemory) {
		t.Fatalf("1 PiB allocation: %v", err)
	}
}
