package driver

import (
	"errors"
	"fmt"
	"sync"
	"unsafe"
)

// entryPoints are the addresses of the driver functions this package calls. Where cuda.h
// maps a name to a versioned symbol (#define cuMemAlloc cuMemAlloc_v2), the versioned one is
// bound: the unversioned symbols are kept in libcuda for old binaries and have the old
// 32-bit size and pointer types.
type entryPoints struct {
	init, driverGetVersion                               uintptr
	deviceGet, deviceGetCount, deviceGetName             uintptr
	deviceGetAttribute, deviceTotalMem                   uintptr
	ctxCreate, ctxDestroy, ctxSetCurrent, ctxSynchronize uintptr
	memAlloc, memFree, memGetInfo                        uintptr
	memcpyHtoD, memcpyDtoH, memcpyDtoD, memsetD32        uintptr
	moduleLoadDataEx, moduleUnload, moduleGetFunction    uintptr
	launchKernel, funcSetAttribute                       uintptr
	getErrorName, getErrorString                         uintptr
}

func (e *entryPoints) symbols() []struct {
	name string
	addr *uintptr
} {
	return []struct {
		name string
		addr *uintptr
	}{
		{"cuInit", &e.init},
		{"cuDriverGetVersion", &e.driverGetVersion},
		{"cuDeviceGet", &e.deviceGet},
		{"cuDeviceGetCount", &e.deviceGetCount},
		{"cuDeviceGetName", &e.deviceGetName},
		{"cuDeviceGetAttribute", &e.deviceGetAttribute},
		{"cuDeviceTotalMem_v2", &e.deviceTotalMem},
		{"cuCtxCreate_v2", &e.ctxCreate},
		{"cuCtxDestroy_v2", &e.ctxDestroy},
		{"cuCtxSetCurrent", &e.ctxSetCurrent},
		{"cuCtxSynchronize", &e.ctxSynchronize},
		{"cuMemAlloc_v2", &e.memAlloc},
		{"cuMemFree_v2", &e.memFree},
		{"cuMemGetInfo_v2", &e.memGetInfo},
		{"cuMemcpyHtoD_v2", &e.memcpyHtoD},
		{"cuMemcpyDtoH_v2", &e.memcpyDtoH},
		{"cuMemcpyDtoD_v2", &e.memcpyDtoD},
		{"cuMemsetD32_v2", &e.memsetD32},
		{"cuModuleLoadDataEx", &e.moduleLoadDataEx},
		{"cuModuleUnload", &e.moduleUnload},
		{"cuModuleGetFunction", &e.moduleGetFunction},
		{"cuLaunchKernel", &e.launchKernel},
		{"cuFuncSetAttribute", &e.funcSetAttribute},
		{"cuGetErrorName", &e.getErrorName},
		{"cuGetErrorString", &e.getErrorString},
	}
}

// Driver is a loaded and initialized libcuda. It holds no mutable state and may be shared.
type Driver struct {
	path    string
	handle  uintptr
	version int
	fn      entryPoints
}

var defaultDriver struct {
	once sync.Once
	drv  *Driver
	err  error
}

// Load loads and initializes the system's driver (libcuda.so.1) on first use and returns it
// on every call. Without a driver the error matches ErrNoDriver; with a driver but no GPU it
// matches ErrNoDevice.
func Load() (*Driver, error) {
	defaultDriver.once.Do(func() { defaultDriver.drv, defaultDriver.err = LoadFrom(defaultLibrary) })
	return defaultDriver.drv, defaultDriver.err
}

// LoadFrom loads the driver library at path (a file name searched like dlopen does, or a
// path), binds its entry points and calls cuInit.
func LoadFrom(path string) (*Driver, error) {
	handle, err := dlopen(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoDriver, err)
	}
	d := &Driver{path: path, handle: handle}
	for _, s := range d.fn.symbols() {
		addr, err := dlsym(handle, s.name)
		if err != nil || addr == 0 {
			_ = dlclose(handle)
			return nil, fmt.Errorf("%w: %s has no %s (driver too old, or not libcuda)", ErrNoDriver, path, s.name)
		}
		*s.addr = addr
	}
	if r := call(d.fn.init, 0); r != Success {
		e := &Error{Op: "cuInit", Code: r, Message: d.describe(r)} // while the library is still loaded
		_ = dlclose(handle)
		if r == ErrStubLibrary && e.Message == "" {
			e.Message = path + " is the toolkit's link-time stub, not a driver"
		}
		return nil, e
	}
	var v int32
	if err := d.check("cuDriverGetVersion", call(d.fn.driverGetVersion, uintptr(unsafe.Pointer(&v)))); err != nil {
		_ = dlclose(handle) // after check, which calls into the library
		return nil, err
	}
	d.version = int(v)
	return d, nil
}

// Version is the CUDA version the driver supports, e.g. 12040 for 12.4.
func (d *Driver) Version() int { return d.version }

// Path is the library the driver was loaded from.
func (d *Driver) Path() string { return d.path }

// check turns a result into an *Error carrying the driver's own description.
func (d *Driver) check(op string, r Result) error { return newError(op, r, d.describe) }

// describe asks the driver for its text for r; libcuda returns pointers to static strings.
func (d *Driver) describe(r Result) string {
	var s *byte
	if call(d.fn.getErrorString, uintptr(r), uintptr(unsafe.Pointer(&s))) != Success || s == nil {
		return ""
	}
	return goString(s)
}

// goString copies a NUL-terminated C string.
func goString(p *byte) string {
	n := 0
	for *(*byte)(unsafe.Add(unsafe.Pointer(p), n)) != 0 {
		n++
	}
	return string(unsafe.Slice(p, n))
}

// DeviceCount is the number of devices the driver sees.
func (d *Driver) DeviceCount() (int, error) {
	var n int32
	if err := d.check("cuDeviceGetCount", call(d.fn.deviceGetCount, uintptr(unsafe.Pointer(&n)))); err != nil {
		return 0, err
	}
	return int(n), nil
}

// CUdevice_attribute values from cuda.h.
const (
	attrMaxThreadsPerBlock     = 1
	attrMaxSharedPerBlock      = 8
	attrWarpSize               = 10
	attrClockRate              = 13
	attrMultiprocessorCount    = 16
	attrL2CacheSize            = 38
	attrComputeMajor           = 75
	attrComputeMinor           = 76
	attrMaxSharedPerBlockOptin = 97
)

func (d *Driver) device(ordinal int) (int32, error) {
	n, err := d.DeviceCount()
	if err != nil {
		return 0, err
	}
	if n == 0 {
		return 0, &Error{Op: "cuDeviceGetCount", Code: ErrNoDevice, Message: "the driver sees no device"}
	}
	if ordinal < 0 || ordinal >= n {
		return 0, &Error{Op: "cuDeviceGet", Code: ErrInvalidDevice,
			Message: fmt.Sprintf("ordinal %d, but there are %d devices", ordinal, n)}
	}
	var dev int32
	if err := d.check("cuDeviceGet", call(d.fn.deviceGet, uintptr(unsafe.Pointer(&dev)), uintptr(ordinal))); err != nil {
		return 0, err
	}
	return dev, nil
}

// DeviceInfo describes the device with the given ordinal; it needs no context.
func (d *Driver) DeviceInfo(ordinal int) (Info, error) {
	dev, err := d.device(ordinal)
	if err != nil {
		return Info{}, err
	}
	info := Info{Ordinal: ordinal, DriverVersion: d.version}
	if info.DeviceCount, err = d.DeviceCount(); err != nil {
		return Info{}, err
	}
	name := make([]byte, 256)
	if err := d.check("cuDeviceGetName", call(d.fn.deviceGetName,
		uintptr(unsafe.Pointer(&name[0])), uintptr(len(name)), uintptr(dev))); err != nil {
		return Info{}, err
	}
	info.Name = goString(&name[0])
	var total uint64
	if err := d.check("cuDeviceTotalMem_v2", call(d.fn.deviceTotalMem, uintptr(unsafe.Pointer(&total)), uintptr(dev))); err != nil {
		return Info{}, err
	}
	info.TotalMemory = int64(total)
	for _, a := range []struct {
		attr int
		dst  *int
	}{
		{attrComputeMajor, &info.ComputeMajor},
		{attrComputeMinor, &info.ComputeMinor},
		{attrMultiprocessorCount, &info.Multiprocessors},
		{attrMaxThreadsPerBlock, &info.MaxThreadsPerBlock},
		{attrMaxSharedPerBlock, &info.MaxSharedPerBlock},
		{attrMaxSharedPerBlockOptin, &info.MaxSharedPerBlockOptin},
		{attrWarpSize, &info.WarpSize},
		{attrL2CacheSize, &info.L2CacheBytes},
		{attrClockRate, &info.ClockKHz},
	} {
		var v int32
		if err := d.check("cuDeviceGetAttribute", call(d.fn.deviceGetAttribute,
			uintptr(unsafe.Pointer(&v)), uintptr(a.attr), uintptr(dev))); err != nil {
			return Info{}, err
		}
		*a.dst = int(v)
	}
	return info, nil
}

// Probe loads the system's driver and describes device 0, without creating a context. It is
// the cheap check behind "--device auto": any error means "use the CPU", and
// errors.Is(err, ErrNoDriver) / errors.Is(err, ErrNoDevice) say why.
func Probe() (Info, error) {
	d, err := Load()
	if err != nil {
		return Info{}, err
	}
	return d.DeviceInfo(0)
}

// NewContext creates a context on the given device of the system's driver.
func NewContext(ordinal int) (*Context, error) {
	d, err := Load()
	if err != nil {
		return nil, err
	}
	return d.NewContext(ordinal)
}

// IsUnavailable reports whether err means that there is no GPU to use here (no driver, a
// stub driver, or no device), as opposed to a failure of a GPU that exists.
func IsUnavailable(err error) bool {
	return errors.Is(err, ErrNoDriver) || errors.Is(err, ErrNoDevice)
}
