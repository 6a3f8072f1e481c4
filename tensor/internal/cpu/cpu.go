// Package cpu decides once, at start-up, which CPU kernel family the process uses.
//
// The decision is read-only after package initialisation, so any number of models and
// goroutines in one program see the same answer.
package cpu

import (
	"os"
	"strings"

	"github.com/klauspost/cpuid/v2"
)

// Family is one set of kernels: the generic Go twins, or an assembly family written for
// an instruction-set level. A higher family needs every extension of the lower ones.
type Family int

const (
	// Generic is the Go twins, which every build and processor runs.
	Generic Family = iota
	// AVX2 is the AVX2+FMA assembly: 16 ymm registers of 8 floats.
	AVX2
	// AVX512 is the AVX-512 (F, DQ, BW, VL) assembly: 32 zmm registers of 16 floats.
	AVX512
)

// Families lists every family, lowest first.
var Families = []Family{Generic, AVX2, AVX512}

// String is the family's name as HUNGRY_CPU spells it: generic, avx2 or avx512.
func (f Family) String() string {
	switch f {
	case Generic:
		return "generic"
	case AVX2:
		return "avx2"
	case AVX512:
		return "avx512"
	}
	return "unknown"
}

// Supported reports whether this build and processor can run family f. The noasm tag
// leaves the generic family only.
func Supported(f Family) bool {
	switch f {
	case Generic:
		return true
	case AVX2:
		return !noasm && cpuid.CPU.Supports(cpuid.AVX2, cpuid.FMA3)
	case AVX512:
		return Supported(AVX2) && cpuid.CPU.Supports(cpuid.AVX512F, cpuid.AVX512DQ, cpuid.AVX512BW, cpuid.AVX512VL)
	}
	return false
}

// Env is the environment variable that caps the family: HUNGRY_CPU=avx2 runs the AVX2
// kernels on an AVX-512 processor and HUNGRY_CPU=generic the Go twins, so that tests and
// benchmarks can cover every path on one machine. It is read once, at start-up.
const Env = "HUNGRY_CPU"

// Active is the family the process uses: the highest one the processor supports, capped
// by HUNGRY_CPU.
var Active, Note = choose(os.Getenv(Env))

// AVX2FMA reports whether the process uses an assembly family (AVX2 or above). It is
// false when the processor lacks AVX2 or FMA, when HUNGRY_CPU=generic, or when the
// program was built with the noasm tag; then every kernel runs its generic Go twin.
var AVX2FMA = Active >= AVX2

// choose picks the family for the HUNGRY_CPU value env. A request the processor cannot
// run, or a name it does not know, falls back to the best supported family (a library
// has no one to return an error to at start-up); note then says why, for the program to
// print, and is empty otherwise.
func choose(env string) (f Family, note string) {
	best := Generic
	for _, g := range Families {
		if Supported(g) {
			best = g
		}
	}
	env = strings.ToLower(strings.TrimSpace(env))
	if env == "" {
		return best, ""
	}
	for _, g := range Families {
		if g.String() != env {
			continue
		}
		if g > best {
			return best, Env + "=" + env + " asks for kernels this build or processor cannot run; using " + best.String()
		}
		return g, ""
	}
	return best, Env + "=" + env + " is not generic, avx2 or avx512; using " + best.String()
}
