//go:build !linux && !darwin && !freebsd && !netbsd && !openbsd && !dragonfly

package main

// totalMemory is unknown here (Windows, Plan 9, WebAssembly): the commands then check
// sizes against the fixed bounds only.
func totalMemory() (uint64, bool) { return 0, false }

func addressSpaceLimit() (limit, used uint64, ok bool) { return 0, 0, false }
