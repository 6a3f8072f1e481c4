//go:build gorgonia

package gorgonia

import (
	"testing"

	"github.com/hungry-ssm/hungry/ptx/driver/drivertest"
)

// Without a driver this test binary cannot start at all (gorgonia.org/cu's initializer
// exits); scripts/cuda-stub.sh links it against the toolkit's stub libcuda.so and runs it
// on package driver's fake libcuda, where TestFakeBackend runs the purego binding through
// the same checks.
func TestBackend(t *testing.T) {
	c, err := NewContext(0)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := c.Close(); err != nil {
			t.Error(err)
		}
	}()
	t.Logf("device: %v", c.Info())
	drivertest.Exercise(t, c)
}
