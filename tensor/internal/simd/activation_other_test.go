//go:build !amd64 || noasm

package simd

func geluImplementations() []geluImpl { return []geluImpl{geluGenericImpl} }
