package driver

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestResultNames(t *testing.T) {
	for _, c := range []struct {
		r    Result
		want string
	}{
		{ErrOutOfMemory, "CUDA_ERROR_OUT_OF_MEMORY"},
		{ErrNoDevice, "CUDA_ERROR_NO_DEVICE"},
		{ErrInvalidPTX, "CUDA_ERROR_INVALID_PTX"},
		{ErrStubLibrary, "CUDA_ERROR_STUB_LIBRARY"},
		{ErrIllegalAddress, "CUDA_ERROR_ILLEGAL_ADDRESS"},
		{ErrUnknown, "CUDA_ERROR_UNKNOWN"},
		{Result(12345), "CUresult(12345)"},
	} {
		if got := c.r.Error(); got != c.want {
			t.Errorf("Result(%d).Error() = %q, want %q", int32(c.r), got, c.want)
		}
	}
}

// Every named constant must carry the number cuda.h gives its name; the table was taken
// from cuda.h, so a constant whose name disagrees with it has the wrong number.
func TestNamedCodesMatchTable(t *testing.T) {
	named := map[Result]string{
		ErrInvalidValue: "INVALID_VALUE", ErrNotInitialized: "NOT_INITIALIZED", ErrDeinitialized: "DEINITIALIZED",
		ErrDeviceUnavailable: "DEVICE_UNAVAILABLE", ErrInvalidDevice: "INVALID_DEVICE", ErrInvalidImage: "INVALID_IMAGE",
		ErrInvalidContext: "INVALID_CONTEXT", ErrNoBinaryForGPU: "NO_BINARY_FOR_GPU",
		ErrJITCompilerNotFound: "JIT_COMPILER_NOT_FOUND", ErrUnsupportedPTXVersion: "UNSUPPORTED_PTX_VERSION",
		ErrInvalidHandle: "INVALID_HANDLE", ErrNotFound: "NOT_FOUND", ErrNotReady: "NOT_READY",
		ErrLaunchOutOfResources: "LAUNCH_OUT_OF_RESOURCES", ErrLaunchTimeout: "LAUNCH_TIMEOUT",
		ErrContextIsDestroyed: "CONTEXT_IS_DESTROYED", ErrAssert: "ASSERT", ErrIllegalInstruction: "ILLEGAL_INSTRUCTION",
		ErrMisalignedAddress: "MISALIGNED_ADDRESS", ErrLaunchFailed: "LAUNCH_FAILED", ErrNotPermitted: "NOT_PERMITTED",
		ErrNotSupported: "NOT_SUPPORTED", ErrSystemNotReady: "SYSTEM_NOT_READY",
		ErrSystemDriverMismatch: "SYSTEM_DRIVER_MISMATCH", ErrCompatNotSupported: "COMPAT_NOT_SUPPORTED_ON_DEVICE",
	}
	for r, suffix := range named {
		if got := r.Error(); got != "CUDA_ERROR_"+suffix {
			t.Errorf("code %d is named %s, want CUDA_ERROR_%s", int32(r), got, suffix)
		}
	}
	if Success.Error() != "CUDA_SUCCESS" {
		t.Errorf("Success is %s", Success.Error())
	}
}

func TestErrorWrapping(t *testing.T) {
	err := fmt.Errorf("alloc of tensor: %w", newError("cuMemAlloc_v2", ErrOutOfMemory, func(Result) string { return "out of memory" }))
	if !errors.Is(err, ErrOutOfMemory) {
		t.Fatalf("errors.Is(%v, ErrOutOfMemory) = false", err)
	}
	if errors.Is(err, ErrInvalidValue) || errors.Is(err, ErrNoDriver) || IsUnavailable(err) {
		t.Fatalf("%v matches an unrelated error", err)
	}
	var e *Error
	if !errors.As(err, &e) || e.Op != "cuMemAlloc_v2" || e.Code != ErrOutOfMemory {
		t.Fatalf("errors.As gave %+v", e)
	}
	var code Result
	if !errors.As(err, &code) || code != ErrOutOfMemory {
		t.Fatalf("errors.As to Result gave %v", code)
	}
	want := "alloc of tensor: cuda: cuMemAlloc_v2: CUDA_ERROR_OUT_OF_MEMORY (out of memory)"
	if err.Error() != want {
		t.Fatalf("message %q, want %q", err.Error(), want)
	}
	if newError("x", Success, nil) != nil {
		t.Fatal("Success became an error")
	}
}

func TestJITLogInMessage(t *testing.T) {
	e := &Error{Op: "cuModuleLoadDataEx", Code: ErrInvalidPTX, Log: "ptxas application ptx input, line 3; error   : Unknown symbol 'foo'"}
	if !strings.Contains(e.Error(), "line 3; error") || !strings.Contains(e.Error(), "CUDA_ERROR_INVALID_PTX") {
		t.Fatalf("JIT log missing from %q", e.Error())
	}
}

func TestUnavailable(t *testing.T) {
	stub := &Error{Op: "cuInit", Code: ErrStubLibrary}
	if !errors.Is(stub, ErrNoDriver) || !errors.Is(stub, ErrStubLibrary) || !IsUnavailable(stub) {
		t.Fatal("a stub library must read as ErrNoDriver")
	}
	noDev := &Error{Op: "cuInit", Code: ErrNoDevice}
	if !IsUnavailable(noDev) || errors.Is(noDev, ErrNoDriver) {
		t.Fatal("no device must read as ErrNoDevice only")
	}
	if IsUnavailable(&Error{Op: "cuLaunchKernel", Code: ErrLaunchFailed}) {
		t.Fatal("a failed launch is not an unavailable GPU")
	}
}
