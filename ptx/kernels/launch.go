package kernels

import (
	"fmt"
	"math"
)

// Ptr is a device address passed to a kernel. Owner is the allocation the address lies in
// (any value whose reachability keeps that memory allocated; nil for memory nobody frees,
// and for the null pointer that optional operands are passed as). A launcher keeps the
// arguments, and with them their owners, reachable until the launch is queued: a device
// that frees memory when the garbage collector finds its owner unreachable cannot then
// hand an argument's block to an allocation made between taking its address and the
// launch. Work queued later on the same stream runs after the kernel, so reusing the
// block once the launch is queued is safe.
type Ptr struct {
	Addr  uint64
	Owner any
}

// Offset is p moved by the given number of bytes, in the same allocation.
func (p Ptr) Offset(bytes int) Ptr { return Ptr{Addr: p.Addr + uint64(bytes), Owner: p.Owner} }

// Arg is one kernel argument as a Launcher receives it: the PTX type of its parameter
// ("u64", "u32", "s32" or "f32"), its bits, and for a pointer the allocation it lies in.
type Arg struct {
	Type  string
	Bits  uint64
	Owner any
}

// F32 is the value of an "f32" argument.
func (a Arg) F32() float32 { return math.Float32frombits(uint32(a.Bits)) }

func ptrArg(p Ptr) Arg     { return Arg{Type: "u64", Bits: p.Addr, Owner: p.Owner} }
func u32Arg(v uint32) Arg  { return Arg{Type: "u32", Bits: uint64(v)} }
func s32Arg(v int32) Arg   { return Arg{Type: "s32", Bits: uint64(uint32(v))} }
func f32Arg(v float32) Arg { return Arg{Type: "f32", Bits: uint64(math.Float32bits(v))} }
func flagArg(v bool) Arg {
	if v {
		return u32Arg(1)
	}
	return u32Arg(0)
}

// Launcher runs kernels of this package: the typed launchers check and compute a launch
// and hand it over. Launch returns once the kernel is queued (or, for an interpreter,
// done); args holds one value per parameter of k, in order and of its type.
type Launcher interface {
	Launch(k *Info, grid [3]int, shared int, args []Arg) error
}

// The hardware's grid limits (every architecture so far): cuLaunchKernel refuses more.
const (
	MaxGridX  = 1<<31 - 1
	MaxGridYZ = 65535
)

// launch checks a launch computed by a typed launcher and hands it to l. A grid extent of
// zero (nothing to do) launches one block, whose threads find no work in range: every
// kernel checks its bounds.
func launch(l Launcher, k *Info, grid [3]int, shared int, args ...Arg) error {
	for i := range grid {
		grid[i] = max(grid[i], 1)
	}
	if grid[0] > MaxGridX || grid[1] > MaxGridYZ || grid[2] > MaxGridYZ {
		return fmt.Errorf("kernels: %s: grid %v exceeds the hardware's (%d, %d, %d)", k.Name, grid, MaxGridX, MaxGridYZ, MaxGridYZ)
	}
	return l.Launch(k, grid, shared, args)
}

// ceil is ⌈a/b⌉ for the grid expressions of the generated code.
func ceil(a, b int) int { return (a + b - 1) / b }
