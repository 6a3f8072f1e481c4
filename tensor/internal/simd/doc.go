// Package simd holds the CPU hot kernels: single-precision matrix multiply and the
// vector primitives the ops are built from.
//
// Every kernel has two implementations: AVX2+FMA assembly for amd64, and a generic Go
// twin that every other build (other architectures, -tags noasm, processors without
// AVX2 or FMA) compiles and runs. cpu.AVX2FMA, fixed at start-up, picks one for the whole
// process, so results do not change between calls.
//
// Vector kernels take slices whose lengths the caller guarantees to be equal (the length
// of the first slice argument is used; the others must be at least that long). They run
// on the calling goroutine; callers that want threads split the work themselves.
//
// Floating-point results are not bit-identical between the two implementations: the
// assembly fuses multiply and add and sums in a different order. Both stay within the
// usual bound for float32 sums of n terms, |error| <= n·2⁻²⁴·Σ|terms|.
package simd
