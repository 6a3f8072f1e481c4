//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package train

import (
	"errors"
	"os"
	"strings"
)

// heldLock is a lock file created exclusively, where flock(2) is not available. Unlike
// flock it outlives a killed process: the message then names the dead holder, and
// deleting the file frees the folder.
type heldLock struct {
	f    *os.File
	path string
}

// removableWhileLocked says whether Abandon may delete the folder before releasing
// the lock: Windows refuses to delete an open file.
const removableWhileLocked = false

func acquireLock(path, holder string) (*heldLock, string, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, os.ErrExist) {
		b, _ := os.ReadFile(path)
		return nil, describeHolder(b) + " (delete " + path + " if that process is gone)", nil
	}
	if err != nil {
		return nil, "", err
	}
	if _, err := f.WriteString(holder + "\n"); err != nil {
		f.Close()
		os.Remove(path)
		return nil, "", err
	}
	return &heldLock{f: f, path: path}, "", nil
}

func (l *heldLock) release() {
	_ = l.f.Close()
	_ = os.Remove(l.path)
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
