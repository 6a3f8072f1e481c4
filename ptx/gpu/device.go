// Package gpu is the GPU tensor.Device: tensors live in device memory and every kernel
// runs as the project's generated PTX (package ptx/kernels).
//
// Two backends execute that PTX. Open drives a real GPU through the CUDA driver (package
// ptx/driver: a caching allocator, modules JIT-compiled from the embedded text, every
// copy and launch on the default stream so they run in issue order). NewInterpreted runs
// the very same text in the PTX interpreter (package ptx/ptxsim), kernel by kernel, with
// its bounds, uninitialised-read and race checks: that is how a machine without a GPU (CI)
// proves the device against the CPU one.
//
// Where no PTX kernel exists yet for a method (or for one of its cases), the device
// downloads the operands, runs the CPU kernel and uploads the results. Each such round
// trip is counted by name (HostFallbacks), so the gaps that remain are visible and a test
// can require a training step to have none.
//
// The tensor.Device interface has no error results. Shape mistakes panic with
// *tensor.ShapeError as on the CPU; a failure of the device itself (out of memory, a
// kernel that faults) panics with *Error, since a step cannot go on after it.
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
	be backend

	// gcEvery is the number of bytes allocated after which newBuffer runs the garbage
	// collector, so that unreachable tensors give their memory back (0: never).
	gcEvery   int64
	sinceGC   int64
	mu        sync.Mutex
	fallbacks map[string]int
	launches  map[string]int
	// consts caches small read-only tensors (all-ones LayerNorm scales, zero skip weights,
	// FFT twiddles) by a key naming their content.
	consts map[string]*tensor.Tensor
	// transfers counts the host copies that be makes (it wraps the backend).
	transfers *transferCounter
}

// buffer is one device allocation; tensors (and their Reshape and Slice views) hold it as
// their storage with an element offset. It is freed when no tensor references it.
type buffer struct {
	ptr   uint64
	words int
}

// NewInterpreted returns a device that runs every kernel in the PTX interpreter. It is
// slow and never frees memory: it is for tests on small shapes.
func NewInterpreted() *Device { return newDevice(newInterp()) }

// Open returns the device on the GPU with the given ordinal. Without a driver or a GPU
// the error matches driver.ErrNoDriver or driver.ErrNoDevice (IsUnavailable says either),
// and callers fall back to the CPU. GPUs older than sm_80 are refused: the kernels use
// TF32 mma.sync and cp.async.
func Open(ordinal int) (*Device, error) {
	drv, err := driver.Load()
	if err != nil {
		return nil, err
	}
	return OpenWith(drv, ordinal)
}

// OpenWith is Open on an already loaded driver (driver.LoadFrom picks a library).
func OpenWith(drv *driver.Driver, ordinal int) (*Device, error) {
	b, err := newCUDA(drv, ordinal)
	if err != nil {
		return nil, err
	}
	d := newDevice(b)
	d.gcEvery = b.info.TotalMemory / gcFraction
	return d, nil
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

func newDevice(b backend) *Device {
	tc := &transferCounter{}
	return &Device{be: countingBackend{b, tc}, transfers: tc, fallbacks: map[string]int{}, launches: map[string]int{},
		consts: map[string]*tensor.Tensor{}}
}

// Name implements tensor.Device: "cuda:N" or "ptxsim".
func (d *Device) Name() string { return d.be.name() }

// Synchronize waits until all queued work is done and reports a failure of it.
func (d *Device) Synchronize() error { return d.be.sync() }

// Close waits for queued work and releases the GPU context; the device and its tensors
// must not be used afterwards.
func (d *Device) Close() error { return d.be.close() }

// HostFallbacks returns how many times each method (or case of one) ran on the host
// because no PTX kernel covers it yet, keyed like "Permute" or "Binary(Div)".
func (d *Device) HostFallbacks() map[string]int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return maps.Clone(d.fallbacks)
}

// Launches returns how many times each PTX kernel was launched.
func (d *Device) Launches() map[string]int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return maps.Clone(d.launches)
}

// ResetCounters clears HostFallbacks, Launches and Transfers.
func (d *Device) ResetCounters() {
	d.mu.Lock()
	defer d.mu.Unlock()
	clear(d.fallbacks)
	clear(d.launches)
	d.transfers.reset()
}

func (d *Device) check(op string, err error) {
	if err != nil {
		panic(&Error{Op: op, Err: err})
	}
}

// newBuffer allocates words of device memory, freed when the buffer is unreachable. Out
// of memory, it collects garbage (whose cleanups free unreachable tensors) and retries.
func (d *Device) newBuffer(words int) *buffer {
	if d.gcEvery > 0 {
		d.sinceGC += 4 * int64(words)
		if d.sinceGC > d.gcEvery {
			d.sinceGC = 0
			runtime.GC()
		}
	}
	p, err := d.be.alloc(words)
	// Cleanups run on their own goroutine after a collection: give them time.
	for wait := time.Millisecond; errors.Is(err, driver.ErrOutOfMemory) && wait < time.Second; wait *= 4 {
		runtime.GC()
		time.Sleep(wait)
		p, err = d.be.alloc(words)
	}
	d.check(fmt.Sprintf("allocating %d bytes", 4*words), err)
	b := &buffer{ptr: p, words: words}
	if p != 0 {
		be := d.be
		runtime.AddCleanup(b, func(p uint64) { be.free(p) }, p)
	}
	return b
}

// empty allocates a tensor whose contents are undefined: for results a kernel writes in
// full.
func (d *Device) empty(shape ...int) *tensor.Tensor {
	n := tensor.Numel(shape)
	return tensor.NewOnDevice(d, d.newBuffer(n), 0, shape)
}

// ptr is the device address of t's first element.
func (d *Device) ptr(t *tensor.Tensor) uint64 {
	buf, off := t.Storage()
	b, ok := buf.(*buffer)
	if !ok {
		panic(fmt.Sprintf("gpu: a %s tensor passed to %s", t.Device().Name(), d.Name()))
	}
	return b.ptr + 4*uint64(off)
}

// Zeros implements tensor.Device.
func (d *Device) Zeros(shape ...int) *tensor.Tensor {
	t := d.empty(shape...)
	d.check("Zeros", d.be.fillWords(d.ptr(t), 0, t.Numel()))
	return t
}

// FromHost implements tensor.Device.
func (d *Device) FromHost(data []float32, shape ...int) *tensor.Tensor {
	if len(data) != tensor.Numel(shape) {
		panic(&tensor.ShapeError{Op: "FromHost", Shapes: [][]int{shape}, Msg: "data length does not match the shape"})
	}
	t := d.empty(shape...)
	d.check("FromHost", d.be.writeF32(d.ptr(t), data))
	return t
}

// ToHost implements tensor.Device.
func (d *Device) ToHost(dst []float32, src *tensor.Tensor) {
	d.check("ToHost", d.be.readF32(dst[:src.Numel()], d.ptr(src)))
}

// Copy implements tensor.Device.
func (d *Device) Copy(dst, src *tensor.Tensor) {
	if dst.Numel() != src.Numel() {
		panic(&tensor.ShapeError{Op: "Copy", Shapes: [][]int{dst.Shape(), src.Shape()}, Msg: "element counts differ"})
	}
	d.copyT(dst, src)
}

func (d *Device) copyT(dst, src *tensor.Tensor) {
	d.check("Copy", d.be.copyWords(d.ptr(dst), d.ptr(src), src.Numel()))
}

// Fill implements tensor.Device.
func (d *Device) Fill(dst *tensor.Tensor, v float32) {
	d.check("Fill", d.be.fillWords(d.ptr(dst), math.Float32bits(v), dst.Numel()))
}

// launch runs a kernel of the index with the given grid and dynamic shared memory.
func (d *Device) launch(name string, grid [3]int, shared int, args ...arg) {
	k, ok := kernelIndex()[name]
	if !ok {
		panic("gpu: no kernel " + name + " in ptx/kernels")
	}
	for i := range grid {
		if grid[i] == 0 {
			grid[i] = 1
		}
	}
	d.mu.Lock()
	d.launches[name]++
	d.mu.Unlock()
	d.check("launching "+name, d.be.launch(k, grid, shared, args))
}

// kernelIndex maps kernel names to their index entries (read-only once built).
var kernelIndex = sync.OnceValue(func() map[string]kernels.Info {
	m := make(map[string]kernels.Info, len(kernels.Index))
	for _, k := range kernels.Index {
		m[k.Name] = k
	}
	return m
})

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
			d.check(key, d.be.writeF32(d.ptr(ts[i]), h[i].Data()))
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
		d.check("constant", d.be.fillWords(d.ptr(t), math.Float32bits(v), n))
		return t
	})
}

// uploadI32 copies host indices (token ids, targets) to the device.
func (d *Device) uploadI32(v []int32) *tensor.Tensor {
	t := d.empty(len(v))
	d.check("uploading indices", d.be.writeI32(d.ptr(t), v))
	return t
}

var _ tensor.Device = (*Device)(nil)
