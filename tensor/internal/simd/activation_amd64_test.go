//go:build amd64 && !noasm

package simd

import "github.com/hungry-ssm/hungry/tensor/internal/cpu"

// geluImplementations lists the generic twin and, where the processor runs it, the
// assembly as the package dispatches to it (whole vectors in assembly, the tail in Go).
func geluImplementations() []geluImpl {
	if !cpu.AVX2FMA {
		return []geluImpl{geluGenericImpl}
	}
	return []geluImpl{geluGenericImpl, {name: "avx2", gelu: gelu, backward: geluBackward, expShift: expShift}}
}
