//go:build noasm

package cpu

// The noasm tag forces the generic Go kernels everywhere, so that both paths can be tested.
const noasm = true
