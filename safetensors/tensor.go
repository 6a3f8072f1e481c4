// Package safetensors reads and writes the safetensors format
// (https://github.com/huggingface/safetensors): an 8-byte little-endian header length N,
// N bytes of JSON mapping each tensor name to {dtype, shape, data_offsets: [begin, end]}
// (plus an optional "__metadata__" object of string values), then the data buffer, whose
// byte ranges the tensors must cover exactly, without gaps or overlaps.
//
// Reading validates the whole header before any allocation that depends on it, so a
// corrupt or hostile file yields an error naming the problem, never a panic or a huge
// allocation. Writing is deterministic and byte-compatible with the reference
// implementation used by the Python package.
package safetensors

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"
)

// Tensor is one named array: its dtype name (F32, F16, ...), its shape (a scalar has an
// empty shape) and its elements, little-endian, row-major.
type Tensor struct {
	DType string
	Shape []int
	Data  []byte
}

// numel returns the number of elements of shape, failing on negative dimensions or
// overflow so that no caller ever computes a size from a wrapped product.
func numel(shape []int) (int64, error) {
	n := uint64(1)
	for i, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("dimension %d is negative (%d)", i, d)
		}
		hi, lo := bits.Mul64(n, uint64(d))
		if hi != 0 || lo > math.MaxInt64 {
			return 0, errors.New("shape has more elements than fit in int64")
		}
		n = lo
	}
	return int64(n), nil
}

// byteSize returns the number of bytes a tensor of dtype and shape occupies.
func byteSize(dtype string, shape []int) (int64, error) {
	size, _ := dtypeInfo(dtype)
	if size == 0 {
		return 0, fmt.Errorf("unknown or unsupported dtype %q", dtype)
	}
	n, err := numel(shape)
	if err != nil {
		return 0, err
	}
	hi, lo := bits.Mul64(uint64(n), uint64(size))
	if hi != 0 || lo > math.MaxInt64 {
		return 0, errors.New("byte size overflows int64")
	}
	return int64(lo), nil
}

// Numel is the number of elements the shape describes (1 for a scalar). It returns an
// error for a negative dimension or an overflowing product.
func (t Tensor) Numel() (int, error) {
	n, err := numel(t.Shape)
	if err != nil {
		return 0, err
	}
	if n > math.MaxInt {
		return 0, errors.New("shape has more elements than fit in int")
	}
	return int(n), nil
}

// Validate checks that the dtype is supported, no dimension is negative and Data holds
// exactly the bytes the shape requires.
func (t Tensor) Validate() error {
	want, err := byteSize(t.DType, t.Shape)
	if err != nil {
		return err
	}
	if int64(len(t.Data)) != want {
		return fmt.Errorf("%s tensor of shape %v needs %d bytes, has %d", t.DType, t.Shape, want, len(t.Data))
	}
	return nil
}

// F32 returns the elements converted to float32. Float types convert by rounding to
// nearest (F16, BF16 exactly); integer and BOOL types convert by value. FP8 and complex
// dtypes are refused rather than guessed.
func (t Tensor) F32() ([]float32, error) {
	if err := t.Validate(); err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	out := make([]float32, len(t.Data)/DTypeSize(t.DType))
	if err := ToFloat32(t.DType, t.Data, out); err != nil {
		return nil, err
	}
	return out, nil
}

// Int64 returns the elements of an integer or BOOL tensor as int64 (for token ids and
// labels). Float dtypes are refused: silently truncating them would hide a mistake.
func (t Tensor) Int64() ([]int64, error) {
	if err := t.Validate(); err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	out := make([]int64, len(t.Data)/DTypeSize(t.DType))
	if err := toInt64(t.DType, t.Data, out); err != nil {
		return nil, err
	}
	return out, nil
}

// FromF32 builds an F32 tensor; it fails if len(data) does not match the shape.
func FromF32(shape []int, data []float32) (Tensor, error) {
	n, err := numel(shape)
	if err != nil {
		return Tensor{}, fmt.Errorf("safetensors: %w", err)
	}
	if n != int64(len(data)) {
		return Tensor{}, fmt.Errorf("safetensors: shape %v has %d elements, data has %d", shape, n, len(data))
	}
	buf := make([]byte, 4*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(v))
	}
	return Tensor{DType: F32, Shape: append([]int(nil), shape...), Data: buf}, nil
}

// FromInt64 builds an I64 tensor; it fails if len(data) does not match the shape.
func FromInt64(shape []int, data []int64) (Tensor, error) {
	n, err := numel(shape)
	if err != nil {
		return Tensor{}, fmt.Errorf("safetensors: %w", err)
	}
	if n != int64(len(data)) {
		return Tensor{}, fmt.Errorf("safetensors: shape %v has %d elements, data has %d", shape, n, len(data))
	}
	buf := make([]byte, 8*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint64(buf[8*i:], uint64(v))
	}
	return Tensor{DType: I64, Shape: append([]int(nil), shape...), Data: buf}, nil
}
