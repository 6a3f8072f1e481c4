package ptxsim

import (
	"encoding/binary"
	"fmt"
	"math"
	"sort"
)

// Ptr is a device address in the simulated global memory.
type Ptr uint64

const (
	// Allocations start above 4 GiB so that a kernel that truncates a pointer to 32 bits
	// lands outside every allocation and is reported instead of silently working.
	globalBase = uint64(1) << 32
	// Like cudaMalloc, every allocation is 256-byte aligned; the unmapped gap after each
	// one turns a small overrun into an out-of-bounds report rather than a read of the
	// neighbouring buffer.
	allocAlign = 256
	allocGap   = 256
)

type allocation struct {
	base   uint64
	data   []byte
	init   []bool   // per byte: has anything (host or kernel) written it?
	shadow []shadow // per 4-byte word, for race detection; made on first kernel access
	// atomicSeen is, per word, the last launch that touched it atomically (LaunchStats).
	atomicSeen []uint32
}

// Memory is the simulated device global memory. It tracks which bytes were written so
// that reading memory nothing wrote is reported, by kernels and by the host alike.
type Memory struct {
	allocs   []*allocation // sorted by base
	next     uint64
	launches uint32
}

// NewMemory returns an empty global memory.
func NewMemory() *Memory { return &Memory{next: globalBase} }

// Alloc reserves n bytes that are not yet written; reading them before a write is an error.
func (m *Memory) Alloc(n int) (Ptr, error) {
	if n <= 0 {
		return 0, fmt.Errorf("ptxsim: Alloc of %d bytes", n)
	}
	a := &allocation{base: m.next, data: make([]byte, n), init: make([]bool, n)}
	m.allocs = append(m.allocs, a)
	m.next = (m.next + uint64(n) + allocGap + allocAlign - 1) &^ (allocAlign - 1)
	return Ptr(a.base), nil
}

// AllocF32 allocates len(data) float32 values initialised with data.
func (m *Memory) AllocF32(data []float32) (Ptr, error) {
	p, err := m.Alloc(4 * len(data))
	if err != nil {
		return 0, err
	}
	return p, m.WriteF32(p, data)
}

// AllocI32 allocates len(data) int32 values initialised with data.
func (m *Memory) AllocI32(data []int32) (Ptr, error) {
	p, err := m.Alloc(4 * len(data))
	if err != nil {
		return 0, err
	}
	return p, m.WriteI32(p, data)
}

// ZerosF32 allocates n float32 zeros (like cudaMemset to 0).
func (m *Memory) ZerosF32(n int) (Ptr, error) { return m.AllocF32(make([]float32, n)) }

func (m *Memory) find(addr uint64, size int) (*allocation, int, error) {
	i := sort.Search(len(m.allocs), func(i int) bool { return m.allocs[i].base > addr }) - 1
	if i < 0 {
		return nil, 0, fmt.Errorf("address 0x%x (%d bytes) is not in any allocation", addr, size)
	}
	a := m.allocs[i]
	off := addr - a.base
	if off+uint64(size) > uint64(len(a.data)) {
		return nil, 0, fmt.Errorf("address 0x%x (%d bytes) is out of bounds of the %d-byte allocation at 0x%x",
			addr, size, len(a.data), a.base)
	}
	return a, int(off), nil
}

func (m *Memory) read(addr uint64, size int) ([]byte, error) {
	a, off, err := m.find(addr, size)
	if err != nil {
		return nil, err
	}
	for j := off; j < off+size; j++ {
		if !a.init[j] {
			return nil, fmt.Errorf("read of %d bytes at 0x%x touches byte 0x%x that nothing wrote", size, addr, a.base+uint64(j))
		}
	}
	return a.data[off : off+size], nil
}

func (m *Memory) write(addr uint64, b []byte) error {
	a, off, err := m.find(addr, len(b))
	if err != nil {
		return err
	}
	copy(a.data[off:], b)
	for j := off; j < off+len(b); j++ {
		a.init[j] = true
	}
	return nil
}

// WriteBytes copies b to p.
func (m *Memory) WriteBytes(p Ptr, b []byte) error {
	if err := m.write(uint64(p), b); err != nil {
		return fmt.Errorf("ptxsim: WriteBytes: %w", err)
	}
	return nil
}

// ReadBytes copies len(dst) bytes at p into dst; it fails if any of them was never written.
func (m *Memory) ReadBytes(dst []byte, p Ptr) error {
	b, err := m.read(uint64(p), len(dst))
	if err != nil {
		return fmt.Errorf("ptxsim: ReadBytes: %w", err)
	}
	copy(dst, b)
	return nil
}

// WriteF32 copies data to p.
func (m *Memory) WriteF32(p Ptr, data []float32) error {
	b := make([]byte, 4*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	if err := m.write(uint64(p), b); err != nil {
		return fmt.Errorf("ptxsim: WriteF32: %w", err)
	}
	return nil
}

// WriteI32 copies data to p.
func (m *Memory) WriteI32(p Ptr, data []int32) error {
	b := make([]byte, 4*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint32(b[4*i:], uint32(v))
	}
	if err := m.write(uint64(p), b); err != nil {
		return fmt.Errorf("ptxsim: WriteI32: %w", err)
	}
	return nil
}

// ReadF32 returns n float32 values at p; it fails if any of them was never written.
func (m *Memory) ReadF32(p Ptr, n int) ([]float32, error) {
	b, err := m.read(uint64(p), 4*n)
	if err != nil {
		return nil, fmt.Errorf("ptxsim: ReadF32: %w", err)
	}
	out := make([]float32, n)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out, nil
}

// ReadI32 returns n int32 values at p; it fails if any of them was never written.
func (m *Memory) ReadI32(p Ptr, n int) ([]int32, error) {
	b, err := m.read(uint64(p), 4*n)
	if err != nil {
		return nil, fmt.Errorf("ptxsim: ReadI32: %w", err)
	}
	out := make([]int32, n)
	for i := range out {
		out[i] = int32(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out, nil
}
