package kernels_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/hungry-ssm/hungry/ptx/kernels"
	"github.com/hungry-ssm/hungry/ptx/ptxsim"
)

// Tolerances, written next to their reason:
const (
	// fp32 kernels against float64 references: a few float32 roundings per output (2^-24
	// each) plus the simulated ex2/lg2, which are exact here; 1e-5 leaves room for the
	// roughly 2-ulp error of the hardware approximations too.
	rtolF32 = 1e-5
	// TF32 keeps 10 of float32's 23 mantissa bits: each input is rounded with relative error
	// up to 2^-11 ≈ 4.9e-4, so a product is off by up to ≈ 9.8e-4 of |a||b|. Errors are
	// measured against sum_k |a_ik||b_kj|, where 3e-3 covers both rounded inputs plus the
	// fp32 accumulation.
	rtolTF32 = 3e-3
)

// awkwardSizes are the lengths every kernel is tried on: 1, below a warp, around a warp,
// not a multiple of any tile, and a few above one block's worth.
var awkwardSizes = []int{1, 7, 31, 33, 100, 1000, 1027}

type env struct {
	t       *testing.T
	mem     *ptxsim.Memory
	rng     *rand.Rand
	modules map[string]*ptxsim.Module
}

// newEnv returns fresh interpreter memory and a random source seeded by the module the
// test is about.
func newEnv(t *testing.T, module string) *env {
	return &env{t: t, mem: ptxsim.NewMemory(), rng: rand.New(rand.NewPCG(1, uint64(len(module)))), modules: map[string]*ptxsim.Module{}}
}

// module loads a module on first use.
func (e *env) module(name string) *ptxsim.Module {
	e.t.Helper()
	if m, ok := e.modules[name]; ok {
		return m
	}
	src, err := kernels.Source(name)
	if err != nil {
		e.t.Fatal(err)
	}
	m, err := ptxsim.Load(src)
	if err != nil {
		e.t.Fatal(err)
	}
	e.modules[name] = m
	return m
}

// rand returns n values in [lo, hi) with none closer to zero than 1e-3 of the range, so
// no test is passed by a kernel that writes zeros.
func (e *env) rand(n int, lo, hi float64) []float32 {
	out := make([]float32, n)
	for i := range out {
		for {
			v := lo + (hi-lo)*e.rng.Float64()
			if math.Abs(v) > 1e-3*(hi-lo) {
				out[i] = float32(v)
				break
			}
		}
	}
	return out
}

func (e *env) f32(data []float32) ptxsim.Ptr {
	e.t.Helper()
	p, err := e.mem.AllocF32(data)
	if err != nil {
		e.t.Fatal(err)
	}
	return p
}

func (e *env) i32(data []int32) ptxsim.Ptr {
	e.t.Helper()
	p, err := e.mem.AllocI32(data)
	if err != nil {
		e.t.Fatal(err)
	}
	return p
}

// out allocates n unwritten floats: reading back one the kernel did not write fails.
func (e *env) out(n int) ptxsim.Ptr {
	e.t.Helper()
	p, err := e.mem.Alloc(4 * n)
	if err != nil {
		e.t.Fatal(err)
	}
	return p
}

func (e *env) read(p ptxsim.Ptr, n int) []float32 {
	e.t.Helper()
	v, err := e.mem.ReadF32(p, n)
	if err != nil {
		e.t.Fatal(err)
	}
	return v
}

// launch runs k with the given grid and block, as a test chooses them.
func (e *env) launch(k *kernels.Info, grid, block [3]int, shared int, args ...any) {
	e.t.Helper()
	// Launching every kernel with its indexed block shape also checks the index.
	if k.Block != block {
		e.t.Fatalf("%s: launched with block %v, index says %v", k.Name, block, k.Block)
	}
	if err := e.module(k.Module).Launch(e.mem, k.Name, grid, block, shared, args...); err != nil {
		e.t.Fatal(err)
	}
}

// Launch implements kernels.Launcher on the interpreter, so that a test can call the
// typed launchers and run the grids they compute.
func (e *env) Launch(k *kernels.Info, grid [3]int, shared int, args []kernels.Arg) error {
	vals := make([]any, len(args))
	for i, a := range args {
		switch a.Type {
		case "u64":
			vals[i] = ptxsim.Ptr(a.Bits)
		case "u32":
			vals[i] = uint32(a.Bits)
		case "s32":
			vals[i] = int32(uint32(a.Bits))
		case "f32":
			vals[i] = a.F32()
		}
	}
	return e.module(k.Module).Launch(e.mem, k.Name, grid, k.Block, shared, vals...)
}

// kp is p as a typed launcher's argument.
func kp(p ptxsim.Ptr) kernels.Ptr { return kernels.Ptr{Addr: uint64(p)} }

// ptrNull is the null device pointer that optional operands are passed as.
const ptrNull = ptxsim.Ptr(0)

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// check compares got with want: |got-want| <= rtol·(|want| + scale[i]), where scale gives
// the magnitude of the terms an output was computed from (0 for a purely relative test).
func check(t *testing.T, what string, got []float32, want []float64, rtol float64, scale func(i int) float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	bad := 0
	for i := range got {
		s := 0.0
		if scale != nil {
			s = scale(i)
		}
		g := float64(got[i])
		if !(math.Abs(g-want[i]) <= rtol*(math.Abs(want[i])+s)) {
			if bad < 5 {
				t.Errorf("%s[%d] = %g, want %g (tolerance %g)", what, i, g, want[i], rtol*(math.Abs(want[i])+s))
			}
			bad++
		}
	}
	if bad > 0 {
		t.Errorf("%s: %d of %d values out of tolerance", what, bad, len(got))
	}
}

func name(format string, a ...any) string { return fmt.Sprintf(format, a...) }

// ptrOff is the byte offset of float index i.
func ptrOff(i int) ptxsim.Ptr { return ptxsim.Ptr(4 * i) }

// TestIndexMatchesModules checks that the generated index and the embedded PTX agree on
// which kernels exist and on their parameters.
func TestIndexMatchesModules(t *testing.T) {
	seen := map[string]bool{}
	for _, mod := range kernels.Modules() {
		src, err := kernels.Source(mod)
		if err != nil {
			t.Fatal(err)
		}
		m, err := ptxsim.Load(src)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range m.Kernels() {
			info, ok := kernels.Lookup(k)
			if !ok || info.Module != mod {
				t.Errorf("kernel %s of module %s is missing from the index", k, mod)
				continue
			}
			seen[k] = true
			for _, p := range info.Params {
				if !strings.Contains(src, ".param ."+p.Type+" "+p.Name) {
					t.Errorf("%s: parameter %s .%s not in the PTX", k, p.Name, p.Type)
				}
			}
		}
	}
	if len(seen) != len(kernels.Index) {
		t.Errorf("index has %d kernels, the modules %d", len(kernels.Index), len(seen))
	}
}
