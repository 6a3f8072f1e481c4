//go:build gorgonia

package gorgonia

import (
	"testing"

	"github.com/hungry-ssm/hungry/ptx/driver/drivertest"
)

// Without a GPU this test binary cannot start at all (gorgonia.org/cu's initializer exits);
// scripts/cuda-stub.sh only links it, against the toolkit's stub libcuda.so.
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
