// Package cpu decides once, at start-up, which CPU kernel family the process uses.
//
// The decision is read-only after package initialisation, so any number of models and
// goroutines in one program see the same answer.
package cpu

import "github.com/klauspost/cpuid/v2"

// AVX2FMA reports whether the AVX2+FMA assembly kernels are used. It is false when the
// processor lacks either extension or when the program was built with the noasm tag,
// in which case every kernel runs its generic Go twin.
var AVX2FMA = !noasm && cpuid.CPU.Supports(cpuid.AVX2, cpuid.FMA3)
