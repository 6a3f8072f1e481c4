package train

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// WriteDirAtomic replaces dir with the files that fill writes into a fresh temporary
// folder beside it. Every file is synced before the swap, and the swap is two renames,
// so a crash at any moment (SIGKILL, power loss) leaves either the previous checkpoint
// (as dir or dir.old) or the new one complete on disk, never a mix.
//
// It is the one atomic writer of model and run files: fill writes plainly (no temporary
// files, no syncs of its own) and everything it writes becomes visible at once.
func WriteDirAtomic(dir string, fill func(tmp string) error) error {
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(parent, filepath.Base(dir)+".tmp-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if err := fill(tmp); err != nil {
		return err
	}
	if err := syncTree(tmp); err != nil {
		return err
	}
	old := dir + ".old"
	if err := os.RemoveAll(old); err != nil {
		return err
	}
	if _, err := os.Stat(dir); err == nil {
		if err := os.Rename(dir, old); err != nil {
			return err
		}
	}
	if err := os.Rename(tmp, dir); err != nil {
		return err
	}
	if err := syncPath(parent); err != nil {
		return err
	}
	return os.RemoveAll(old)
}

// resolveDir returns the complete checkpoint folder for dir: dir itself, or dir.old when
// a crash came between the two renames of WriteDirAtomic.
func resolveDir(dir string) (string, error) {
	if st, err := os.Stat(dir); err == nil {
		if !st.IsDir() {
			return "", fmt.Errorf("%s is not a directory", dir)
		}
		return dir, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	if st, err := os.Stat(dir + ".old"); err == nil && st.IsDir() {
		return dir + ".old", nil
	}
	return "", fmt.Errorf("no checkpoint at %s", dir)
}

func syncTree(root string) error {
	return filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return syncPath(path)
	})
}

func syncPath(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}
