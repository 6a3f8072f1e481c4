package ptxsim

import "fmt"

// Race detection. Each 4-byte word of global and shared memory remembers its last writer
// and last reader: the launch (or, for shared memory, the block), the thread and the
// block's barrier epoch at the time. Two accesses by different threads conflict when at
// least one is a write and they are not ordered by a bar.sync of the same block — that
// is, they are in different blocks of the same launch, or in the same block and epoch.
// Atomics are exempt. This finds races the sequential schedule would otherwise hide; it
// remembers one reader per word, so it can miss a race, but it never reports a false one.
type shadow struct {
	wScope, rScope uint32 // launch (global) or block sequence number (shared); 0 = never
	wEpoch, rEpoch int32
	wThread        int64
	rThread        int64 // -2: several different threads read it
	wBlock, rBlock int64
}

const manyReaders = -2

type accessor struct {
	thread int64 // unique within the launch
	block  int64
	epoch  int32
}

func (l *launch) who(th *thread) accessor {
	return accessor{thread: l.blockLinear*int64(len(l.threads)) + int64(th.linear), block: l.blockLinear, epoch: l.epoch}
}

// conflicts says whether an earlier access (thread, block, epoch) in the same scope is
// unordered with respect to a, for accesses since minEpoch of a's block.
func conflicts(a accessor, thread, block int64, epoch, minEpoch int32) bool {
	if thread == a.thread {
		return false
	}
	if block != a.block {
		return true
	}
	return epoch >= minEpoch
}

// touch checks and records an access to one word.
func (l *launch) touch(th *thread, sh *shadow, scope uint32, write bool, minEpoch int32, where string, addr uint64) error {
	a := l.who(th)
	if sh.wScope == scope && conflicts(a, sh.wThread, sh.wBlock, sh.wEpoch, minEpoch) {
		kind := "read"
		if write {
			kind = "write"
		}
		return l.errorf(th, "data race: %s of %s 0x%x written by thread %d of block %d without an intervening bar.sync",
			kind, where, addr, sh.wThread%int64(len(l.threads)), sh.wBlock)
	}
	if write {
		if sh.rScope == scope && (sh.rThread == manyReaders && (sh.rBlock != a.block || sh.rEpoch >= minEpoch) ||
			sh.rThread != manyReaders && conflicts(a, sh.rThread, sh.rBlock, sh.rEpoch, minEpoch)) {
			return l.errorf(th, "data race: write of %s 0x%x that another thread read without an intervening bar.sync", where, addr)
		}
		sh.wScope, sh.wThread, sh.wBlock, sh.wEpoch = scope, a.thread, a.block, l.epoch
		return nil
	}
	if sh.rScope == scope && sh.rBlock == a.block && sh.rEpoch == l.epoch && sh.rThread != a.thread {
		sh.rThread = manyReaders
	} else {
		sh.rThread = a.thread
	}
	sh.rScope, sh.rBlock, sh.rEpoch = scope, a.block, l.epoch
	return nil
}

func (l *launch) trackGlobal(th *thread, a *allocation, off, size int, write bool, minEpoch int32) error {
	if a.shadow == nil {
		a.shadow = make([]shadow, (len(a.data)+3)/4)
	}
	for w := off / 4; w < (off+size+3)/4; w++ {
		l.countWord(&a.shadow[w], write)
		if err := l.touch(th, &a.shadow[w], l.launchID, write, minEpoch, "global", a.base+uint64(4*w)); err != nil {
			return err
		}
	}
	return nil
}

func (l *launch) trackShared(th *thread, off, size int, write bool, minEpoch int32) error {
	for w := off / 4; w < (off+size+3)/4; w++ {
		if err := l.touch(th, &l.sharedShadow[w], l.blockSeq, write, minEpoch, "shared", uint64(4*w)); err != nil {
			return err
		}
	}
	return nil
}

func (m *Memory) nextLaunch() uint32 {
	m.launches++
	if m.launches == 0 {
		panic(fmt.Sprintf("ptxsim: more than %d launches on one Memory", uint32(1<<32-1)))
	}
	return m.launches
}
