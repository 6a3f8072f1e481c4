// Package ptxsim interprets the PTX subset that tools/ptxgen emits, so the project's GPU
// kernels can be run, compared with references and checked for undefined behaviour on a
// machine without a GPU. It executes the embedded PTX text itself, not a Go twin of it.
//
//	m, err := ptxsim.Load(src)                 // parse and check a module
//	mem := ptxsim.NewMemory()
//	x, err := mem.AllocF32(data)               // written memory
//	y, err := mem.Alloc(4 * n)                 // unwritten: reading it before a write fails
//	err = m.Launch(mem, k.Name, grid, k.Block, sharedBytes, y, x, x, n) // k a *kernels.Info
//	out, err := mem.ReadF32(y, n)
//
// Execution model. Blocks run one after another. Inside a block every thread runs on its
// own until it reaches bar.sync or a warp-collective instruction (shfl.sync, vote.sync,
// mma.sync); there the threads meet, and it is an error if a thread named in the
// membermask (all 32 lanes for mma) is elsewhere or has exited, or if a barrier is not
// reached by every thread of the block. Divergence is therefore handled exactly: each
// thread follows its own branches. cp.async copies land only when a cp.async.wait_group
// (or wait_all) completes their group.
//
// Checks, each reported as an error naming kernel, block, thread, source line and address:
// out-of-bounds or misaligned global and shared accesses; reads of memory or registers
// nothing wrote; data races (two threads touching a word, at least one writing, not
// ordered by a bar.sync of the same block; atomics exempt; one reader is remembered per
// word, so a race can be missed but none is invented); a guarded bra.uni whose lanes
// decide differently; integer division by zero; launch arguments that do not match the
// .param list; more than 1024 threads per block or 163 KiB of shared memory.
//
// Arithmetic follows PTX semantics for the types used (.f32 and .f64 IEEE with round-to-nearest,
// .rn division and square root, fma with a single rounding except in rare double-rounding
// ties). ex2.approx and lg2.approx are computed exactly, whereas hardware is within about
// 2 ulp; kernel tests keep tolerances that cover the difference. mma.sync m16n8k8 .tf32
// ignores the low 13 mantissa bits of its inputs, as the tensor cores do, and sums the
// exact products in float64 before rounding once; hardware accumulates in fp32 in an
// unspecified order, which the TF32 test tolerance covers. mma.sync m16n8k16 with .bf16
// or .f16 inputs and .f32 accumulators does the same with 16-bit inputs; ldmatrix
// (m8n8 .x1/.x2/.x4, .trans, .b16 from shared memory) loads their fragments, and
// cvt.rn.{bf16x2,f16x2}.f32 packs two floats into one register, rounding to nearest even.
// The fragment layouts are the PTX ISA's (mma16.go), and the tests place the elements by
// the ISA's formulas and compare with a float64 matrix product.
//
// Counting. LaunchWithStats returns what a launch did: threads and shared memory per
// block, and the global-memory bytes it read and wrote, both as distinct words (the DRAM
// traffic of an ideal cache within the launch) and as requested by the threads
// (LaunchStats). Package ptx/gpu sums them per Device op; hungry bench --device sim
// reports them for the H3 convolution.
//
// Not modelled: timing, the memory consistency model beyond the race check, generic
// addressing, local memory, textures, and instructions outside the subset (Load rejects them).
package ptxsim
