package gpu

import (
	"fmt"
	"math"
	"sync"

	"github.com/hungry-ssm/hungry/ptx/driver"
	"github.com/hungry-ssm/hungry/ptx/kernels"
	"github.com/hungry-ssm/hungry/ptx/ptxsim"
)

// backend executes the device's work: memory, copies and kernel launches of the embedded
// PTX. Addresses are plain integers so that the device code is the same for both
// implementations. Every length is in 4-byte words.
type backend interface {
	name() string
	alloc(words int) (uint64, error)
	// free gives memory back; the caller guarantees that work queued later does not use it
	// (one stream keeps that order).
	free(p uint64)
	writeF32(dst uint64, src []float32) error
	writeI32(dst uint64, src []int32) error
	readF32(dst []float32, src uint64) error
	copyWords(dst, src uint64, words int) error
	fillWords(dst uint64, value uint32, words int) error
	launch(k kernels.Info, grid [3]int, shared int, args []arg) error
	sync() error
	close() error
}

type argKind uint8

const (
	argPtr argKind = iota + 1
	argU32
	argS32
	argF32
)

// arg is one kernel parameter, converted to each backend's own form at launch.
type arg struct {
	kind argKind
	bits uint64
}

func aPtr(p uint64) arg  { return arg{argPtr, p} }
func aU32(v int) arg     { return arg{argU32, uint64(uint32(v))} }
func aF32(v float32) arg { return arg{argF32, uint64(math.Float32bits(v))} }
func aS32(v int32) arg   { return arg{argS32, uint64(uint32(v))} }

// aBool is a .u32 flag: 1 for true.
func aBool(v bool) arg {
	if v {
		return aU32(1)
	}
	return aU32(0)
}

// ptxType is the .param type the argument must meet.
func (a arg) ptxType() string {
	switch a.kind {
	case argPtr:
		return "u64"
	case argU32:
		return "u32"
	case argS32:
		return "s32"
	}
	return "f32"
}

// checkArgs compares the arguments with the kernel's indexed parameter list, so that a
// mistake fails the same way on both backends before anything runs.
func checkArgs(k kernels.Info, args []arg) error {
	if len(args) != len(k.Params) {
		return fmt.Errorf("gpu: kernel %s takes %d arguments, got %d", k.Name, len(k.Params), len(args))
	}
	for i, a := range args {
		if a.ptxType() != k.Params[i].Type {
			return fmt.Errorf("gpu: kernel %s argument %d (%s) is .%s, got .%s", k.Name, i, k.Params[i].Name, k.Params[i].Type, a.ptxType())
		}
	}
	return nil
}

// interp runs the kernels in the PTX interpreter: the embedded text, kernel by kernel, with
// its bounds, initialisation and race checks. The interpreter's memory has no free, so an
// interpreted device only grows; it is meant for tests on small shapes.
type interp struct {
	mu      sync.Mutex
	mem     *ptxsim.Memory
	modules map[string]*ptxsim.Module
}

func newInterp() *interp {
	return &interp{mem: ptxsim.NewMemory(), modules: map[string]*ptxsim.Module{}}
}

func (b *interp) name() string { return "ptxsim" }

func (b *interp) alloc(words int) (uint64, error) {
	if words == 0 {
		return 0, nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	p, err := b.mem.Alloc(4 * words)
	return uint64(p), err
}

func (b *interp) free(uint64) {}

func (b *interp) writeF32(dst uint64, src []float32) error {
	if len(src) == 0 {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.mem.WriteF32(ptxsim.Ptr(dst), src)
}

func (b *interp) writeI32(dst uint64, src []int32) error {
	if len(src) == 0 {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.mem.WriteI32(ptxsim.Ptr(dst), src)
}

func (b *interp) readF32(dst []float32, src uint64) error {
	if len(dst) == 0 {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	v, err := b.mem.ReadF32(ptxsim.Ptr(src), len(dst))
	copy(dst, v)
	return err
}

func (b *interp) copyWords(dst, src uint64, words int) error {
	if words == 0 {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	v, err := b.mem.ReadF32(ptxsim.Ptr(src), words)
	if err != nil {
		return err
	}
	return b.mem.WriteF32(ptxsim.Ptr(dst), v)
}

func (b *interp) fillWords(dst uint64, value uint32, words int) error {
	if words == 0 {
		return nil
	}
	v := make([]float32, words)
	f := math.Float32frombits(value)
	for i := range v {
		v[i] = f
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.mem.WriteF32(ptxsim.Ptr(dst), v)
}

func (b *interp) module(name string) (*ptxsim.Module, error) {
	if m, ok := b.modules[name]; ok {
		return m, nil
	}
	src, err := kernels.Source(name)
	if err != nil {
		return nil, err
	}
	m, err := ptxsim.Load(src)
	if err != nil {
		return nil, err
	}
	b.modules[name] = m
	return m, nil
}

func (b *interp) launch(k kernels.Info, grid [3]int, shared int, args []arg) error {
	if err := checkArgs(k, args); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	m, err := b.module(k.Module)
	if err != nil {
		return err
	}
	vals := make([]any, len(args))
	for i, a := range args {
		switch a.kind {
		case argPtr:
			vals[i] = ptxsim.Ptr(a.bits)
		case argU32:
			vals[i] = uint32(a.bits)
		case argS32:
			vals[i] = int32(uint32(a.bits))
		case argF32:
			vals[i] = math.Float32frombits(uint32(a.bits))
		}
	}
	return m.Launch(b.mem, k.Name, grid, k.Block, shared, vals...)
}

func (b *interp) sync() error  { return nil }
func (b *interp) close() error { return nil }

// cuda runs the kernels on a real GPU through the driver: a caching allocator, modules
// JIT-compiled from the same embedded PTX on first use, and every copy and launch on the
// default stream, so that they run in the order they were issued.
type cuda struct {
	ctx  *driver.Context
	pool *driver.Allocator
	info driver.Info

	mu      sync.Mutex
	modules map[string]driver.Module
	funcs   map[string]driver.Kernel
}

func newCUDA(drv *driver.Driver, ordinal int) (*cuda, error) {
	ctx, err := drv.NewContext(ordinal)
	if err != nil {
		return nil, err
	}
	info := ctx.Info()
	// The kernels use mma.sync tf32 and cp.async, which need sm_80.
	if info.ComputeMajor < 8 {
		ctx.Close()
		return nil, fmt.Errorf("gpu: %s is %s; the kernels need sm_80 or newer", info.Name, info.Arch())
	}
	return &cuda{ctx: ctx, pool: driver.NewAllocator(ctx), info: info,
		modules: map[string]driver.Module{}, funcs: map[string]driver.Kernel{}}, nil
}

func (b *cuda) name() string { return fmt.Sprintf("cuda:%d", b.info.Ordinal) }

func (b *cuda) alloc(words int) (uint64, error) {
	p, err := b.pool.Alloc(4 * int64(words))
	return uint64(p), err
}

func (b *cuda) free(p uint64) { _ = b.pool.Free(driver.DevicePtr(p)) }

func (b *cuda) writeF32(dst uint64, src []float32) error {
	if len(src) == 0 {
		return nil
	}
	return b.ctx.CopyHtoD(driver.DevicePtr(dst), driver.HostBytes(src))
}

func (b *cuda) writeI32(dst uint64, src []int32) error {
	if len(src) == 0 {
		return nil
	}
	return b.ctx.CopyHtoD(driver.DevicePtr(dst), driver.HostBytes(src))
}

func (b *cuda) readF32(dst []float32, src uint64) error {
	if len(dst) == 0 {
		return nil
	}
	return b.ctx.CopyDtoH(driver.HostBytes(dst), driver.DevicePtr(src))
}

func (b *cuda) copyWords(dst, src uint64, words int) error {
	if words == 0 {
		return nil
	}
	return b.ctx.CopyDtoD(driver.DevicePtr(dst), driver.DevicePtr(src), 4*int64(words))
}

func (b *cuda) fillWords(dst uint64, value uint32, words int) error {
	if words == 0 {
		return nil
	}
	return b.ctx.MemsetD32(driver.DevicePtr(dst), value, int64(words))
}

func (b *cuda) kernel(k kernels.Info) (driver.Kernel, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if f, ok := b.funcs[k.Name]; ok {
		return f, nil
	}
	m, ok := b.modules[k.Module]
	if !ok {
		src, err := kernels.Source(k.Module)
		if err != nil {
			return nil, err
		}
		if m, err = b.ctx.LoadPTX(src); err != nil {
			return nil, err
		}
		b.modules[k.Module] = m
	}
	f, err := m.Kernel(k.Name)
	if err != nil {
		return nil, err
	}
	b.funcs[k.Name] = f
	return f, nil
}

func (b *cuda) launch(k kernels.Info, grid [3]int, shared int, args []arg) error {
	if err := checkArgs(k, args); err != nil {
		return err
	}
	f, err := b.kernel(k)
	if err != nil {
		return err
	}
	if shared > 48<<10 {
		if err := f.SetMaxDynamicSharedMemory(shared); err != nil {
			return err
		}
	}
	da := make([]driver.Arg, len(args))
	for i, a := range args {
		switch a.kind {
		case argPtr:
			da[i] = driver.Ptr(driver.DevicePtr(a.bits))
		case argU32:
			da[i] = driver.U32(uint32(a.bits))
		case argS32:
			da[i] = driver.I32(int32(uint32(a.bits)))
		case argF32:
			da[i] = driver.F32(math.Float32frombits(uint32(a.bits)))
		}
	}
	cfg := driver.LaunchConfig{
		Grid:        driver.Dim3{X: uint32(grid[0]), Y: uint32(grid[1]), Z: uint32(grid[2])},
		Block:       driver.Dim3{X: uint32(k.Block[0]), Y: uint32(k.Block[1]), Z: uint32(k.Block[2])},
		SharedBytes: uint32(shared),
	}
	return f.Launch(cfg, da...)
}

func (b *cuda) sync() error { return b.ctx.Synchronize() }

func (b *cuda) close() error {
	if err := b.ctx.Synchronize(); err != nil {
		b.ctx.Close()
		return err
	}
	return b.ctx.Close()
}
