// Package simd holds the CPU hot kernels: single-precision matrix multiply (Sgemm,
// SgemmStrided) and the vector primitives the ops are built from (Dot, Sum, Axpy, Scale,
// Add, Sub, Mul, MulAdd).
//
// Every kernel has up to three implementations: AVX-512 assembly (zmm registers;
// kernels_avx512_amd64.s and the AVX512 functions of the other .s files), AVX2+FMA
// assembly (kernels_amd64.s), and a generic Go twin that every other build (other
// architectures, -tags noasm, processors without AVX2 or FMA) compiles and runs. The
// AVX-512 family reuses the AVX2 kernel where a zmm one measured no faster (gemv, the
// dot-product tiles). cpu.Active, fixed at start-up from cpuid and capped by the
// HUNGRY_CPU environment variable, picks one family for the whole process, so results do
// not change from call to call; the tests run every family the processor has.
//
// Vector kernels take slices whose lengths the caller guarantees to be equal (the length
// of the first slice argument is used; the others must be at least that long, or the call
// panics). They run on the calling goroutine; callers that want
// threads split the work themselves. Sgemm takes a *parallel.Pool and splits large
// products itself.
//
// Floating-point results are not bit-identical between the implementations: the
// assembly fuses multiplies into adds and sums in a different order. Both stay within the
// float32 bound for sums of n terms in any order, |error| <= n·2⁻²⁴·Σ|terms| (the tests
// check against float64 references with that bound). Add, Sub, Mul and Scale round once
// and are exact IEEE operations in both.
package simd

// The amd64 assembly (*_amd64.s) is written by tools/asmgen.
//
//go:generate go run ../../../tools/asmgen -pkg simd -out .
