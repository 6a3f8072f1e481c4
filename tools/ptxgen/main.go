// Command ptxgen writes the project's PTX kernels (ptx/kernels/*.ptx), the Go index of
// them (index_gen.go) and their typed launchers (launch_gen.go). The output is a pure
// function of this source, so regenerating gives byte-identical files.
//
//	go run ./tools/ptxgen -out ptx/kernels
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
)

func modules() []*Module {
	return []*Module{elementwiseModule(), broadcastModule(), unaryModule(), causalConvModule(), ssmKernelModule(), reduceModule(), gemmModule(), embeddingModule(), convModule(), h3StepModule(), h3ConvModule(), fusedModule()}
}

// generate writes every module, the Go index of their kernels and their typed launchers
// into dir.
func generate(dir string) error {
	mods := modules()
	for _, m := range mods {
		if err := os.WriteFile(filepath.Join(dir, m.File), []byte(m.Text()), 0o644); err != nil {
			return err
		}
	}
	for _, g := range []struct {
		file   string
		render func([]*Module) ([]byte, error)
	}{{indexFile, indexGo}, {launchFile, launchGo}} {
		src, err := g.render(mods)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, g.file), src, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// The generated Go files; goFiles lists them for the test that compares them with the
// committed ones.
const (
	indexFile  = "index_gen.go"
	launchFile = "launch_gen.go"
)

var goFiles = []string{indexFile, launchFile}

func main() {
	out := flag.String("out", ".", "directory to write the .ptx files into")
	flag.Parse()
	if err := generate(*out); err != nil {
		fmt.Fprintln(os.Stderr, "ptxgen:", err)
		os.Exit(1)
	}
}
