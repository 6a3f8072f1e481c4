package ptxsim

// LaunchStats is what one launch asked of the hardware and did to global memory: the
// figures a roofline estimate needs on a machine where nothing can be timed.
//
// BytesRead and BytesWritten count the distinct global-memory words (4 bytes each) the
// launch read and wrote: the DRAM traffic of a GPU whose cache keeps everything a launch
// touches and nothing between launches. That is the traffic a kernel cannot avoid, and
// the one an unfused chain of kernels multiplies, since every intermediate goes out to
// memory and back. A word both read and written counts in both. AccessRead and
// AccessWritten count every byte of every load and store, repeats included (what the
// threads request of the memory system; L1 and L2 absorb the difference on hardware).
// Atomics count as one read and one write of each distinct word they touch.
type LaunchStats struct {
	Kernel      string
	Grid, Block [3]int
	// Threads is the number of threads per block; SharedBytes the static plus dynamic
	// shared memory per block.
	Threads, SharedBytes      int
	BytesRead, BytesWritten   int64
	AccessRead, AccessWritten int64
}

// Blocks is the number of blocks in the grid.
func (s LaunchStats) Blocks() int { return s.Grid[0] * s.Grid[1] * s.Grid[2] }

// countWord counts a non-atomic access to one global word for the launch's statistics,
// before touch records it: a word whose last read (write) was in an earlier launch is new
// to this one.
func (l *launch) countWord(sh *shadow, write bool) {
	if write {
		l.stats.AccessWritten += 4
		if sh.wScope != l.launchID {
			l.stats.BytesWritten += 4
		}
		return
	}
	l.stats.AccessRead += 4
	if sh.rScope != l.launchID {
		l.stats.BytesRead += 4
	}
}

// countAtomic counts an atomic access of size bytes at offset off of a: atomics bypass
// the race shadow, so they keep their own per-word record of the last launch.
func (l *launch) countAtomic(a *allocation, off, size int) {
	if a.atomicSeen == nil {
		a.atomicSeen = make([]uint32, (len(a.data)+3)/4)
	}
	l.stats.AccessRead += int64(size)
	l.stats.AccessWritten += int64(size)
	for w := off / 4; w < (off+size+3)/4; w++ {
		if a.atomicSeen[w] != l.launchID {
			a.atomicSeen[w] = l.launchID
			l.stats.BytesRead += 4
			l.stats.BytesWritten += 4
		}
	}
}
