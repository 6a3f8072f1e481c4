// Package kernels embeds the project's generated PTX modules (tools/ptxgen writes them),
// an index of their kernels (parameters in order, block shape) and a typed launcher for
// each: AddF32(l, out, a, b, n) computes add_f32's grid from n and hands the launch to l,
// a Launcher (the GPU device, or a test's interpreter). The comment above each .entry in
// the PTX, repeated in Info.Doc and on the launcher, states what the kernel computes.
//
// Conventions the kernels share, so that a device can follow tensor's Device interface
// without host round trips:
//   - A kernel whose doc writes "+=" adds into its output, as the interface's backward
//     methods do; "(+)=" or "(=, or +=)" marks an accumulate flag; "=" assigns.
//   - An optional operand (a skip weight, a gradient that is not wanted) is passed as the
//     null pointer 0 where the doc says so.
//   - Reductions over many rows take a chunk parameter: grid.y splits the rows into chunks
//     whose partial sums go to a scratch that sum_axis_f32 adds in a fixed order, so results
//     never depend on the order atomics land in (the grouped embedding backward avoids them
//     too, with GroupIDs built on the host from the ids it already holds).
//   - Elementwise kernels take 4 elements per thread with vector accesses when every
//     pointer is 16-byte aligned and scalar ones otherwise, so views may start anywhere.
//   - The SSM kernel generators compute in float64 like the CPU and round only their
//     results to float32.
package kernels

//go:generate go run ../../tools/ptxgen -out .

import (
	"embed"
	"fmt"
	"sort"
	"strings"
)

//go:embed *.ptx
var files embed.FS

// Source returns the PTX text of a module by file name without extension ("gemm").
func Source(module string) (string, error) {
	b, err := files.ReadFile(module + ".ptx")
	if err != nil {
		return "", fmt.Errorf("kernels: no module %q", module)
	}
	return string(b), nil
}

// Modules lists the embedded module names, sorted.
func Modules() []string {
	entries, err := files.ReadDir(".")
	if err != nil { // the embedded FS always has its root
		return nil
	}
	var names []string
	for _, e := range entries {
		names = append(names, strings.TrimSuffix(e.Name(), ".ptx"))
	}
	sort.Strings(names)
	return names
}

// Param is one kernel parameter: its name and PTX type ("u64" for device pointers,
// "u32", "s32", "f32").
type Param struct {
	Name, Type string
}

// Info describes one kernel. Each has a generated typed launcher (launch_gen.go) that
// computes its grid; Info is what a Launcher receives.
type Info struct {
	Module string // Source(Module) holds the kernel
	Name   string
	Params []Param
	// Block is the block shape the kernel is written for; launching another is a bug.
	Block [3]int
	Doc   string
}

// Lookup returns the Info of the named kernel.
func Lookup(name string) (*Info, bool) {
	for _, k := range Index {
		if k.Name == name {
			return k, true
		}
	}
	return nil, false
}
