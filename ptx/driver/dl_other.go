//go:build !(linux && (amd64 || arm64))

package driver

import (
	"fmt"
	"runtime"
)

// The CUDA driver ships for Linux on amd64 and arm64 (and Windows, which this package does
// not load from); elsewhere there is never a driver to find.
const defaultLibrary = "libcuda.so.1"

func dlopen(path string) (uintptr, error) {
	return 0, fmt.Errorf("loading %s is not supported on %s/%s", path, runtime.GOOS, runtime.GOARCH)
}

func dlsym(uintptr, string) (uintptr, error) { return 0, fmt.Errorf("no dynamic loader") }

func dlclose(uintptr) error { return nil }

// call is unreachable here: no Driver can be loaded, so no entry point is ever bound.
func call(uintptr, ...uintptr) Result { return ErrNotSupported }
