package safetensors

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Data type names as they appear in the "dtype" field of a header.
const (
	BOOL       = "BOOL"
	U8         = "U8"
	I8         = "I8"
	F8E5M2     = "F8_E5M2"
	F8E4M3     = "F8_E4M3"
	F8E8M0     = "F8_E8M0"
	F8E4M3FNUZ = "F8_E4M3FNUZ"
	F8E5M2FNUZ = "F8_E5M2FNUZ"
	I16        = "I16"
	U16        = "U16"
	F16        = "F16"
	BF16       = "BF16"
	I32        = "I32"
	U32        = "U32"
	F32        = "F32"
	C64        = "C64"
	F64        = "F64"
	I64        = "I64"
	U64        = "U64"
)

// unknownRank marks a dtype name this package does not know.
const unknownRank = -1

// dtypeInfo returns the element size in bytes and the position of the dtype in the
// reference implementation's Dtype enum. The writer orders tensors by descending rank
// (then by name) exactly like the Rust crate behind the Python package, so both produce
// byte-identical files and every tensor starts at an offset aligned to its element size.
// The sub-byte types F4/F6 are not supported: their tensors are not byte-addressable.
func dtypeInfo(dtype string) (size, rank int) {
	switch dtype {
	case BOOL:
		return 1, 0
	case U8:
		return 1, 4
	case I8:
		return 1, 5
	case F8E5M2:
		return 1, 6
	case F8E4M3:
		return 1, 7
	case F8E8M0:
		return 1, 8
	case F8E4M3FNUZ:
		return 1, 9
	case F8E5M2FNUZ:
		return 1, 10
	case I16:
		return 2, 11
	case U16:
		return 2, 12
	case F16:
		return 2, 13
	case BF16:
		return 2, 14
	case I32:
		return 4, 15
	case U32:
		return 4, 16
	case F32:
		return 4, 17
	case C64:
		return 8, 18
	case F64:
		return 8, 19
	case I64:
		return 8, 20
	case U64:
		return 8, 21
	}
	return 0, unknownRank
}

// DTypeSize is the size in bytes of one element of dtype, or 0 if the dtype is not
// supported.
func DTypeSize(dtype string) int {
	size, _ := dtypeInfo(dtype)
	return size
}

// float16ToFloat32 widens an IEEE 754 binary16 value; every binary16 value, subnormals,
// infinities and NaN payloads included, is exactly representable in float32.
func float16ToFloat32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // inf or NaN: keep the payload in the top mantissa bits
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case exp != 0:
		return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
	case mant == 0:
		return math.Float32frombits(sign)
	}
	// Subnormal binary16: value = mant · 2^-24, normal in float32.
	e := uint32(127 - 15 + 1)
	for mant&0x400 == 0 {
		mant <<= 1
		e--
	}
	return math.Float32frombits(sign | e<<23 | (mant&0x3ff)<<13)
}

// bfloat16ToFloat32 widens a bfloat16, which is the top half of a float32.
func bfloat16ToFloat32(b uint16) float32 {
	return math.Float32frombits(uint32(b) << 16)
}

// ToFloat32 converts the little-endian elements of dtype in src into dst: half and
// bfloat16 exactly, wider types rounded to nearest. It is shared by every reader of
// checkpoint bytes (safetensors and torch files).
func ToFloat32(dtype string, src []byte, dst []float32) error {
	le := binary.LittleEndian
	switch dtype {
	case F32:
		for i := range dst {
			dst[i] = math.Float32frombits(le.Uint32(src[4*i:]))
		}
	case F64:
		for i := range dst {
			dst[i] = float32(math.Float64frombits(le.Uint64(src[8*i:])))
		}
	case F16:
		for i := range dst {
			dst[i] = float16ToFloat32(le.Uint16(src[2*i:]))
		}
	case BF16:
		for i := range dst {
			dst[i] = bfloat16ToFloat32(le.Uint16(src[2*i:]))
		}
	case I64:
		for i := range dst {
			dst[i] = float32(int64(le.Uint64(src[8*i:])))
		}
	case U64:
		for i := range dst {
			dst[i] = float32(le.Uint64(src[8*i:]))
		}
	case I32:
		for i := range dst {
			dst[i] = float32(int32(le.Uint32(src[4*i:])))
		}
	case U32:
		for i := range dst {
			dst[i] = float32(le.Uint32(src[4*i:]))
		}
	case I16:
		for i := range dst {
			dst[i] = float32(int16(le.Uint16(src[2*i:])))
		}
	case U16:
		for i := range dst {
			dst[i] = float32(le.Uint16(src[2*i:]))
		}
	case I8:
		for i := range dst {
			dst[i] = float32(int8(src[i]))
		}
	case U8, BOOL:
		for i := range dst {
			dst[i] = float32(src[i])
		}
	default:
		return fmt.Errorf("safetensors: no conversion from %s to float32", dtype)
	}
	return nil
}

// toInt64 converts little-endian integer elements of dtype in src into dst.
func toInt64(dtype string, src []byte, dst []int64) error {
	le := binary.LittleEndian
	switch dtype {
	case I64:
		for i := range dst {
			dst[i] = int64(le.Uint64(src[8*i:]))
		}
	case U64:
		for i := range dst {
			v := le.Uint64(src[8*i:])
			if v > math.MaxInt64 {
				return fmt.Errorf("safetensors: U64 element %d (%d) does not fit in int64", i, v)
			}
			dst[i] = int64(v)
		}
	case I32:
		for i := range dst {
			dst[i] = int64(int32(le.Uint32(src[4*i:])))
		}
	case U32:
		for i := range dst {
			dst[i] = int64(le.Uint32(src[4*i:]))
		}
	case I16:
		for i := range dst {
			dst[i] = int64(int16(le.Uint16(src[2*i:])))
		}
	case U16:
		for i := range dst {
			dst[i] = int64(le.Uint16(src[2*i:]))
		}
	case I8:
		for i := range dst {
			dst[i] = int64(int8(src[i]))
		}
	case U8, BOOL:
		for i := range dst {
			dst[i] = int64(src[i])
		}
	default:
		return fmt.Errorf("safetensors: no conversion from %s to int64", dtype)
	}
	return nil
}
