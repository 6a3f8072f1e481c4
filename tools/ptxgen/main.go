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
	return []*Module{elementwiseModule(), reduceModule(), gemmModule(), embeddingModule(), convModule(), h3StepModule(), fftModule()}
}

// generate writes every module into dir.
func generate(dir string) error {
	for _, m := range modules() {
		if err := os.WriteFile(filepath.Join(dir, m.File), []byte(m.Text()), 0o644); err != nil {
			return err
		}
	}
	return nil
}

func main() {
	out := flag.String("out", ".", "directory to write the .ptx files into")
	flag.Parse()
	if err := generate(*out); err != nil {
		fmt.Fprintln(os.Stderr, "ptxgen:", err)
		os.Exit(1)
	}
}
