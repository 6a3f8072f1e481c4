//go:build !gorgonia

package gpu

import "github.com/hungry-ssm/hungry/ptx/driver"

// openBackend creates a context through package driver's purego binding of libcuda.
func openBackend(ordinal int) (driver.Backend, error) {
	drv, err := driver.Load()
	if err != nil {
		return nil, err
	}
	ctx, err := drv.NewContext(ordinal)
	if err != nil {
		return nil, err // not a nil *Context in a non-nil Backend
	}
	return ctx, nil
}
