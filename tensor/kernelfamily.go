package tensor

import "github.com/hungry-ssm/hungry/tensor/internal/cpu"

// KernelFamily names the CPU kernel family the process runs: "avx512", "avx2" or
// "generic". It is fixed at start-up from the processor's features, capped by the
// HUNGRY_CPU environment variable, and is "generic" in builds with the noasm tag.
func KernelFamily() string { return cpu.Active.String() }

// KernelFamilyNote explains, when HUNGRY_CPU asked for a family that this build or
// processor cannot run or that does not exist, which family runs instead; it is empty
// otherwise. A program prints it so that a mistyped setting does not pass unnoticed.
func KernelFamilyNote() string { return cpu.Note }
