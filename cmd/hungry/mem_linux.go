package main

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// totalMemory is MemTotal from /proc/meminfo: what the machine has, not what is free
// now, so a verdict does not change with the load.
func totalMemory() (uint64, bool) {
	return procField("/proc/meminfo", "MemTotal:")
}

// addressSpaceLimit is RLIMIT_AS (ulimit -v) and the address space this process maps
// already (VmSize: the Go runtime reserves about 1 GB at start).
func addressSpaceLimit() (limit, used uint64, ok bool) {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_AS, &r); err != nil || r.Cur == ^uint64(0) {
		return 0, 0, false
	}
	used, _ = procField("/proc/self/status", "VmSize:")
	return r.Cur, used, true
}

// procField reads a "Name: N kB" line of a /proc file, in bytes.
func procField(path, name string) (uint64, bool) {
	f, err := os.Open(path)
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), name)
		if !ok {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) != 2 || fields[1] != "kB" {
			return 0, false
		}
		n, err := strconv.ParseUint(fields[0], 10, 64)
		return n << 10, err == nil
	}
	return 0, false
}
