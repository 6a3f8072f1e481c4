//go:build darwin || freebsd || netbsd || openbsd || dragonfly

package main

import (
	"encoding/binary"
	"runtime"
	"syscall"
)

// totalMemory asks sysctl for the physical memory: hw.memsize on macOS, hw.physmem on
// the BSDs (both 64-bit where Go runs).
func totalMemory() (uint64, bool) {
	name := "hw.physmem"
	if runtime.GOOS == "darwin" {
		name = "hw.memsize"
	}
	s, err := syscall.Sysctl(name)
	if err != nil || len(s) > 8 || len(s) == 0 {
		return 0, false
	}
	// syscall.Sysctl drops one trailing NUL byte, which for a little-endian integer is
	// a zero high byte: pad back to 8 bytes.
	var b [8]byte
	copy(b[:], s)
	return binary.LittleEndian.Uint64(b[:]), true
}

// addressSpaceLimit is RLIMIT_AS; the BSDs have no cheap VmSize, so what is mapped is
// not subtracted.
func addressSpaceLimit() (limit, used uint64, ok bool) {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_AS, &r); err != nil || uint64(r.Cur) == ^uint64(0) || r.Cur <= 0 {
		return 0, 0, false
	}
	return uint64(r.Cur), 0, true
}
