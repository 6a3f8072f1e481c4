//go:build linux && (amd64 || arm64)

package gpu

import (
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/hungry-ssm/hungry/ptx/driver"
	"github.com/hungry-ssm/hungry/tensor"
)

// fakeDevice opens the CUDA backend on package driver's fake libcuda (host memory, 64 MiB
// per context, no kernels but its own test ones, and addresses only at the start of an
// allocation, so no views): it runs the backend's memory, copy and module paths through
// the real C calling convention without a GPU.
func fakeDevice(t *testing.T) *Device {
	t.Helper()
	cc, err := exec.LookPath("cc")
	if err != nil {
		t.Skip("no C compiler to build the fake driver:", err)
	}
	lib := filepath.Join(t.TempDir(), "libfakecuda.so")
	if out, err := exec.Command(cc, "-shared", "-fPIC", "-O1", "-o", lib, "../driver/testdata/fakecuda.c").CombinedOutput(); err != nil {
		t.Fatalf("building the fake driver: %v\n%s", err, out)
	}
	drv, err := driver.LoadFrom(lib)
	if err != nil {
		t.Fatal(err)
	}
	dev, err := OpenWith(drv, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := dev.Close(); err != nil {
			t.Error(err)
		}
	})
	return dev
}

// The checks below run on the purego binding here, and on gorgonia.org/cu's, over the
// same fake libcuda, in gorgonia_fake_test.go (scripts/cuda-stub.sh).

func TestCUDABackendMemoryOnFakeDriver(t *testing.T) { testFakeMemory(t, fakeDevice(t)) }

func TestCUDABackendFreesUnreachableTensors(t *testing.T) { testFakeFrees(t, fakeDevice(t)) }

func TestCUDABackendReportsKernelFailures(t *testing.T) { testFakeKernelFailure(t, fakeDevice(t)) }

func testFakeMemory(t *testing.T, dev *Device) {
	if dev.Name() != "cuda:0" {
		t.Errorf("name %q", dev.Name())
	}
	data := []float32{1.5, -2, 3.25, 7, -0.5, 11, 13}
	x := dev.FromHost(data, 7)
	if got := x.Host(); fmt.Sprint(got) != fmt.Sprint(data) {
		t.Fatalf("round trip %v, want %v", got, data)
	}
	y := dev.Zeros(7)
	if fmt.Sprint(y.Host()) != "[0 0 0 0 0 0 0]" {
		t.Fatalf("Zeros: %v", y.Host())
	}
	dev.Copy(y, x)
	if got := y.Host(); fmt.Sprint(got) != fmt.Sprint(data) {
		t.Fatalf("Copy: %v, want %v", got, data)
	}
	dev.Fill(x, -4)
	if got := x.Host(); got[0] != -4 || got[6] != -4 {
		t.Fatalf("Fill: %v", got)
	}
	if y.To(tensor.DefaultCPU()).Data()[0] != 1.5 {
		t.Fatal("To(cpu) lost the data")
	}
}

// testFakeFrees allocates far more than the fake device holds (64 MiB) in tensors that
// become garbage at once: it passes only if their memory goes back to the allocator.
func testFakeFrees(t *testing.T, dev *Device) {
	const words = 1 << 20 // 4 MiB
	for i := 0; i < 64; i++ {
		x := dev.Zeros(words)
		dev.Fill(x, float32(i))
	}
	keep := dev.Zeros(words)
	if err := dev.Synchronize(); err != nil {
		t.Fatal(err)
	}
	if keep.Numel() != words {
		t.Fatal("lost the last tensor")
	}
}

// testFakeKernelFailure launches a kernel the fake driver cannot run: the device panics
// with *Error carrying the driver's error.
func testFakeKernelFailure(t *testing.T, dev *Device) {
	x := dev.FromHost([]float32{1, 2, 3}, 3)
	defer func() {
		r := recover()
		e, ok := r.(*Error)
		if !ok {
			t.Fatalf("panic %v, want *gpu.Error", r)
		}
		var code driver.Result
		if !errors.As(e, &code) {
			t.Errorf("error %v does not carry the driver's result", e)
		}
	}()
	dev.Scale(x, x, 2)
}
