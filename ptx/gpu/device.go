// Package gpu is the GPU tensor.Device: tensors live in device memory and every kernel
// runs as the project's generated PTX (package ptx/kernels), launched through the typed
// launchers generated with it.
//
// The device runs on any driver.Backend. Open drives a real GPU through the CUDA driver:
// the purego binding of package ptx/driver by default, gorgonia.org/cu's with -tags
// gorgonia (package ptx/driver/gorgonia); either way a caching allocator, modules
// JIT-compiled from the embedded text, and every copy and launch on the default stream so
// they run in issue order. NewInterpreted runs the very same text in the PTX interpreter
// (package ptx/ptxsim), kernel by kernel, with its bounds, uninitialised-read and race
// checks: that is how a machine without a GPU (CI) proves the device against the CPU one.
//
// Where no PTX kernel exists yet for a method (or for one of its cases), the device
// downloads the operands, runs the CPU kernel and uploads the results. Each such round
// trip is counted by name (HostFallbacks), so the gaps that remain are visible and a test
// can require a training step to have none.
//
// The tensor.Device interface has no error results. Shape mistakes panic with
// *tensor.ShapeError as on the CPU; a failure of the device itself (out of memory, a
// kernel that faults, a launch beyond the hardware's limits) panics with *Error, since a
// step cannot go on after it.
package gpu

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"runtime"
	"sync"
	"time"

	"github.com/hungry-ssm/hungry/ptx/driver"
	"github.com/hungry-ssm/hungry/ptx/kernels"
	"github.com/hungry-ssm/hungry/tensor"
)

// Error is a failure of the device: what was being done and the backend's error.
type Error struct {
	Op  string
	Err error
}

func (e *Error) Error() string { return "gpu: " + e.Op + ": " + e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Device is a GPU tensor.Device. Its methods may be called from one goroutine at a time,
// like any device's; freeing (by the garbage collector) may happen on any.
type Device struct {
	be   driver.Backend
	info driver.Info
	mem  memory

	// gcEvery is the number of bytes allocated after which newBuffer runs collect, so that
	// unreachable tensors give their memory back (0: never).
	gcEvery int64
	sinceGC int64
	collect func()

	mu        sync.Mutex
	fallbacks map[string]int
	launches  map[string]int
	// consts caches small read-only tensors (all-ones LayerNorm scales, zero skip weights,
	// FFT twiddles) by a key naming their content.
	consts map[string]*tensor.Tensor

	kmu     sync.Mutex
	modules map[string]driver.Module
	funcs   map[*kernels.Info]*function

	// transfers counts the copies between host and device (write and ToHost).
	transfers transferCounter

	// sim is the interpreter backend of NewInterpreted (nil on a GPU): it records each
	// launch's memory traffic (Records).
	sim *interp

	// conv selects the fused H3 convolution's FFTs (SetConvPrecision).
	conv convSettings
}

// memory hands out device memory: a driver.Allocator on a GPU.
type memory interface {
	Alloc(bytes int64) (driver.DevicePtr, error)
	Free(p driver.DevicePtr) error
}

// function is a loaded kernel and the dynamic shared memory it has been allowed.
type function struct {
	k         driver.Kernel
	maxShared int
}

// buffer is one device allocation; tensors (and their Reshape and Slice views) hold it as
// their storage with an element offset. It is freed when no tensor, and no kernel argument
// of a launch being issued, references it.
type buffer struct {
	ptr   uint64
	words int
}

// New returns the device on a backend: a driver.Context from driver.Driver.NewContext, a
// gorgonia.Context, or any other implementation. The device owns b: Close closes it. GPUs
// older than sm_80 are refused: the kernels use TF32 mma.sync and cp.async.
func New(b driver.Backend) (*Device, error) {
	info := b.Info()
	if info.ComputeMajor < 8 {
		b.Close()
		return nil, fmt.Errorf("gpu: %s is %s; the kernels need sm_80 or newer", info.Name, info.Arch())
	}
	d := newDevice(b, driver.NewAllocator(b))
	d.gcEvery = info.TotalMemory / gcFraction
	return d, nil
}

// Open returns the device on the GPU with the given ordinal, through the purego binding
// (or gorgonia.org/cu's, built with -tags gorgonia). Without a driver or a GPU the error
// matches driver.ErrNoDriver or driver.ErrNoDevice (IsUnavailable says either), and callers
// fall back to the CPU.
func Open(ordinal int) (*Device, error) {
	b, err := openBackend(ordinal)
	if err != nil {
		return nil, err
	}
	return New(b)
}

// OpenWith is Open on an already loaded purego driver (driver.LoadFrom picks a library).
func OpenWith(drv *driver.Driver, ordinal int) (*Device, error) {
	ctx, err := drv.NewContext(ordinal)
	if err != nil {
		return nil, err
	}
	return New(ctx)
}

// gcFraction sets how much device memory may be allocated between forced garbage
// collections: 1/gcFraction of the device. Tensors are freed when the collector finds
// them unreachable, but it only counts host memory, where a device tensor is a few dozen
// bytes; without these collections a training step would fill the GPU long before the
// host heap grew enough to trigger one.
const gcFraction = 8

// IsUnavailable reports whether an error of Open means that there is no GPU here, as
// opposed to a GPU that failed.
func IsUnavailable(err error) bool { return driver.IsUnavailable(err) }

func newDevice(b driver.Backend, mem memory) *Device {
	return &Device{be: b, info: b.Info(), mem: mem, collect: runtime.GC,
		fallbacks: map[string]int{}, launches: map[string]int{}, consts: map[string]*tensor.Tensor{},
		modules: map[string]driver.Module{}, funcs: map[*kernels.Info]*function{}}
}

// Name implements tensor.Device: "cuda:N" or "ptxsim".
func (d *Device) Name() string {
	if d.info.Name == interpName {
		return interpName
	}
	return fmt.Sprintf("cuda:%d", d.info.Ordinal)
}

// Synchronize waits until all queued work is done and reports a failure of it.
func (d *Device) Synchronize() error { return d.be.Synchronize() }

// Close waits for queued work and releases the GPU context; the device and its tensors
// must not be used afterwards.
func (d *Device) Close() error {
	if err := d.be.Synchronize(); err != nil {
		d.be.Close()
		return err
	}
	return d.be.Close()
}

// HostFallbacks returns how many times each method (or case of one) ran on the host
// because no PTX kernel covers it yet, keyed like "Permute" or "Binary(Div)".
func (d *Device) HostFallbacks() map[string]int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return maps.Clone(d.fallbacks)
}

// Launches returns how many times each PTX kernel was launched, by kernel name.
func (d *Device) Launches() map[string]int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return maps.Clone(d.launches)
}

// ResetCounters clears HostFallbacks, Launches, Transfers and Records.
func (d *Device) ResetCounters() {
	d.mu.Lock()
	defer d.mu.Unlock()
	clear(d.fallbacks)
	clear(d.launches)
	d.transfers.reset()
	if d.sim != nil {
		d.sim.mu.Lock()
		d.sim.records = nil
		d.sim.mu.Unlock()
	}
}

func (d *Device) check(op string, err error) {
	if err != nil {
		panic(&Error{Op: op, Err: err})
	}
}

// run panics with the error of a launch.
func (d *Device) run(err error) { d.check("launch", err) }

// Launch implements kernels.Launcher: the generated launchers (kernels.AddF32(d, ...))
// hand their launches here. It returns once the kernel is queued on the default stream;
// until then args keeps the buffers of its pointers reachable, so none can be freed and
// handed to another allocation before the kernel is ordered before that allocation's
// next use.
func (d *Device) Launch(k *kernels.Info, grid [3]int, shared int, args []kernels.Arg) error {
	if shared > max(d.info.MaxSharedPerBlock, d.info.MaxSharedPerBlockOptin) {
		return fmt.Errorf("kernel %s needs %d bytes of dynamic shared memory; %s allows %d per block", k.Name, shared,
			d.info.Name, d.info.MaxSharedPerBlockOptin)
	}
	f, err := d.function(k)
	if err != nil {
		return err
	}
	if shared > d.info.MaxSharedPerBlock && shared > f.maxShared {
		if err := f.k.SetMaxDynamicSharedMemory(shared); err != nil {
			return fmt.Errorf("kernel %s: allowing %d bytes of dynamic shared memory: %w", k.Name, shared, err)
		}
		f.maxShared = shared
	}
	da := make([]driver.Arg, len(args))
	for i, a := range args {
		switch a.Type {
		case "u64":
			da[i] = driver.Ptr(driver.DevicePtr(a.Bits))
		case "u32":
			da[i] = driver.U32(uint32(a.Bits))
		case "s32":
			da[i] = driver.I32(int32(uint32(a.Bits)))
		case "f32":
			da[i] = driver.F32(a.F32())
		default:
			return fmt.Errorf("kernel %s: argument %d has type %q", k.Name, i, a.Type)
		}
	}
	cfg := driver.LaunchConfig{
		Grid:        driver.Dim3{X: uint32(grid[0]), Y: uint32(grid[1]), Z: uint32(grid[2])},
		Block:       driver.Dim3{X: uint32(k.Block[0]), Y: uint32(k.Block[1]), Z: uint32(k.Block[2])},
		SharedBytes: uint32(shared),
	}
	d.mu.Lock()
	d.launches[k.Name]++
	d.mu.Unlock()
	err = f.k.Launch(cfg, da...)
	runtime.KeepAlive(args)
	return err
}

// function returns k loaded from its module, JIT-compiling the module on first use.
func (d *Device) function(k *kernels.Info) (*function, error) {
	d.kmu.Lock()
	defer d.kmu.Unlock()
	if f, ok := d.funcs[k]; ok {
		return f, nil
	}
	m, ok := d.modules[k.Module]
	if !ok {
		src, err := kernels.Source(k.Module)
		if err != nil {
			return nil, err
		}
		if m, err = d.be.LoadPTX(src); err != nil {
			return nil, err
		}
		d.modules[k.Module] = m
	}
	dk, err := m.Kernel(k.Name)
	if err != nil {
		return nil, err
	}
	f := &function{k: dk}
	d.funcs[k] = f
	return f, nil
}

// newBuffer allocates words of device memory, freed when the buffer is unreachable. Out
// of memory, it collects garbage (whose cleanups free unreachable tensors) and retries.
func (d *Device) newBuffer(words int) *buffer {
	if d.gcEvery > 0 {
		d.sinceGC += 4 * int64(words)
		if d.sinceGC > d.gcEvery {
			d.sinceGC = 0
			d.collect()
		}
	}
	p, err := d.mem.Alloc(4 * int64(words))
	// Cleanups run on their own goroutine after a collection: give them time.
	for wait := time.Millisecond; errors.Is(err, driver.ErrOutOfMemory) && wait < time.Second; wait *= 4 {
		runtime.GC()
		time.Sleep(wait)
		p, err = d.mem.Alloc(4 * int64(words))
	}
	d.check(fmt.Sprintf("allocating %d bytes", 4*words), err)
	b := &buffer{ptr: uint64(p), words: words}
	if p != 0 {
		mem := d.mem
		runtime.AddCleanup(b, func(p driver.DevicePtr) { _ = mem.Free(p) }, p)
	}
	return b
}

// empty allocates a tensor whose contents are undefined: for results a kernel writes in
// full.
func (d *Device) empty(shape ...int) *tensor.Tensor {
	n := tensor.Numel(shape)
	return tensor.NewOnDevice(d, d.newBuffer(n), 0, shape)
}

// p is t as a kernel argument: the address of its first element, owned by its buffer.
func (d *Device) p(t *tensor.Tensor) kernels.Ptr {
	buf, off := t.Storage()
	b, ok := buf.(*buffer)
	if !ok {
		panic(fmt.Sprintf("gpu: a %s tensor passed to %s", t.Device().Name(), d.Name()))
	}
	return kernels.Ptr{Addr: b.ptr + 4*uint64(off), Owner: b}
}

// pOrNull is p(t), or the null pointer the kernels read as "absent".
func (d *Device) pOrNull(t *tensor.Tensor) kernels.Ptr {
	if t == nil {
		return kernels.Ptr{}
	}
	return d.p(t)
}

// addr is t's device address for the backend's copies; the caller keeps t reachable until
// the copy has returned.
func (d *Device) addr(t *tensor.Tensor) driver.DevicePtr { return driver.DevicePtr(d.p(t).Addr) }

// u32 is a size or count as a kernel's .u32 argument; one that does not fit is a failure
// of the device (the kernels index with 32-bit counts), not a silent wrap.
func u32(n int) uint32 {
	if n < 0 || n > math.MaxUint32 {
		panic(&Error{Op: "launch", Err: fmt.Errorf("%d does not fit a 32-bit kernel argument", n)})
	}
	return uint32(n)
}

// Zeros implements tensor.Device.
func (d *Device) Zeros(shape ...int) *tensor.Tensor {
	t := d.empty(shape...)
	d.fill(t, 0)
	return t
}

// Empty implements tensor.Device: no memset, the kernel writing the tensor covers it.
func (d *Device) Empty(shape ...int) *tensor.Tensor { return d.empty(shape...) }

// FromHost implements tensor.Device.
func (d *Device) FromHost(data []float32, shape ...int) *tensor.Tensor {
	if len(data) != tensor.Numel(shape) {
		panic(&tensor.ShapeError{Op: "FromHost", Shapes: [][]int{shape}, Msg: "data length does not match the shape"})
	}
	t := d.empty(shape...)
	d.write(t, driver.HostBytes(data), "FromHost")
	return t
}

// ToHost implements tensor.Device.
func (d *Device) ToHost(dst []float32, src *tensor.Tensor) {
	if src.Numel() > 0 {
		d.transfers.add(false, src.Numel())
		d.check("ToHost", d.be.CopyDtoH(driver.HostBytes(dst[:src.Numel()]), d.addr(src)))
	}
	runtime.KeepAlive(src)
}

// Copy implements tensor.Device.
func (d *Device) Copy(dst, src *tensor.Tensor) {
	if dst.Numel() != src.Numel() {
		panic(&tensor.ShapeError{Op: "Copy", Shapes: [][]int{dst.Shape(), src.Shape()}, Msg: "element counts differ"})
	}
	if src.Numel() > 0 {
		d.check("Copy", d.be.CopyDtoD(d.addr(dst), d.addr(src), 4*int64(src.Numel())))
	}
	runtime.KeepAlive(dst)
	runtime.KeepAlive(src)
}

// Fill implements tensor.Device.
func (d *Device) Fill(dst *tensor.Tensor, v float32) { d.fill(dst, v) }

func (d *Device) fill(dst *tensor.Tensor, v float32) {
	if dst.Numel() > 0 {
		d.check("Fill", d.be.MemsetD32(d.addr(dst), math.Float32bits(v), int64(dst.Numel())))
	}
	runtime.KeepAlive(dst)
}

// write copies host bytes into t.
func (d *Device) write(t *tensor.Tensor, src []byte, op string) {
	if len(src) > 0 {
		d.transfers.add(true, len(src)/4)
		d.check(op, d.be.CopyHtoD(d.addr(t), src))
	}
	runtime.KeepAlive(t)
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// onHost runs a CPU kernel on host copies of ts (nil entries stay nil) and uploads the
// copies of the tensors whose index is in outs. It is the fallback for what no PTX kernel
// covers yet, counted under key.
func (d *Device) onHost(key string, ts []*tensor.Tensor, outs []int, run func(cpu *tensor.CPU, h []*tensor.Tensor)) {
	d.mu.Lock()
	d.fallbacks[key]++
	d.mu.Unlock()
	h := make([]*tensor.Tensor, len(ts))
	for i, t := range ts {
		if t != nil {
			h[i] = tensor.FromSlice(t.Host(), t.Shape()...)
		}
	}
	run(tensor.DefaultCPU(), h)
	for _, i := range outs {
		if ts[i] != nil {
			d.write(ts[i], driver.HostBytes(h[i].Data()), key)
		}
	}
}

// constant returns a cached read-only device tensor made by make on first use.
func (d *Device) constant(key string, make func() *tensor.Tensor) *tensor.Tensor {
	d.mu.Lock()
	t, ok := d.consts[key]
	d.mu.Unlock()
	if ok {
		return t
	}
	t = make()
	d.mu.Lock()
	d.consts[key] = t
	d.mu.Unlock()
	return t
}

func (d *Device) filled(n int, v float32) *tensor.Tensor {
	return d.constant(fmt.Sprintf("fill %d %x", n, math.Float32bits(v)), func() *tensor.Tensor {
		t := d.empty(n)
		d.fill(t, v)
		return t
	})
}

// uploadI32 copies host indices (token ids, targets) to the device. The tensor holds them
// as float32 bits; kernels read them as .s32.
func (d *Device) uploadI32(v []int32) *tensor.Tensor {
	t := d.empty(len(v))
	d.write(t, driver.HostBytes(v), "uploading indices")
	return t
}

var (
	_ tensor.Device    = (*Device)(nil)
	_ kernels.Launcher = (*Device)(nil)
)
