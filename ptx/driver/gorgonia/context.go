//go:build gorgonia

package gorgonia

/*
#include <cuda.h>
*/
import "C"

import (
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"sync"
	"unsafe"

	"github.com/hungry-ssm/hungry/ptx/driver"
	"gorgonia.org/cu"
)

// Context is a CUDA context created through gorgonia.org/cu. It implements driver.Backend
// and, like driver.Context, makes itself current on the calling goroutine's locked thread
// for each call (see driver.Context for why this rather than one dedicated thread).
type Context struct {
	ctx  cu.CUContext
	info driver.Info

	mu     sync.RWMutex // shared by calls, exclusive in Close
	closed bool
}

var _ driver.Backend = (*Context)(nil)

// wrap turns gorgonia.org/cu's error (an unexported integer type holding the CUresult, maybe
// wrapped), or a driver.Result from a direct C call, into a *driver.Error, so that errors.Is(err, driver.ErrOutOfMemory) works the same
// with either backend.
func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	for e := err; e != nil; e = errors.Unwrap(e) {
		if v := reflect.ValueOf(e); v.CanInt() {
			return &driver.Error{Op: op, Code: driver.Result(v.Int()), Message: err.Error()}
		}
	}
	return fmt.Errorf("cuda: %s: %w", op, err)
}

// NewContext creates a context on the device with the given ordinal.
func NewContext(ordinal int) (*Context, error) {
	n, err := cu.NumDevices()
	if err != nil {
		return nil, wrap("cuDeviceGetCount", err)
	}
	if ordinal < 0 || ordinal >= n {
		return nil, &driver.Error{Op: "cuDeviceGet", Code: driver.ErrInvalidDevice,
			Message: fmt.Sprintf("ordinal %d, but there are %d devices", ordinal, n)}
	}
	dev, err := cu.GetDevice(ordinal)
	if err != nil {
		return nil, wrap("cuDeviceGet", err)
	}
	info := driver.Info{Ordinal: ordinal, DriverVersion: cu.Version(), DeviceCount: n}
	if info.Name, err = dev.Name(); err != nil {
		return nil, wrap("cuDeviceGetName", err)
	}
	if info.TotalMemory, err = dev.TotalMem(); err != nil {
		return nil, wrap("cuDeviceTotalMem", err)
	}
	for _, a := range []struct {
		attr cu.DeviceAttribute
		dst  *int
	}{
		{cu.ComputeCapabilityMajor, &info.ComputeMajor},
		{cu.ComputeCapabilityMinor, &info.ComputeMinor},
		{cu.MultiprocessorCount, &info.Multiprocessors},
		{cu.MaxThreadsPerBlock, &info.MaxThreadsPerBlock},
		{cu.MaxSharedMemoryPerBlock, &info.MaxSharedPerBlock},
		// CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN, which cu v0.9.6 does not name.
		{cu.DeviceAttribute(C.CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN), &info.MaxSharedPerBlockOptin},
		{cu.WarpSize, &info.WarpSize},
		{cu.L2CacheSize, &info.L2CacheBytes},
		{cu.ClockRate, &info.ClockKHz},
	} {
		if *a.dst, err = dev.Attribute(a.attr); err != nil {
			return nil, wrap("cuDeviceGetAttribute", err)
		}
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	ctx, err := dev.MakeContext(cu.SchedAuto)
	if err != nil {
		return nil, wrap("cuCtxCreate", err)
	}
	return &Context{ctx: ctx, info: info}, nil
}

func (c *Context) enter() error {
	c.mu.RLock()
	if c.closed {
		c.mu.RUnlock()
		return driver.ErrClosed
	}
	runtime.LockOSThread()
	if err := cu.SetCurrentContext(c.ctx); err != nil {
		runtime.UnlockOSThread()
		c.mu.RUnlock()
		return wrap("cuCtxSetCurrent", err)
	}
	return nil
}

func (c *Context) leave() {
	runtime.UnlockOSThread()
	c.mu.RUnlock()
}

func (c *Context) do(op string, f func() error) error {
	if err := c.enter(); err != nil {
		return err
	}
	defer c.leave()
	return wrap(op, f())
}

// Info describes the context's device.
func (c *Context) Info() driver.Info { return c.info }

// MemAlloc allocates device memory directly.
func (c *Context) MemAlloc(bytes int64) (driver.DevicePtr, error) {
	if bytes <= 0 {
		return 0, fmt.Errorf("cuda: cuMemAlloc of %d bytes", bytes)
	}
	var p cu.DevicePtr
	err := c.do("cuMemAlloc", func() (err error) { p, err = cu.MemAlloc(bytes); return err })
	return driver.DevicePtr(p), err
}

// MemFree frees memory from MemAlloc.
func (c *Context) MemFree(p driver.DevicePtr) error {
	return c.do("cuMemFree", func() error { return cu.MemFree(cu.DevicePtr(p)) })
}

// CopyHtoD copies src to device memory at dst.
func (c *Context) CopyHtoD(dst driver.DevicePtr, src []byte) error {
	if len(src) == 0 {
		return nil
	}
	return c.do("cuMemcpyHtoD", func() error {
		return cu.MemcpyHtoD(cu.DevicePtr(dst), unsafe.Pointer(&src[0]), int64(len(src)))
	})
}

// CopyDtoH copies len(dst) bytes from device memory at src.
func (c *Context) CopyDtoH(dst []byte, src driver.DevicePtr) error {
	if len(dst) == 0 {
		return nil
	}
	return c.do("cuMemcpyDtoH", func() error {
		return cu.MemcpyDtoH(unsafe.Pointer(&dst[0]), cu.DevicePtr(src), int64(len(dst)))
	})
}

// CopyDtoD copies bytes between device buffers.
func (c *Context) CopyDtoD(dst, src driver.DevicePtr, bytes int64) error {
	if bytes <= 0 {
		return nil
	}
	return c.do("cuMemcpyDtoD", func() error { return cu.MemcpyDtoD(cu.DevicePtr(dst), cu.DevicePtr(src), bytes) })
}

// MemsetD32 sets count 32-bit words at dst to value.
func (c *Context) MemsetD32(dst driver.DevicePtr, value uint32, count int64) error {
	if count <= 0 {
		return nil
	}
	return c.do("cuMemsetD32", func() error { return cu.MemsetD32(cu.DevicePtr(dst), value, count) })
}

// Synchronize waits for all queued work of the context.
func (c *Context) Synchronize() error {
	return c.do("cuCtxSynchronize", cu.Synchronize)
}

// Close destroys the context.
func (c *Context) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	return wrap("cuCtxDestroy", c.ctx.Destroy())
}

// jitLogBytes bounds each JIT log, as in package driver.
const jitLogBytes = 32 << 10

// LoadPTX JIT-compiles ptx; on failure the *driver.Error's Log holds the compiler's log.
func (c *Context) LoadPTX(ptx string) (driver.Module, error) {
	info := &cu.JITInfoLogBuffer{Buffer: make([]byte, jitLogBytes)}
	errLog := &cu.JITErrorLogBuffer{Buffer: make([]byte, jitLogBytes)}
	var m cu.Module
	err := c.do("cuModuleLoadDataEx", func() (err error) { m, err = cu.LoadDataEx(ptx, info, errLog); return err })
	runtime.KeepAlive(info)
	runtime.KeepAlive(errLog)
	if err != nil {
		var e *driver.Error
		if errors.As(err, &e) {
			// cu does not hand back the byte counts the driver writes; the logs are
			// NUL-terminated in the zeroed buffers.
			e.Log = cString(errLog.Buffer)
			if e.Log == "" {
				e.Log = cString(info.Buffer)
			}
		}
		return nil, err
	}
	return &module{c: c, m: m, log: cString(info.Buffer)}, nil
}

func cString(b []byte) string {
	for i, x := range b {
		if x == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}

type module struct {
	c   *Context
	m   cu.Module
	log string
}

func (m *module) Log() string { return m.log }

func (m *module) Kernel(name string) (driver.Kernel, error) {
	var f cu.Function
	err := m.c.do("cuModuleGetFunction", func() (err error) { f, err = m.m.Function(name); return err })
	if err != nil {
		return nil, fmt.Errorf("kernel %q: %w", name, err)
	}
	return &kernel{c: m.c, f: f, name: name}, nil
}

func (m *module) Unload() error {
	return m.c.do("cuModuleUnload", m.m.Unload)
}

type kernel struct {
	c    *Context
	f    cu.Function
	name string
}

func (k *kernel) Name() string { return k.name }

func (k *kernel) Launch(cfg driver.LaunchConfig, args ...driver.Arg) error {
	params, err := driver.KernelParams(args)
	if err != nil {
		return fmt.Errorf("launch of %s: %w", k.name, err)
	}
	gx, gy, gz := dims(cfg.Grid)
	bx, by, bz := dims(cfg.Block)
	err = k.c.do("cuLaunchKernel", func() error {
		// cu copies the parameter values into C memory before launching.
		err := k.f.Launch(gx, gy, gz, bx, by, bz, int(cfg.SharedBytes), cu.Stream{}, params)
		runtime.KeepAlive(params)
		return err
	})
	if err != nil {
		return fmt.Errorf("launch of %s (grid %v, block %v, %d B shared): %w", k.name, cfg.Grid, cfg.Block, cfg.SharedBytes, err)
	}
	return nil
}

func dims(d driver.Dim3) (x, y, z int) {
	x, y, z = int(d.X), int(d.Y), int(d.Z)
	if x == 0 {
		x = 1
	}
	if y == 0 {
		y = 1
	}
	if z == 0 {
		z = 1
	}
	return x, y, z
}

// cu v0.9.6 has no wrapper for cuFuncSetAttribute, so the call is made here on the
// CUfunction inside cu.Function, a struct whose only field is that handle; the array types
// below only match while both have the same size.
var _ [unsafe.Sizeof(cu.Function{})]struct{} = [unsafe.Sizeof(C.CUfunction(nil))]struct{}{}

func (k *kernel) SetMaxDynamicSharedMemory(bytes int) error {
	fn := *(*C.CUfunction)(unsafe.Pointer(&k.f))
	return k.c.do("cuFuncSetAttribute", func() error {
		if r := C.cuFuncSetAttribute(fn, C.CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, C.int(bytes)); r != C.CUDA_SUCCESS {
			return driver.Result(r)
		}
		return nil
	})
}
