// Command ptxgen writes the project's PTX kernels (ptx/kernels/*.ptx). The output is a
// pure function of this source, so regenerating gives byte-identical files.
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
	return []*Module{elementwiseModule(), broadcastModule(), unaryModule(), causalConvModule(), ssmKernelModule(), reduceModule(), gemmModule(), embeddingModule(), convModule(), h3StepModule(), fftModule()}
}

// generate writes every module, and the Go index of their kernels, into dir.
func generate(dir string) error {
	mods := modules()
	for _, m := range mods {
		if err := os.WriteFile(filepath.Join(dir, m.File), []byte(m.Text()), 0o644); err != nil {
			return err
		}
	}
	idx, err := indexGo(mods)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, indexFile), idx, 0o644)
}

const indexFile = "index_gen.go"

func main() {
	out := flag.String("out", ".", "directory to write the .ptx files into")
	flag.Parse()
	if err := generate(*out); err != nil {
		fmt.Fprintln(os.Stderr, "ptxgen:", err)
		os.Exit(1)
	}
}
