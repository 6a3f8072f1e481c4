package gpu

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
	"unicode"

	"github.com/hungry-ssm/hungry/ptx/driver"
	"github.com/hungry-ssm/hungry/ptx/ptxsim"
)

// interpName is the interpreted device's name.
const interpName = "ptxsim"

// NewInterpreted returns a device that runs every kernel in the PTX interpreter. It is
// slow and never frees memory, so that every buffer starts unwritten and the interpreter
// reports a kernel reading what nothing wrote: it is for tests on small shapes.
func NewInterpreted() *Device {
	b := newInterp()
	d := newDevice(b, exact{b})
	d.sim = b
	return d
}

// LaunchRecord is one kernel launch (or device-side memset or copy) of an interpreted
// device, with the Device method that issued it and what the interpreter counted.
type LaunchRecord struct {
	// Op is the outermost exported Device method on the call stack ("CausalConv",
	// "Binary", "Zeros"); "" when the launch came from outside any (a launcher called
	// directly).
	Op string
	ptxsim.LaunchStats
}

// Records returns, in issue order, the launches and device-side memsets and copies since
// the device was made or its counters were reset, on an interpreted device (nil on a
// GPU, where nothing counts bytes). Memsets and copies are named "memset" and
// "copy DtoD", with the bytes they write and read; host transfers are not global-memory
// traffic of a kernel and are counted by Transfers instead.
func (d *Device) Records() []LaunchRecord {
	if d.sim == nil {
		return nil
	}
	d.sim.mu.Lock()
	defer d.sim.mu.Unlock()
	return append([]LaunchRecord(nil), d.sim.records...)
}

// exact allocates exactly the bytes asked for straight from the backend and never frees:
// the interpreter's bounds checks then see each buffer's true end.
type exact struct{ b driver.Backend }

func (e exact) Alloc(bytes int64) (driver.DevicePtr, error) {
	if bytes == 0 {
		return 0, nil
	}
	return e.b.MemAlloc(bytes)
}

func (exact) Free(driver.DevicePtr) error { return nil }

// interp is a driver.Backend over the PTX interpreter: host memory with the interpreter's
// bounds and initialisation checks, and kernels run by it as they are launched. It
// describes itself as an sm_80 device (an A100's limits), the oldest the kernels target.
type interp struct {
	mu      sync.Mutex
	mem     *ptxsim.Memory
	records []LaunchRecord
}

// record notes what a launch, memset or copy did, under the Device method that issued it.
// The caller holds b.mu.
func (b *interp) record(s ptxsim.LaunchStats) {
	b.records = append(b.records, LaunchRecord{Op: deviceOp(), LaunchStats: s})
}

// deviceOp names the outermost exported method of *Device on the caller's stack: the op
// a layer asked for, not the helpers it runs through.
func deviceOp() string {
	const prefix = "github.com/hungry-ssm/hungry/ptx/gpu.(*Device)."
	pcs := make([]uintptr, 64)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(3, pcs)])
	op := ""
	for {
		f, more := frames.Next()
		if name, ok := strings.CutPrefix(f.Function, prefix); ok && name != "Launch" &&
			name != "" && unicode.IsUpper(rune(name[0])) {
			op = name
		}
		if !more {
			return op
		}
	}
}

func newInterp() *interp { return &interp{mem: ptxsim.NewMemory()} }

func (b *interp) Info() driver.Info {
	return driver.Info{Name: interpName, ComputeMajor: 8, Multiprocessors: 1, MaxThreadsPerBlock: 1024,
		MaxSharedPerBlock: 48 << 10, MaxSharedPerBlockOptin: 163 << 10, WarpSize: 32, DeviceCount: 1}
}

// MemAlloc takes fresh interpreter memory; MemFree gives nothing back (the interpreter's
// memory only grows).
func (b *interp) MemAlloc(bytes int64) (driver.DevicePtr, error) {
	if bytes <= 0 {
		return 0, fmt.Errorf("ptxsim: allocation of %d bytes", bytes)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	p, err := b.mem.Alloc(int(bytes))
	return driver.DevicePtr(p), err
}

func (b *interp) MemFree(driver.DevicePtr) error { return nil }

func (b *interp) CopyHtoD(dst driver.DevicePtr, src []byte) error {
	if len(src) == 0 {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.mem.WriteBytes(ptxsim.Ptr(dst), src)
}

func (b *interp) CopyDtoH(dst []byte, src driver.DevicePtr) error {
	if len(dst) == 0 {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.mem.ReadBytes(dst, ptxsim.Ptr(src))
}

func (b *interp) CopyDtoD(dst, src driver.DevicePtr, bytes int64) error {
	if bytes <= 0 {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	buf := make([]byte, bytes)
	if err := b.mem.ReadBytes(buf, ptxsim.Ptr(src)); err != nil {
		return err
	}
	return b.mem.WriteBytes(ptxsim.Ptr(dst), buf)
}

func (b *interp) MemsetD32(dst driver.DevicePtr, value uint32, count int64) error {
	if count <= 0 {
		return nil
	}
	v := make([]uint32, count)
	for i := range v {
		v[i] = value
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.record(ptxsim.LaunchStats{Kernel: "memset", BytesWritten: 4 * count, AccessWritten: 4 * count})
	return b.mem.WriteBytes(ptxsim.Ptr(dst), driver.HostBytes(v))
}

func (b *interp) LoadPTX(src string) (driver.Module, error) {
	m, err := ptxsim.Load(src)
	if err != nil {
		return nil, err
	}
	return &interpModule{b: b, m: m}, nil
}

func (b *interp) Synchronize() error { return nil }
func (b *interp) Close() error       { return nil }

type interpModule struct {
	b *interp
	m *ptxsim.Module
}

func (m *interpModule) Kernel(name string) (driver.Kernel, error) {
	for _, k := range m.m.Kernels() {
		if k == name {
			return &interpKernel{m: m, name: name}, nil
		}
	}
	return nil, fmt.Errorf("kernel %q: %w", name, driver.ErrNotFound)
}

func (m *interpModule) Log() string   { return "" }
func (m *interpModule) Unload() error { return nil }

type interpKernel struct {
	m    *interpModule
	name string
}

func (k *interpKernel) Name() string { return k.name }

// SetMaxDynamicSharedMemory has nothing to allow: the interpreter checks each launch's
// shared memory against the sm_80 limit itself.
func (k *interpKernel) SetMaxDynamicSharedMemory(int) error { return nil }

// Launch runs the kernel to completion.
func (k *interpKernel) Launch(cfg driver.LaunchConfig, args ...driver.Arg) error {
	vals := make([]any, len(args))
	for i, a := range args {
		v := a.Value()
		if p, ok := v.(driver.DevicePtr); ok {
			v = ptxsim.Ptr(p)
		}
		vals[i] = v
	}
	dim := func(d driver.Dim3) [3]int { return [3]int{max(int(d.X), 1), max(int(d.Y), 1), max(int(d.Z), 1)} }
	b := k.m.b
	b.mu.Lock()
	defer b.mu.Unlock()
	s, err := k.m.m.LaunchWithStats(b.mem, k.name, dim(cfg.Grid), dim(cfg.Block), int(cfg.SharedBytes), vals...)
	b.record(s)
	return err
}

var _ driver.Backend = (*interp)(nil)
