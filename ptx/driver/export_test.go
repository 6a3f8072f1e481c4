//go:build linux && (amd64 || arm64)

package driver

// LoadFake lets the external tests run drivertest on the fake driver of fake_test.go.
var LoadFake = loadFake
