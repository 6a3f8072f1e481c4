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
	dev, err := OpenWith(fakeDriver(t), 0)
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

// fakeDriver builds and loads the fake libcuda.
func fakeDriver(t *testing.T) *driver.Driver {
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
	return drv
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

// recorder is a driver.Backend that keeps the fake's memory but, instead of running
// kernels (the fake has none of the project's), records each launch's arguments.
type recorder struct {
	driver.Backend
	launches []launchRecord
}

type launchRecord struct {
	kernel string
	args   []driver.Arg
}

func (r *recorder) LoadPTX(string) (driver.Module, error) { return recModule{r}, nil }

type recModule struct{ r *recorder }

func (m recModule) Kernel(name string) (driver.Kernel, error) { return &recKernel{m.r, name}, nil }
func (recModule) Log() string                                 { return "" }
func (recModule) Unload() error                               { return nil }

type recKernel struct {
	r    *recorder
	name string
}

func (k *recKernel) Name() string                        { return k.name }
func (k *recKernel) SetMaxDynamicSharedMemory(int) error { return nil }
func (k *recKernel) Launch(_ driver.LaunchConfig, args ...driver.Arg) error {
	k.r.launches = append(k.r.launches, launchRecord{k.name, append([]driver.Arg(nil), args...)})
	return nil
}

// TestNoAliasingOnFakeDriverUnderCollections is the GC-stress test on the fake libcuda:
// the device's caching allocator over the fake's memory, a collection (and its cleanups)
// before every allocation, and every Device op of the CPU comparisons issued, with the
// kernels recorded instead of run. Two pointer arguments of one launch may be equal only
// where an op works in place, which writes its first argument; any other pair of equal
// pointers is a buffer freed between taking its address and the launch and handed to a
// later allocation. ScatterAdd, whose three index uploads used to land in one block, is
// tried 100 times.
func TestNoAliasingOnFakeDriverUnderCollections(t *testing.T) {
	if testing.Short() {
		t.Skip("a collection per allocation")
	}
	ctx, err := fakeDriver(t).NewContext(0)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{Backend: ctx}
	dev, err := New(rec)
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Close()
	dev.gcEvery, dev.collect = 1, collectAndWait
	ids := []int32{3, 1, 3, 0, 2, 1, 3, 4}
	for try := 0; try < 100; try++ {
		dev.ScatterAdd(dev.Zeros(5, 3), dev.Zeros(len(ids), 3), ids)
	}
	for _, g := range [][]kernelCase{elementwiseCases(), reduceCases(), nnCases(), convCases(), ssmCases(), optimCases()} {
		for i, c := range g {
			c.run(newInputs(dev, uint64(i+1)))
		}
	}
	aliased := 0
	for _, l := range rec.launches {
		for i := 1; i < len(l.args); i++ {
			for j := i + 1; j < len(l.args); j++ {
				pi, iok := l.args[i].Value().(driver.DevicePtr)
				pj, jok := l.args[j].Value().(driver.DevicePtr)
				if iok && jok && pi != 0 && pi == pj {
					if aliased < 5 {
						t.Errorf("%s: arguments %d and %d are both %#x", l.kernel, i, j, uint64(pi))
					}
					aliased++
				}
			}
		}
	}
	if aliased > 0 {
		t.Errorf("%d aliased argument pairs in %d launches", aliased, len(rec.launches))
	}
	if s := dev.mem.(*driver.Allocator).Stats(); s.Hits == 0 {
		t.Errorf("allocator stats %+v: no block was reused, so nothing was tested", s)
	}
}
