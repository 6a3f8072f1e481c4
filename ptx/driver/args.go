package driver

import (
	"fmt"
	"math"
	"unsafe"
)

type argKind uint8

const (
	argPtr argKind = iota + 1
	argI32
	argU32
	argF32
	argI64
)

// Arg is one kernel parameter. Build it with Ptr, I32, U32, F32 or I64 so that its width
// matches the .param declaration of the PTX entry.
type Arg struct {
	kind argKind
	bits uint64
}

// Ptr is a .u64 parameter holding a device address.
func Ptr(p DevicePtr) Arg { return Arg{kind: argPtr, bits: uint64(p)} }

// I32 is a .s32 parameter.
func I32(v int32) Arg { return Arg{kind: argI32, bits: uint64(uint32(v))} }

// U32 is a .u32 parameter.
func U32(v uint32) Arg { return Arg{kind: argU32, bits: uint64(v)} }

// F32 is a .f32 parameter.
func F32(v float32) Arg { return Arg{kind: argF32, bits: uint64(math.Float32bits(v))} }

// I64 is a .s64 parameter.
func I64(v int64) Arg { return Arg{kind: argI64, bits: uint64(v)} }

// Size is the parameter's width in bytes.
func (a Arg) Size() int {
	switch a.kind {
	case argI32, argU32, argF32:
		return 4
	case argPtr, argI64:
		return 8
	}
	return 0
}

// Value is the argument as a Go value of its kind: a DevicePtr, int32, uint32, float32 or
// int64 (nil for the zero Arg), for backends that do not run through cuLaunchKernel.
func (a Arg) Value() any {
	switch a.kind {
	case argPtr:
		return DevicePtr(a.bits)
	case argI32:
		return int32(uint32(a.bits))
	case argU32:
		return uint32(a.bits)
	case argF32:
		return math.Float32frombits(uint32(a.bits))
	case argI64:
		return int64(a.bits)
	}
	return nil
}

func (a Arg) String() string {
	switch a.kind {
	case argPtr:
		return fmt.Sprintf("ptr(%#x)", a.bits)
	case argI32:
		return fmt.Sprintf("i32(%d)", int32(uint32(a.bits)))
	case argU32:
		return fmt.Sprintf("u32(%d)", uint32(a.bits))
	case argF32:
		return fmt.Sprintf("f32(%g)", math.Float32frombits(uint32(a.bits)))
	case argI64:
		return fmt.Sprintf("i64(%d)", int64(a.bits))
	}
	return "invalid"
}

// packedArgs is the void** array cuLaunchKernel reads: ptrs[i] points at parameter i's
// value. Every value gets its own 8-byte slot; a 4-byte parameter sits in the slot's low
// half, which is where the driver reads it on little-endian machines (the only ones CUDA
// runs on). Keeping both slices in one heap object keeps the values alive as long as the
// pointer array is, which the caller guarantees across the launch with runtime.KeepAlive.
type packedArgs struct {
	values []uint64
	ptrs   []unsafe.Pointer
}

func packArgs(args []Arg) (*packedArgs, error) {
	p := &packedArgs{values: make([]uint64, len(args)), ptrs: make([]unsafe.Pointer, len(args))}
	for i, a := range args {
		if a.kind == 0 {
			return nil, fmt.Errorf("cuda: kernel argument %d is the zero Arg; build it with Ptr, I32, U32, F32 or I64", i)
		}
		p.values[i] = a.bits
		p.ptrs[i] = unsafe.Pointer(&p.values[i])
	}
	return p, nil
}

// base is the address of the pointer array, or nil for a kernel without parameters.
func (p *packedArgs) base() unsafe.Pointer {
	if len(p.ptrs) == 0 {
		return nil
	}
	return unsafe.Pointer(&p.ptrs[0])
}

// KernelParams is the kernelParams array of cuLaunchKernel for args, for backends other
// than Context: element i points at an 8-byte slot holding args[i]'s value, 4-byte values
// in the low half. The slots are Go memory referenced only through the returned slice, so
// the caller keeps it reachable (runtime.KeepAlive) until the launch call has returned.
func KernelParams(args []Arg) ([]unsafe.Pointer, error) {
	p, err := packArgs(args)
	if err != nil {
		return nil, err
	}
	return p.ptrs, nil
}
