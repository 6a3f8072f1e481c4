//go:build linux && (amd64 || arm64)

package driver

import (
	"fmt"
	"runtime"

	"github.com/ebitengine/purego"
)

// defaultLibrary is the driver's soname: the unversioned libcuda.so exists only where the
// toolkit is installed (and may be the link-time stub), the .1 name wherever a driver is.
const defaultLibrary = "libcuda.so.1"

func dlopen(path string) (uintptr, error) {
	// dlerror's message is per thread: read it on the thread whose dlopen failed.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	h, err := purego.Dlopen(path, purego.RTLD_NOW|purego.RTLD_LOCAL)
	if err != nil && err.Error() == "" {
		err = fmt.Errorf("cannot load %s", path)
	}
	return h, err
}

func dlsym(handle uintptr, name string) (uintptr, error) { return purego.Dlsym(handle, name) }

func dlclose(handle uintptr) error { return purego.Dlclose(handle) }

// call invokes a driver entry point. Every CUDA driver function returns a CUresult (a
// 32-bit enum in the low half of the return register) and takes only integer and pointer
// arguments, which is the case purego.SyscallN handles without a per-call signature.
//
// uintptrescapes moves whatever the uintptr(unsafe.Pointer(...)) arguments at a call site
// point to onto the heap, where it cannot move while the driver reads or writes it; the
// callers keep Go memory reachable past the call with runtime.KeepAlive where needed.
//
//go:uintptrescapes
func call(fn uintptr, args ...uintptr) Result {
	r, _, _ := purego.SyscallN(fn, args...)
	return Result(int32(uint32(r)))
}
