// Package kernels embeds the project's generated PTX modules (tools/ptxgen writes them)
// and an index of their kernels: parameters in order and launch shape. The comment above
// each .entry in the PTX, repeated in Info.Doc, states what the kernel computes.
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

// Info describes one kernel.
type Info struct {
	Module string // Source(Module) holds the kernel
	Name   string
	Params []Param
	// Block is the block shape the kernel is written for; launching another is a bug.
	Block [3]int
	// Grid is the grid shape as an expression of the parameters, e.g. "(ceil(n/1024),1,1)".
	Grid string
	// DynamicShared is the dynamic shared memory in bytes as an expression ("8*n"), or "".
	DynamicShared string
	Doc           string
}

// Lookup returns the Info of the named kernel.
func Lookup(name string) (Info, bool) {
	for _, k := range Index {
		if k.Name == name {
			return k, true
		}
	}
	return Info{}, false
}
