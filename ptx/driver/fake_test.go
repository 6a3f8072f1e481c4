//go:build linux && (amd64 || arm64)

package driver

import (
	"errors"
	"fmt"
	"math"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"unsafe"
)

// fakeLib is the fake driver, built once per test binary (a C compile per test would
// dominate the package's test time).
var fakeLib struct {
	once      sync.Once
	dir, path string
	skip, err string
}

func TestMain(m *testing.M) {
	code := m.Run()
	if fakeLib.dir != "" {
		os.RemoveAll(fakeLib.dir)
	}
	os.Exit(code)
}

// loadFake builds testdata/fakecuda.c, a host-memory stand-in for libcuda with the C
// signatures of cuda.h, and loads it as the driver. This runs every binding of the package
// through the real C calling convention without a GPU.
func loadFake(t testing.TB) *Driver {
	t.Helper()
	fakeLib.once.Do(func() {
		cc, err := exec.LookPath("cc")
		if err != nil {
			fakeLib.skip = "no C compiler to build the fake driver: " + err.Error()
			return
		}
		if fakeLib.dir, err = os.MkdirTemp("", "fakecuda"); err != nil {
			fakeLib.err = err.Error()
			return
		}
		fakeLib.path = filepath.Join(fakeLib.dir, "libfakecuda.so")
		out, err := exec.Command(cc, "-shared", "-fPIC", "-O1", "-o", fakeLib.path, "testdata/fakecuda.c").CombinedOutput()
		if err != nil {
			fakeLib.err = fmt.Sprintf("building the fake driver: %v\n%s", err, out)
		}
	})
	if fakeLib.skip != "" {
		t.Skip(fakeLib.skip)
	}
	if fakeLib.err != "" {
		t.Fatal(fakeLib.err)
	}
	d, err := LoadFrom(fakeLib.path)
	if err != nil {
		t.Fatalf("loading the fake driver: %v", err)
	}
	return d
}

func fakeContext(t *testing.T, d *Driver) *Context {
	t.Helper()
	c, err := d.NewContext(0)
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

func TestFakeDeviceInfo(t *testing.T) {
	d := loadFake(t)
	if d.Version() != 12040 {
		t.Errorf("version %d", d.Version())
	}
	info, err := d.DeviceInfo(0)
	if err != nil {
		t.Fatal(err)
	}
	want := Info{Name: "Fake GPU", ComputeMajor: 9, TotalMemory: 64 << 20, Multiprocessors: 132, MaxThreadsPerBlock: 1024,
		MaxSharedPerBlock: 49152, MaxSharedPerBlockOptin: 232448, WarpSize: 32, L2CacheBytes: 50 << 20, ClockKHz: 1980000,
		DriverVersion: 12040, DeviceCount: 1}
	if info != want {
		t.Fatalf("info %+v\nwant %+v", info, want)
	}
	if _, err := d.DeviceInfo(1); !errors.Is(err, ErrInvalidDevice) {
		t.Fatalf("device 1 of 1: %v", err)
	}
	if _, err := d.NewContext(-1); !errors.Is(err, ErrInvalidDevice) {
		t.Fatalf("device -1: %v", err)
	}
}

func TestFakeMemory(t *testing.T) {
	c := fakeContext(t, loadFake(t))
	for _, n := range []int{1, 7, 31, 1000} {
		src := make([]float32, n)
		for i := range src {
			src[i] = float32(i)*0.5 - 3
		}
		a, err := c.MemAlloc(int64(4 * n))
		if err != nil {
			t.Fatal(err)
		}
		b, err := c.MemAlloc(int64(4 * n))
		if err != nil {
			t.Fatal(err)
		}
		if err := c.CopyHtoD(a, HostBytes(src)); err != nil {
			t.Fatal(err)
		}
		if err := c.CopyDtoD(b, a, int64(4*n)); err != nil {
			t.Fatal(err)
		}
		got := make([]float32, n)
		if err := c.CopyDtoH(HostBytes(got), b); err != nil {
			t.Fatal(err)
		}
		for i := range got {
			if got[i] != src[i] {
				t.Fatalf("n=%d: element %d is %g after the round trip, want %g", n, i, got[i], src[i])
			}
		}
		if err := c.MemsetD32(a, math.Float32bits(1.5), int64(n)); err != nil {
			t.Fatal(err)
		}
		if err := c.CopyDtoH(HostBytes(got), a); err != nil {
			t.Fatal(err)
		}
		for i := range got {
			if got[i] != 1.5 {
				t.Fatalf("n=%d: element %d is %g after memset to 1.5", n, i, got[i])
			}
		}
		if err := c.MemFree(a); err != nil {
			t.Fatal(err)
		}
		if err := c.MemFree(b); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.MemAlloc(1 << 40); !errors.Is(err, ErrOutOfMemory) || !strings.Contains(err.Error(), "out of memory") {
		t.Fatalf("huge allocation: %v", err)
	}
	free, total, err := c.MemGetInfo()
	if err != nil || total != 64<<20 || free != total {
		t.Fatalf("MemGetInfo after freeing everything: %d of %d, %v", free, total, err)
	}
}

func TestFakeAllocatorOverContext(t *testing.T) {
	c := fakeContext(t, loadFake(t))
	a := NewAllocator(c)
	p, err := a.Alloc(1000)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.MemsetD32(p, 7, 256); err != nil { // the whole 1 KiB block is usable
		t.Fatal(err)
	}
	if err := a.Free(p); err != nil {
		t.Fatal(err)
	}
	if err := a.ReleaseCached(); err != nil {
		t.Fatal(err)
	}
	if s := a.Stats(); s.DeviceAllocs != 1 || s.DeviceFrees != 1 {
		t.Fatalf("stats %+v", s)
	}
}

const fakePTX = `.version 7.8
.target sm_80
.address_size 64
.visible .entry saxpy(.param .u64 y, .param .u64 x, .param .f32 a, .param .u32 n) { ret; }
.visible .entry echo(.param .u64 out, .param .s32 a, .param .u32 b, .param .f32 c, .param .s64 d, .param .u64 e) { ret; }
`

func TestFakeLaunch(t *testing.T) {
	d := loadFake(t)
	c := fakeContext(t, d)
	m, err := c.LoadPTX(fakePTX)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(m.Log(), "fake compile ok") {
		t.Errorf("JIT info log %q", m.Log())
	}
	saxpy, err := m.Kernel("saxpy")
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewSource(1))
	for _, n := range []int{1, 7, 31, 1000} {
		x, y := make([]float32, n), make([]float32, n)
		for i := range x {
			x[i], y[i] = rng.Float32()*2-1, rng.Float32()*2-1
		}
		dx, _ := c.MemAlloc(int64(4 * n))
		dy, _ := c.MemAlloc(int64(4 * n))
		if err := c.CopyHtoD(dx, HostBytes(x)); err != nil {
			t.Fatal(err)
		}
		if err := c.CopyHtoD(dy, HostBytes(y)); err != nil {
			t.Fatal(err)
		}
		const a = float32(-2.25)
		if err := saxpy.Launch(Blocks1D(n, 128), Ptr(dy), Ptr(dx), F32(a), U32(uint32(n))); err != nil {
			t.Fatal(err)
		}
		got := make([]float32, n)
		if err := c.CopyDtoH(HostBytes(got), dy); err != nil {
			t.Fatal(err)
		}
		for i := range got {
			// The fake computes in C float with the same single rounding of a*x+y as Go
			// may or may not fuse, so allow one ulp-scale difference.
			if want := a*x[i] + y[i]; math.Abs(float64(got[i]-want)) > 1e-6 {
				t.Fatalf("n=%d: y[%d] = %g, want %g", n, i, got[i], want)
			}
		}
		_ = c.MemFree(dx)
		_ = c.MemFree(dy)
	}

	// Launch geometry reaches the driver in cuLaunchKernel's argument order, on the
	// default (null) stream.
	echo, err := m.Kernel("echo")
	if err != nil {
		t.Fatal(err)
	}
	out, _ := c.MemAlloc(32)
	if err := echo.SetMaxDynamicSharedMemory(100 << 10); err != nil {
		t.Fatal(err)
	}
	cfg := LaunchConfig{Grid: Dim3{X: 3, Y: 5, Z: 7}, Block: Dim3{X: 32, Y: 4, Z: 2}, SharedBytes: 100 << 10}
	if err := echo.Launch(cfg, Ptr(out), I32(-123456), U32(3_000_000_000), F32(0.1), I64(-1<<50), Ptr(0xfeed_f00d_1234)); err != nil {
		t.Fatal(err)
	}
	var rec [9]uint32
	if r := call(mustSym(t, d, "fake_last_launch"), uintptr(unsafe.Pointer(&rec[0]))); r != Success {
		t.Fatal(r)
	}
	if want := [9]uint32{3, 5, 7, 32, 4, 2, 100 << 10, 0, 0}; rec != want {
		t.Fatalf("launch reached the driver as %v, want %v", rec, want)
	}
	raw := make([]byte, 32)
	if err := c.CopyDtoH(raw, out); err != nil {
		t.Fatal(err)
	}
	if v := *(*int32)(unsafe.Pointer(&raw[0])); v != -123456 {
		t.Errorf("i32 arrived as %d", v)
	}
	if v := *(*uint32)(unsafe.Pointer(&raw[4])); v != 3_000_000_000 {
		t.Errorf("u32 arrived as %d", v)
	}
	if v := *(*float32)(unsafe.Pointer(&raw[8])); v != 0.1 {
		t.Errorf("f32 arrived as %g", v)
	}
	if v := *(*int64)(unsafe.Pointer(&raw[16])); v != -1<<50 {
		t.Errorf("i64 arrived as %d", v)
	}
	if v := *(*uint64)(unsafe.Pointer(&raw[24])); v != 0xfeed_f00d_1234 {
		t.Errorf("ptr arrived as %#x", v)
	}
	// More dynamic shared memory than was allowed is the driver's error, passed through.
	cfg.SharedBytes = 300 << 10
	if err := echo.Launch(cfg, Ptr(out), I32(0), U32(0), F32(0), I64(0), Ptr(0)); !errors.Is(err, ErrInvalidValue) || !strings.Contains(err.Error(), "echo") {
		t.Fatalf("oversized launch: %v", err)
	}
	if _, err := m.Kernel("missing"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing kernel: %v", err)
	}
	if err := m.Unload(); err != nil {
		t.Fatal(err)
	}
	if err := saxpy.Launch(Blocks1D(1, 1), Ptr(out), Ptr(out), F32(0), U32(0)); err == nil {
		t.Fatal("launch from an unloaded module succeeded")
	}
}

func mustSym(t *testing.T, d *Driver, name string) uintptr {
	t.Helper()
	p, err := dlsym(d.handle, name)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestFakeJITError(t *testing.T) {
	c := fakeContext(t, loadFake(t))
	_, err := c.LoadPTX(".version 7.8\n syntax error here")
	var e *Error
	if !errors.As(err, &e) || e.Code != ErrInvalidPTX {
		t.Fatalf("bad PTX: %v", err)
	}
	if !strings.Contains(e.Log, "line 1; fatal   : fake parse error") || !strings.Contains(err.Error(), "fake parse error") {
		t.Fatalf("the JIT's log is not in the error: %q", err)
	}
	if e.Message != "a PTX JIT compilation failed" {
		t.Fatalf("driver description %q", e.Message)
	}
}

// Two contexts used from many goroutines at once: every call must run with its own context
// current on whatever thread it lands on. The fake refuses memory of another context, so a
// call made under the wrong context fails.
func TestFakeContextsAcrossThreads(t *testing.T) {
	d := loadFake(t)
	ctxs := []*Context{fakeContext(t, d), fakeContext(t, d)}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			c := ctxs[g%2]
			buf := make([]uint32, 64)
			for i := 0; i < 300; i++ {
				p, err := c.MemAlloc(256)
				if err != nil {
					errs <- err
					return
				}
				if err := c.MemsetD32(p, uint32(g*1000+i), 64); err != nil {
					errs <- err
					return
				}
				if err := c.CopyDtoH(HostBytes(buf), p); err != nil {
					errs <- err
					return
				}
				if buf[63] != uint32(g*1000+i) {
					errs <- errors.New("memset value lost")
					return
				}
				if err := c.MemFree(p); err != nil {
					errs <- err
					return
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// The check above can fail: memory of one context is refused by the other.
	p, err := ctxs[0].MemAlloc(64)
	if err != nil {
		t.Fatal(err)
	}
	if err := ctxs[1].MemsetD32(p, 1, 16); !errors.Is(err, ErrInvalidValue) {
		t.Fatalf("memory of context 0 used in context 1: %v", err)
	}
	if err := ctxs[0].MemFree(p); err != nil {
		t.Fatal(err)
	}
}

func TestFakeClosedContext(t *testing.T) {
	d := loadFake(t)
	c, err := d.NewContext(0)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := c.MemAlloc(16); !errors.Is(err, ErrClosed) {
		t.Fatalf("alloc after Close: %v", err)
	}
	if _, err := c.LoadPTX(fakePTX); !errors.Is(err, ErrClosed) {
		t.Fatalf("LoadPTX after Close: %v", err)
	}
}

// BenchmarkFakeCallOverhead measures what the threading choice of Context costs per driver
// call, on the fake driver's cuCtxSynchronize (which does nothing): making the context
// current on the caller's locked thread, against sending each call to one goroutine locked
// to a thread where the context stays current.
func BenchmarkFakeCallOverhead(b *testing.B) {
	d := loadFake(b)
	c, err := d.NewContext(0)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	b.Run("SetCurrentPerCall", func(b *testing.B) {
		for b.Loop() {
			if err := c.Synchronize(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("DedicatedThread", func(b *testing.B) {
		calls := make(chan func() Result)
		results := make(chan Result)
		go func() {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			call(d.fn.ctxSetCurrent, c.ctx)
			for f := range calls {
				results <- f()
			}
		}()
		defer close(calls)
		noop := func() Result { return call(d.fn.ctxSynchronize) }
		for b.Loop() {
			calls <- noop
			if r := <-results; r != Success {
				b.Fatal(r)
			}
		}
	})
	b.Run("Launch", func(b *testing.B) {
		m, err := c.LoadPTX(fakePTX)
		if err != nil {
			b.Fatal(err)
		}
		k, err := m.Kernel("saxpy")
		if err != nil {
			b.Fatal(err)
		}
		p, err := c.MemAlloc(4)
		if err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			if err := k.Launch(Blocks1D(1, 1), Ptr(p), Ptr(p), F32(1), U32(1)); err != nil {
				b.Fatal(err)
			}
		}
	})
}
