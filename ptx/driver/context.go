package driver

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"unsafe"
)

// Context is a CUDA context on one device, driven through libcuda. It implements Backend and
// is safe for concurrent use.
//
// Threading: the driver keeps "the current context" per OS thread, and Go moves goroutines
// between threads at will. Each method therefore pins its goroutine to its thread
// (runtime.LockOSThread) and makes the context current there (cuCtxSetCurrent) for the
// duration of the driver call, then unpins. The alternative, one goroutine locked to one
// thread that runs every call sent to it over a channel, costs a cross-thread wake-up on
// every call and serializes callers. BenchmarkFakeCallOverhead measures both on a no-op
// driver call (2 cores, Zen 3): 0.3-0.7 µs per call this way, 6-11 µs through a dedicated
// thread, which would double the cost of launching a small kernel (a few µs on the GPU
// side). cuCtxSetCurrent only writes a thread-local pointer, and goroutines on different
// threads can issue work concurrently, which the driver supports.
type Context struct {
	drv  *Driver
	ctx  uintptr
	info Info

	// mu is held shared by every call and exclusively by Close, so that no call can use
	// the context while or after it is destroyed.
	mu     sync.RWMutex
	closed bool
}

// NewContext creates a context on the device with the given ordinal.
func (d *Driver) NewContext(ordinal int) (*Context, error) {
	info, err := d.DeviceInfo(ordinal)
	if err != nil {
		return nil, err
	}
	dev, err := d.device(ordinal)
	if err != nil {
		return nil, err
	}
	// cuCtxCreate also makes the new context current on this thread; keeping the goroutine
	// on it until then keeps that side effect off other goroutines' threads' state.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var ctx uintptr
	const schedAuto = 0 // CU_CTX_SCHED_AUTO: spin or yield depending on the number of cores
	if err := d.check("cuCtxCreate_v2", call(d.fn.ctxCreate, uintptr(unsafe.Pointer(&ctx)), schedAuto, uintptr(dev))); err != nil {
		return nil, err
	}
	return &Context{drv: d, ctx: ctx, info: info}, nil
}

// enter makes the context current on the calling goroutine's thread and keeps the goroutine
// there; every successful enter is paired with leave.
func (c *Context) enter() error {
	c.mu.RLock()
	if c.closed {
		c.mu.RUnlock()
		return ErrClosed
	}
	runtime.LockOSThread()
	if err := c.drv.check("cuCtxSetCurrent", call(c.drv.fn.ctxSetCurrent, c.ctx)); err != nil {
		runtime.UnlockOSThread()
		c.mu.RUnlock()
		return err
	}
	return nil
}

func (c *Context) leave() {
	runtime.UnlockOSThread()
	c.mu.RUnlock()
}

// do runs one driver call inside enter/leave and turns its result into an error.
func (c *Context) do(op string, f func() Result) error {
	if err := c.enter(); err != nil {
		return err
	}
	defer c.leave()
	return c.drv.check(op, f())
}

// Info describes the context's device.
func (c *Context) Info() Info { return c.info }

// Driver is the library the context was created with.
func (c *Context) Driver() *Driver { return c.drv }

// MemAlloc allocates device memory directly (no caching; see Allocator).
func (c *Context) MemAlloc(bytes int64) (DevicePtr, error) {
	if bytes <= 0 {
		return 0, fmt.Errorf("cuda: cuMemAlloc of %d bytes", bytes)
	}
	var p uint64
	err := c.do("cuMemAlloc_v2", func() Result {
		return call(c.drv.fn.memAlloc, uintptr(unsafe.Pointer(&p)), uintptr(bytes))
	})
	return DevicePtr(p), err
}

// MemFree frees memory from MemAlloc.
func (c *Context) MemFree(p DevicePtr) error {
	return c.do("cuMemFree_v2", func() Result { return call(c.drv.fn.memFree, uintptr(p)) })
}

// MemGetInfo is the device memory that is free and in all, in bytes.
func (c *Context) MemGetInfo() (free, total int64, err error) {
	var f, t uint64
	err = c.do("cuMemGetInfo_v2", func() Result {
		return call(c.drv.fn.memGetInfo, uintptr(unsafe.Pointer(&f)), uintptr(unsafe.Pointer(&t)))
	})
	return int64(f), int64(t), err
}

// CopyHtoD copies src to device memory at dst.
func (c *Context) CopyHtoD(dst DevicePtr, src []byte) error {
	if len(src) == 0 {
		return nil
	}
	return c.do("cuMemcpyHtoD_v2", func() Result {
		return call(c.drv.fn.memcpyHtoD, uintptr(dst), uintptr(unsafe.Pointer(&src[0])), uintptr(len(src)))
	})
}

// CopyDtoH copies len(dst) bytes from device memory at src.
func (c *Context) CopyDtoH(dst []byte, src DevicePtr) error {
	if len(dst) == 0 {
		return nil
	}
	return c.do("cuMemcpyDtoH_v2", func() Result {
		return call(c.drv.fn.memcpyDtoH, uintptr(unsafe.Pointer(&dst[0])), uintptr(src), uintptr(len(dst)))
	})
}

// CopyDtoD copies bytes between device buffers.
func (c *Context) CopyDtoD(dst, src DevicePtr, bytes int64) error {
	if bytes <= 0 {
		return nil
	}
	return c.do("cuMemcpyDtoD_v2", func() Result {
		return call(c.drv.fn.memcpyDtoD, uintptr(dst), uintptr(src), uintptr(bytes))
	})
}

// MemsetD32 sets count 32-bit words at dst to value.
func (c *Context) MemsetD32(dst DevicePtr, value uint32, count int64) error {
	if count <= 0 {
		return nil
	}
	return c.do("cuMemsetD32_v2", func() Result {
		return call(c.drv.fn.memsetD32, uintptr(dst), uintptr(value), uintptr(count))
	})
}

// Synchronize waits for all queued work of the context.
func (c *Context) Synchronize() error {
	return c.do("cuCtxSynchronize", func() Result { return call(c.drv.fn.ctxSynchronize) })
}

// Close destroys the context. Later calls on it, or on anything it made, return ErrClosed.
func (c *Context) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	return c.drv.check("cuCtxDestroy_v2", call(c.drv.fn.ctxDestroy, c.ctx))
}

// CUjit_option values from cuda.h.
const (
	jitInfoLogBuffer          = 3
	jitInfoLogBufferSizeBytes = 4
	jitErrorLogBuffer         = 5
	jitErrorLogBufferSize     = 6
)

// jitLogBytes bounds each JIT log; ptxas messages are a few lines per problem.
const jitLogBytes = 32 << 10

// LoadPTX JIT-compiles ptx for the context's device. On failure the *Error's Log holds the
// compiler's error log, e.g. "ptxas application ptx input, line 12; error : ...".
func (c *Context) LoadPTX(ptx string) (Module, error) {
	image := make([]byte, len(ptx)+1) // the driver reads PTX text up to its NUL
	copy(image, ptx)
	infoLog := make([]byte, jitLogBytes)
	errLog := make([]byte, jitLogBytes)
	// The option values array holds the log buffers' addresses as plain integers, out of
	// sight of the garbage collector: pinning keeps the buffers on the heap, in place and
	// alive until the driver has written them.
	var pin runtime.Pinner
	pin.Pin(&infoLog[0])
	pin.Pin(&errLog[0])
	defer pin.Unpin()
	opts := []int32{jitInfoLogBuffer, jitInfoLogBufferSizeBytes, jitErrorLogBuffer, jitErrorLogBufferSize}
	vals := []uintptr{
		uintptr(unsafe.Pointer(&infoLog[0])), uintptr(len(infoLog)),
		uintptr(unsafe.Pointer(&errLog[0])), uintptr(len(errLog)),
	}
	var mod uintptr
	if err := c.enter(); err != nil {
		return nil, err
	}
	r := call(c.drv.fn.moduleLoadDataEx, uintptr(unsafe.Pointer(&mod)), uintptr(unsafe.Pointer(&image[0])),
		uintptr(len(opts)), uintptr(unsafe.Pointer(&opts[0])), uintptr(unsafe.Pointer(&vals[0])))
	c.leave()
	// On return the driver has replaced each size option's value by the bytes it wrote.
	info := jitLog(infoLog, vals[1])
	if r != Success {
		e := &Error{Op: "cuModuleLoadDataEx", Code: r, Message: c.drv.describe(r), Log: jitLog(errLog, vals[3])}
		if e.Log == "" {
			e.Log = info
		}
		return nil, e
	}
	return &cudaModule{c: c, h: mod, log: info}, nil
}

// jitLog is the text the driver wrote into buf, n bytes by its own count.
func jitLog(buf []byte, n uintptr) string {
	if n > uintptr(len(buf)) {
		n = uintptr(len(buf))
	}
	s := buf[:n]
	for i, b := range s {
		if b == 0 {
			s = s[:i]
			break
		}
	}
	return string(s)
}

type cudaModule struct {
	c        *Context
	h        uintptr
	log      string
	unloaded atomic.Bool
}

func (m *cudaModule) Log() string { return m.log }

func (m *cudaModule) Kernel(name string) (Kernel, error) {
	if m.unloaded.Load() {
		return nil, fmt.Errorf("cuda: kernel %q: module is unloaded", name)
	}
	cname := append([]byte(name), 0)
	var f uintptr
	err := m.c.do("cuModuleGetFunction", func() Result {
		return call(m.c.drv.fn.moduleGetFunction, uintptr(unsafe.Pointer(&f)), m.h, uintptr(unsafe.Pointer(&cname[0])))
	})
	if err != nil {
		return nil, fmt.Errorf("kernel %q: %w", name, err)
	}
	return &cudaKernel{m: m, h: f, name: name}, nil
}

func (m *cudaModule) Unload() error {
	if m.unloaded.Swap(true) {
		return nil
	}
	return m.c.do("cuModuleUnload", func() Result { return call(m.c.drv.fn.moduleUnload, m.h) })
}

type cudaKernel struct {
	m    *cudaModule
	h    uintptr
	name string
}

func (k *cudaKernel) Name() string { return k.name }

func (k *cudaKernel) Launch(cfg LaunchConfig, args ...Arg) error {
	if k.m.unloaded.Load() {
		return fmt.Errorf("cuda: launch of %s: module is unloaded", k.name)
	}
	p, err := packArgs(args)
	if err != nil {
		return fmt.Errorf("launch of %s: %w", k.name, err)
	}
	gx, gy, gz := cfg.Grid.norm()
	bx, by, bz := cfg.Block.norm()
	err = k.m.c.do("cuLaunchKernel", func() Result {
		// The driver copies the parameter values during the call, so p only has to live
		// until it returns.
		r := call(k.m.c.drv.fn.launchKernel, k.h, uintptr(gx), uintptr(gy), uintptr(gz),
			uintptr(bx), uintptr(by), uintptr(bz), uintptr(cfg.SharedBytes), 0, uintptr(p.base()), 0)
		runtime.KeepAlive(p)
		return r
	})
	if err != nil {
		return fmt.Errorf("launch of %s (grid %v, block %v, %d B shared): %w", k.name, cfg.Grid, cfg.Block, cfg.SharedBytes, err)
	}
	return nil
}

// CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES from cuda.h.
const funcAttrMaxDynamicShared = 8

func (k *cudaKernel) SetMaxDynamicSharedMemory(bytes int) error {
	return k.m.c.do("cuFuncSetAttribute", func() Result {
		return call(k.m.c.drv.fn.funcSetAttribute, k.h, funcAttrMaxDynamicShared, uintptr(bytes))
	})
}

var _ Backend = (*Context)(nil)
