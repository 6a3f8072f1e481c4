//go:build gorgonia && linux && (amd64 || arm64)

package gpu

import "testing"

// TestGorgoniaBackendOnFakeDriver opens the device as Open does under -tags gorgonia,
// through gorgonia.org/cu, and runs the purego binding's fake-driver checks on it. The
// binary loads whatever libcuda.so.1 the dynamic linker finds first:
// scripts/cuda-stub.sh puts package driver's fake there, which this test requires (on a
// real GPU, TestGPU* cover the device instead).
func TestGorgoniaBackendOnFakeDriver(t *testing.T) {
	open := func(t *testing.T) *Device {
		dev, err := Open(0)
		if err != nil {
			t.Fatal(err)
		}
		if dev.info.Name != "Fake GPU" {
			dev.Close()
			t.Skipf("libcuda is a real driver (%s), not the fake", dev.info.Name)
		}
		t.Cleanup(func() {
			if err := dev.Close(); err != nil {
				t.Error(err)
			}
		})
		return dev
	}
	t.Run("Memory", func(t *testing.T) { testFakeMemory(t, open(t)) })
	t.Run("Frees", func(t *testing.T) { testFakeFrees(t, open(t)) })
	t.Run("KernelFailure", func(t *testing.T) { testFakeKernelFailure(t, open(t)) })
}
