package tensor

import (
	"fmt"
	"sync"

	"github.com/hungry-ssm/hungry/tensor/internal/parallel"
)

// Device stores tensors and runs the kernels that ops are made of. The CPU implements it
// here; a GPU implements the same interface elsewhere, so layers and the training loop
// never ask which one they run on.
//
// The ops in package autograd check shapes before calling a kernel, and every tensor passed
// to a device's kernel must live on that device. The CPU kernels rely on those checks; the
// GPU device checks its arguments again, because a wrong size there would read or write
// memory it does not own instead of failing.
type Device interface {
	// Name is a short label such as "cpu" or "cuda:0".
	Name() string
	// Zeros allocates a zero-filled tensor.
	Zeros(shape ...int) *Tensor
	// Empty allocates a tensor whose elements are unspecified, for the output of a kernel
	// that writes every element: on a GPU, Zeros' memset would be a pass over memory the
	// kernel overwrites anyway.
	Empty(shape ...int) *Tensor
	// FromHost copies host data into a new tensor on the device.
	FromHost(data []float32, shape ...int) *Tensor
	// ToHost copies src's elements into dst (len(dst) == src.Numel()).
	ToHost(dst []float32, src *Tensor)
	// Copy copies src into dst (same number of elements).
	Copy(dst, src *Tensor)
	// CopyBlocks copies n blocks of size elements, block i from src's element
	// i·srcStride to dst's element i·dstStride: rows into a wider matrix, such as new
	// positions into a key/value cache with room for more.
	CopyBlocks(dst, src *Tensor, n, size, dstStride, srcStride int)
	// Fill sets every element of dst to v.
	Fill(dst *Tensor, v float32)
	Kernels
}

// Kernels is everything a device computes. Each group is declared in its own file beside
// its CPU implementation.
type Kernels interface {
	LinalgKernels
	ElementwiseKernels
	ReduceKernels
	NNKernels
	ConvKernels
	H3ConvKernels
	SSMKernels
	StatePassKernels
	OptimKernels
	FusedKernels
}

// CPU is the host device. Its kernels run on a shared pool of worker goroutines.
type CPU struct {
	pool    *parallel.Pool
	scratch *scratch
}

// NewCPU returns a CPU device whose kernels use the given number of workers (<= 0 means
// GOMAXPROCS).
func NewCPU(workers int) *CPU { return &CPU{pool: parallel.New(workers), scratch: newScratch()} }

var (
	defaultCPUOnce sync.Once
	defaultCPU     *CPU
)

// DefaultCPU is the CPU device that New and FromSlice use, created on first use with
// GOMAXPROCS workers. It holds no mutable state beyond its idle workers.
func DefaultCPU() *CPU {
	defaultCPUOnce.Do(func() { defaultCPU = &CPU{pool: parallel.Default(), scratch: newScratch()} })
	return defaultCPU
}

// Name implements Device.
func (c *CPU) Name() string { return "cpu" }

// Workers is the number of goroutines a kernel may use.
func (c *CPU) Workers() int { return c.pool.Workers() }

// For runs fn over [0, n) split across the device's workers in ranges of at least grain.
func (c *CPU) For(n, grain int, fn func(lo, hi int)) { c.pool.For(n, grain, fn) }

// Zeros implements Device.
func (c *CPU) Zeros(shape ...int) *Tensor {
	n := checkShape("Zeros", shape)
	return &Tensor{shape: cloneInts(shape), data: make([]float32, n), dev: c}
}

// Empty implements Device. Go's allocator clears memory anyway, so on a fresh
// allocation it is Zeros; the saving is the arena's (Arena.Empty).
func (c *CPU) Empty(shape ...int) *Tensor { return c.Zeros(shape...) }

// FromHost implements Device.
func (c *CPU) FromHost(data []float32, shape ...int) *Tensor {
	t := c.Zeros(shape...)
	if len(data) != len(t.data) {
		panic(&ShapeError{Op: "FromHost", Shapes: [][]int{shape}, Msg: "data length does not match the shape"})
	}
	copy(t.data, data)
	return t
}

// ToHost implements Device.
func (c *CPU) ToHost(dst []float32, src *Tensor) { copy(dst, src.data) }

// Copy implements Device.
func (c *CPU) Copy(dst, src *Tensor) {
	if len(dst.data) != len(src.data) {
		panic(&ShapeError{Op: "Copy", Shapes: [][]int{dst.shape, src.shape}, Msg: "element counts differ"})
	}
	copy(dst.data, src.data)
}

// CheckBlocks panics with a *ShapeError unless CopyBlocks' blocks lie inside dst and src
// and the blocks of dst do not overlap.
func CheckBlocks(dst, src *Tensor, n, size, dstStride, srcStride int) {
	if n < 0 || size < 0 || n > 0 && size > 0 &&
		(dstStride < size || srcStride < 0 || (n-1)*dstStride+size > dst.Numel() || (n-1)*srcStride+size > src.Numel()) {
		panic(&ShapeError{Op: "CopyBlocks", Shapes: [][]int{dst.shape, src.shape},
			Msg: fmt.Sprintf("%d blocks of %d at strides %d (dst) and %d (src) do not fit", n, size, dstStride, srcStride)})
	}
}

// CopyBlocks implements Device.
func (c *CPU) CopyBlocks(dst, src *Tensor, n, size, dstStride, srcStride int) {
	CheckBlocks(dst, src, n, size, dstStride, srcStride)
	if size == 0 {
		return
	}
	for i := 0; i < n; i++ {
		copy(dst.data[i*dstStride:i*dstStride+size], src.data[i*srcStride:i*srcStride+size])
	}
}

// Fill implements Device.
func (c *CPU) Fill(dst *Tensor, v float32) {
	d := dst.data
	if v == 0 {
		clear(d)
		return
	}
	for i := range d {
		d[i] = v
	}
}
