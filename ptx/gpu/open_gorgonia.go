//go:build gorgonia

package gpu

import (
	"github.com/hungry-ssm/hungry/ptx/driver"
	"github.com/hungry-ssm/hungry/ptx/driver/gorgonia"
)

// openBackend creates a context through gorgonia.org/cu (cgo), the build tag's choice.
func openBackend(ordinal int) (driver.Backend, error) {
	ctx, err := gorgonia.NewContext(ordinal)
	if err != nil {
		return nil, err // not a nil *Context in a non-nil Backend
	}
	return ctx, nil
}
