//go:build !amd64 || noasm

package simd

// Builds without the assembly run the generic twins directly.

func dot(x, y []float32) float32                      { return dotGeneric(x, y) }
func sum(x []float32) float32                         { return sumGeneric(x) }
func axpy(alpha float32, x, y []float32)              { axpyGeneric(alpha, x, y) }
func scale(dst []float32, alpha float32, x []float32) { scaleGeneric(dst, alpha, x) }
func add(dst, a, b []float32)                         { addGeneric(dst, a, b) }
func sub(dst, a, b []float32)                         { subGeneric(dst, a, b) }
func mul(dst, a, b []float32)                         { mulGeneric(dst, a, b) }
func mulAdd(dst, a, b []float32)                      { mulAddGeneric(dst, a, b) }

func activeGemmKernels() gemmKernels { return genericGemmKernels }
