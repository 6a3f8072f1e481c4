// Package driver talks to an NVIDIA GPU through the CUDA driver API (libcuda), which it
// loads at run time: the default build needs neither cgo nor the CUDA toolkit, and on a
// machine without a driver or without a GPU every entry point returns an error that
// matches ErrNoDriver or ErrNoDevice, so callers can fall back to the CPU.
//
// Backend is the small interface a GPU tensor device needs: device memory, copies, PTX
// modules and kernel launches on the default stream. Context implements it over libcuda
// (via purego); package ptx/driver/gorgonia implements it over gorgonia.org/cu (cgo, build
// tag gorgonia). Allocator adds a caching allocator on top of any Backend's raw memory.
package driver

import (
	"fmt"
	"unsafe"
)

// DevicePtr is an address in device memory (a CUdeviceptr).
type DevicePtr uint64

// Add returns p advanced by the given number of bytes, for views into an allocation.
func (p DevicePtr) Add(bytes int64) DevicePtr { return DevicePtr(int64(p) + bytes) }

// Info describes one device, as far as kernels and allocators need to know it.
type Info struct {
	Ordinal                int
	Name                   string
	ComputeMajor           int // compute capability, e.g. 9 and 0 for sm_90
	ComputeMinor           int
	TotalMemory            int64 // bytes
	Multiprocessors        int
	MaxThreadsPerBlock     int
	MaxSharedPerBlock      int // bytes a block gets without opting in
	MaxSharedPerBlockOptin int // bytes a block can get after SetMaxDynamicSharedMemory
	WarpSize               int
	L2CacheBytes           int
	ClockKHz               int
	DriverVersion          int // e.g. 12040 for CUDA 12.4
	DeviceCount            int // devices the driver sees in all
}

// Arch is the PTX target name of the device, e.g. "sm_90".
func (i Info) Arch() string { return fmt.Sprintf("sm_%d%d", i.ComputeMajor, i.ComputeMinor) }

func (i Info) String() string {
	return fmt.Sprintf("cuda:%d %s (%s, %.1f GiB, %d SMs, driver %d.%d)", i.Ordinal, i.Name, i.Arch(),
		float64(i.TotalMemory)/(1<<30), i.Multiprocessors, i.DriverVersion/1000, i.DriverVersion%1000/10)
}

// Memory is raw device allocation, the part of a Backend that Allocator builds on.
type Memory interface {
	MemAlloc(bytes int64) (DevicePtr, error)
	MemFree(p DevicePtr) error
}

// Backend is one CUDA context on one device. Its methods may be called from any goroutine.
//
// Host slices are passed as bytes; HostBytes views a []float32 (or any fixed-size element
// type) as bytes without copying. Synchronous copies return when the data has arrived;
// asynchronous ones return at once, and the host slice must stay untouched (and reachable)
// until the stream has been synchronized.
type Backend interface {
	Memory
	Info() Info
	CopyHtoD(dst DevicePtr, src []byte) error
	CopyDtoH(dst []byte, src DevicePtr) error
	CopyDtoD(dst, src DevicePtr, bytes int64) error
	// MemsetD32 sets count 32-bit words starting at dst to value (float32 0 and 1 are
	// words 0 and 0x3f800000).
	MemsetD32(dst DevicePtr, value uint32, count int64) error
	// LoadPTX JIT-compiles PTX text for this device. A compile error is an *Error whose Log
	// holds the JIT compiler's message.
	LoadPTX(ptx string) (Module, error)
	// Synchronize waits until all work queued on the context is done.
	Synchronize() error
	// Close destroys the context, and with it every allocation and module.
	Close() error
}

// Module is loaded device code.
type Module interface {
	// Kernel looks up an .entry function by name.
	Kernel(name string) (Kernel, error)
	// Log is the JIT compiler's informational output for this module (may be empty).
	Log() string
	Unload() error
}

// Kernel is a function of a loaded module.
type Kernel interface {
	Name() string
	// Launch queues the kernel. It returns once the launch is queued: errors during the run
	// show up at the next synchronizing call.
	Launch(cfg LaunchConfig, args ...Arg) error
	// SetMaxDynamicSharedMemory allows launches with more than 48 KiB of dynamic shared
	// memory, up to Info.MaxSharedPerBlockOptin.
	SetMaxDynamicSharedMemory(bytes int) error
}

// Dim3 is a grid or block shape. A zero component means 1, so Dim3{X: n} is a 1-D shape.
type Dim3 struct{ X, Y, Z uint32 }

func (d Dim3) norm() (x, y, z uint32) {
	x, y, z = d.X, d.Y, d.Z
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

// LaunchConfig is the shape of a kernel launch.
type LaunchConfig struct {
	Grid, Block Dim3
	SharedBytes uint32 // dynamic shared memory per block
}

// Blocks1D is the grid that covers n threads with blocks of the given size.
func Blocks1D(n, block int) LaunchConfig {
	if block <= 0 {
		block = 1
	}
	g := (n + block - 1) / block
	if g < 1 {
		g = 1
	}
	return LaunchConfig{Grid: Dim3{X: uint32(g)}, Block: Dim3{X: uint32(block)}}
}

// Scalar is an element type whose slices HostBytes can view as bytes.
type Scalar interface {
	~float32 | ~float64 | ~int32 | ~uint32 | ~int64 | ~uint64 | ~int16 | ~uint16 | ~int8 | ~uint8
}

// HostBytes views s as its bytes without copying, for the copy methods of Backend.
func HostBytes[T Scalar](s []T) []byte {
	if len(s) == 0 {
		return nil
	}
	var zero T
	return unsafe.Slice((*byte)(unsafe.Pointer(&s[0])), len(s)*int(unsafe.Sizeof(zero)))
}
