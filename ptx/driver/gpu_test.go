package driver_test

import (
	"testing"

	"github.com/hungry-ssm/hungry/ptx/driver"
	"github.com/hungry-ssm/hungry/ptx/driver/drivertest"
)

// TestGPU runs the Backend checks on device 0 of the system's driver.
func TestGPU(t *testing.T) {
	c, err := driver.NewContext(0)
	if driver.IsUnavailable(err) {
		t.Skipf("no CUDA driver or device: %v", err)
	}
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
