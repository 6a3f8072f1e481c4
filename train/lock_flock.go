//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package train

import (
	"errors"
	"os"
	"strings"
	"syscall"
)

// heldLock is an flock(2) lock on a file: the kernel drops it when the process dies, so
// a killed run never leaves its folder locked.
type heldLock struct{ f *os.File }

// removableWhileLocked says whether Abandon may delete the folder before releasing
// the lock: an flock(2)ed file may be unlinked while held.
const removableWhileLocked = true

// acquireLock takes the lock at path without waiting. When another process holds it,
// it returns a nil lock and what that process wrote into the file.
func acquireLock(path, holder string) (*heldLock, string, error) {
	for {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			return nil, "", err
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			b, _ := os.ReadFile(path)
			f.Close()
			if errors.Is(err, syscall.EWOULDBLOCK) {
				return nil, describeHolder(b), nil
			}
			return nil, "", err
		}
		// A holder that removed its folder (Abandon) between our open and our flock left
		// us a lock on a file no longer at path; take the lock again on the one there.
		fst, err1 := f.Stat()
		pst, err2 := os.Stat(path)
		if err1 != nil || err2 != nil || !os.SameFile(fst, pst) {
			f.Close()
			if errors.Is(err2, os.ErrNotExist) {
				return nil, "", err2
			}
			continue
		}
		if err := f.Truncate(0); err != nil {
			f.Close()
			return nil, "", err
		}
		if _, err := f.WriteAt([]byte(holder+"\n"), 0); err != nil {
			f.Close()
			return nil, "", err
		}
		return &heldLock{f}, "", nil
	}
}

func (l *heldLock) release() {
	// Emptied rather than removed: removing it could let two later processes lock two
	// different files at the same path.
	_ = l.f.Truncate(0)
	_ = l.f.Close()
}

func describeHolder(b []byte) string {
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "another process"
	}
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}
