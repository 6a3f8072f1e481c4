// Package kernels embeds the project's generated PTX modules (see tools/ptxgen, which
// documents each kernel's parameters and launch shape in the comment above its .entry).
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
