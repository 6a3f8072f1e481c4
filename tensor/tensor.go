// Package tensor holds float32 n-dimensional arrays, the devices that store and compute
// on them, and the kernels every op is built from.
//
// A Tensor is contiguous and row-major. Views share storage where that saves a copy on a
// hot path: Reshape and Slice (of the leading axis). Everything else that rearranges data
// (a transpose, say) is a kernel that writes a new tensor; matrix products take transpose
// flags instead, so the common case never materialises a transpose.
//
// Kernels live behind the Device interface: the CPU implementation is in this package and
// a GPU one plugs in without any layer noticing. Shapes are checked by the ops that call
// kernels; a mismatch inside the engine panics with a *ShapeError naming the shapes, and
// API boundaries turn it into an ordinary error with Catch.
package tensor

import (
	"fmt"
	"strings"
)

// Tensor is a contiguous row-major float32 array on one device.
type Tensor struct {
	shape []int
	// data is the storage of host tensors; nil for tensors on another device.
	data []float32
	dev  Device
	// buf and off locate the storage of tensors on a non-host device; the device alone
	// knows what buf is.
	buf any
	off int
}

// New returns a zero-filled tensor on the default CPU device.
func New(shape ...int) *Tensor {
	n := checkShape("New", shape)
	return &Tensor{shape: cloneInts(shape), data: make([]float32, n), dev: DefaultCPU()}
}

// FromSlice wraps data (not copied) as a CPU tensor of the given shape.
func FromSlice(data []float32, shape ...int) *Tensor {
	n := checkShape("FromSlice", shape)
	if n != len(data) {
		panic(&ShapeError{Op: "FromSlice", Shapes: [][]int{shape}, Msg: fmt.Sprintf("shape holds %d elements, data has %d", n, len(data))})
	}
	return &Tensor{shape: cloneInts(shape), data: data, dev: DefaultCPU()}
}

// Scalar returns a CPU tensor of shape [1] holding v.
func Scalar(v float32) *Tensor { return FromSlice([]float32{v}, 1) }

// NewOnDevice wraps storage owned by a non-host device. Devices call it; users do not.
func NewOnDevice(dev Device, buf any, off int, shape []int) *Tensor {
	checkShape("NewOnDevice", shape)
	return &Tensor{shape: cloneInts(shape), dev: dev, buf: buf, off: off}
}

// Storage returns the device storage and element offset of a non-host tensor.
func (t *Tensor) Storage() (buf any, off int) { return t.buf, t.off }

// Device is where the tensor lives.
func (t *Tensor) Device() Device { return t.dev }

// Shape returns the tensor's dimensions. The slice is the tensor's own: do not modify it.
func (t *Tensor) Shape() []int { return t.shape }

// Rank is the number of dimensions.
func (t *Tensor) Rank() int { return len(t.shape) }

// Dim returns dimension i; negative i counts from the end.
func (t *Tensor) Dim(i int) int {
	if i < 0 {
		i += len(t.shape)
	}
	if i < 0 || i >= len(t.shape) {
		panic(&ShapeError{Op: "Dim", Shapes: [][]int{t.shape}, Msg: fmt.Sprintf("no axis %d", i)})
	}
	return t.shape[i]
}

// Numel is the number of elements.
func (t *Tensor) Numel() int { return numel(t.shape) }

// IsHost reports whether the storage is ordinary Go memory that Data can return.
func (t *Tensor) IsHost() bool { return t.buf == nil }

// Data returns the storage of a host tensor (shared, not copied). It panics for tensors on
// other devices: use Host for a copy that works everywhere.
func (t *Tensor) Data() []float32 {
	if t.buf != nil {
		panic(fmt.Sprintf("tensor: Data on a %s tensor; use Host", t.dev.Name()))
	}
	return t.data
}

// Host returns a copy of the elements in host memory, whatever the device.
func (t *Tensor) Host() []float32 {
	out := make([]float32, t.Numel())
	if t.buf == nil {
		copy(out, t.data)
		return out
	}
	t.dev.ToHost(out, t)
	return out
}

// Item returns the single element of a one-element tensor.
func (t *Tensor) Item() float32 {
	if t.Numel() != 1 {
		panic(&ShapeError{Op: "Item", Shapes: [][]int{t.shape}, Msg: "tensor does not hold exactly one element"})
	}
	return t.Host()[0]
}

// Reshape returns a view with a new shape and the same elements. One dimension may be -1,
// inferred from the others.
func (t *Tensor) Reshape(shape ...int) *Tensor {
	shape = cloneInts(shape)
	infer := -1
	known := 1
	for i, d := range shape {
		switch {
		case d == -1 && infer < 0:
			infer = i
		case d < 0:
			panic(&ShapeError{Op: "Reshape", Shapes: [][]int{t.shape, shape}, Msg: "bad dimension"})
		default:
			known *= d
		}
	}
	n := t.Numel()
	if infer >= 0 {
		if known == 0 || n%known != 0 {
			panic(&ShapeError{Op: "Reshape", Shapes: [][]int{t.shape, shape}, Msg: "cannot infer the -1 dimension"})
		}
		shape[infer] = n / known
		known = n
	}
	if known != n {
		panic(&ShapeError{Op: "Reshape", Shapes: [][]int{t.shape, shape}, Msg: "element counts differ"})
	}
	v := *t
	v.shape = shape
	return &v
}

// Slice returns the view of rows [lo, hi) of the leading axis.
func (t *Tensor) Slice(lo, hi int) *Tensor {
	if len(t.shape) == 0 || lo < 0 || hi < lo || hi > t.shape[0] {
		panic(&ShapeError{Op: "Slice", Shapes: [][]int{t.shape}, Msg: fmt.Sprintf("rows [%d, %d) out of range", lo, hi)})
	}
	row := numel(t.shape[1:])
	v := *t
	v.shape = cloneInts(t.shape)
	v.shape[0] = hi - lo
	if t.buf == nil {
		v.data = t.data[lo*row : hi*row : hi*row]
	} else {
		v.off = t.off + lo*row
	}
	return &v
}

// Clone returns a copy on the same device.
func (t *Tensor) Clone() *Tensor {
	c := t.dev.Zeros(t.shape...)
	t.dev.Copy(c, t)
	return c
}

// To returns the tensor on dev, copying only when it lives elsewhere.
func (t *Tensor) To(dev Device) *Tensor {
	if t.dev == dev {
		return t
	}
	return dev.FromHost(t.Host(), t.shape...)
}

func (t *Tensor) String() string {
	return fmt.Sprintf("Tensor%s on %s", ShapeString(t.shape), t.dev.Name())
}

// ShapeError reports shapes that do not fit an operation. The engine panics with it; Catch
// turns it into an error at API boundaries.
type ShapeError struct {
	Op     string
	Shapes [][]int
	Msg    string
}

func (e *ShapeError) Error() string {
	parts := make([]string, len(e.Shapes))
	for i, s := range e.Shapes {
		parts[i] = ShapeString(s)
	}
	return fmt.Sprintf("%s: shapes %s: %s", e.Op, strings.Join(parts, ", "), e.Msg)
}

// Catch runs fn and returns a *ShapeError it panics with as an error. Other panics are
// bugs and propagate.
func Catch(fn func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			if se, ok := r.(*ShapeError); ok {
				err = se
				return
			}
			panic(r)
		}
	}()
	fn()
	return nil
}

// ShapeString formats a shape as [2 3 4].
func ShapeString(s []int) string { return fmt.Sprint(s) }

// SameShape reports whether two shapes are equal.
func SameShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// MustSameShape panics with a *ShapeError when a and b differ.
func MustSameShape(op string, a, b []int) {
	if !SameShape(a, b) {
		panic(&ShapeError{Op: op, Shapes: [][]int{a, b}, Msg: "shapes must be equal"})
	}
}

// Numel is the number of elements a shape holds.
func Numel(shape []int) int { return numel(shape) }

func numel(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

func checkShape(op string, shape []int) int {
	for _, d := range shape {
		if d < 0 {
			panic(&ShapeError{Op: op, Shapes: [][]int{shape}, Msg: "negative dimension"})
		}
	}
	return numel(shape)
}

func cloneInts(s []int) []int { return append([]int(nil), s...) }
