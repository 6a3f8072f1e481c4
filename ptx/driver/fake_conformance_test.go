//go:build linux && (amd64 || arm64)

package driver_test

import (
	"testing"

	"github.com/hungry-ssm/hungry/ptx/driver"
	"github.com/hungry-ssm/hungry/ptx/driver/drivertest"
)

// The Backend checks on the fake libcuda, whose saxpy runs on the CPU: this is the whole
// purego binding at work, short of a GPU.
func TestFakeBackend(t *testing.T) {
	c, err := driver.LoadFake(t).NewContext(0)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := c.Close(); err != nil {
			t.Error(err)
		}
	}()
	drivertest.Exercise(t, c)
}
