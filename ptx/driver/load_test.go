package driver

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestLoadMissingLibrary(t *testing.T) {
	path := filepath.Join(t.TempDir(), "libcuda.so.1")
	d, err := LoadFrom(path)
	if d != nil || !errors.Is(err, ErrNoDriver) || !IsUnavailable(err) {
		t.Fatalf("LoadFrom(%s) = %v, %v; want ErrNoDriver", path, d, err)
	}
	if !strings.Contains(err.Error(), "libcuda.so.1") {
		t.Fatalf("error %q does not name the library", err)
	}
}

// A library that loads but is not a driver (libc here) must be refused for its missing
// entry points, not called into.
func TestLoadLibraryWithoutEntryPoints(t *testing.T) {
	if runtime.GOOS != "linux" || (runtime.GOARCH != "amd64" && runtime.GOARCH != "arm64") {
		t.Skip("the driver is only loaded on linux/amd64 and linux/arm64")
	}
	_, err := LoadFrom("libc.so.6")
	if !errors.Is(err, ErrNoDriver) || !strings.Contains(err.Error(), "cuInit") {
		t.Fatalf("LoadFrom(libc.so.6) = %v; want ErrNoDriver naming cuInit", err)
	}
}

// Probe on whatever this machine has: either a device, or an error that says there is none.
func TestProbe(t *testing.T) {
	info, err := Probe()
	if err != nil {
		if !IsUnavailable(err) {
			t.Fatalf("Probe failed with a GPU present: %v", err)
		}
		t.Logf("no CUDA driver or device here: %v", err)
		return
	}
	if info.Name == "" || info.ComputeMajor < 3 || info.TotalMemory <= 0 || info.Multiprocessors <= 0 ||
		info.WarpSize != 32 || info.MaxThreadsPerBlock < 512 || info.DeviceCount < 1 || info.DriverVersion < 10000 {
		t.Fatalf("implausible device info %+v", info)
	}
	t.Logf("device: %v", info)
}

// HUNGRY_CUDA_STUB names the toolkit's link-time stub libcuda.so (scripts/cuda-stub.sh sets
// it). The stub exports every driver symbol, so loading it checks every name this package
// binds against CUDA 11.8, and its cuInit answers CUDA_ERROR_STUB_LIBRARY.
func TestLoadStubLibrary(t *testing.T) {
	stub := os.Getenv("HUNGRY_CUDA_STUB")
	if stub == "" {
		t.Skip("HUNGRY_CUDA_STUB is not set (scripts/cuda-stub.sh sets it to the toolkit's stub libcuda.so)")
	}
	_, err := LoadFrom(stub)
	var e *Error
	if !errors.As(err, &e) || e.Op != "cuInit" || e.Code != ErrStubLibrary {
		t.Fatalf("LoadFrom(stub) = %v; want cuInit failing with CUDA_ERROR_STUB_LIBRARY (all symbols bound)", err)
	}
	if !errors.Is(err, ErrNoDriver) {
		t.Fatalf("stub error %v does not match ErrNoDriver", err)
	}
}
