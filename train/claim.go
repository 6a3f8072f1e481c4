package train

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// lockFile is the lock a training process holds on its run folder. It stays behind when
// the run ends (empty): removing it would race with a process that opened it just before.
const lockFile = "lock"

// Claim is a run folder held by this process: its lock is taken, and leftovers of a
// killed run (half-written checkpoint folders) are gone. Release it when done; the
// operating system drops the lock if the process dies first.
type Claim struct {
	Dir string
	// Created says this claim made the folder, so that Abandon may remove it.
	Created bool
	// Replaced lists what a forced claim deleted ("checkpoint/ (step 120)", "metrics.jsonl").
	Replaced []string
	lock     *heldLock
}

// ExistsError reports a new run aimed at a folder that holds something already.
type ExistsError struct {
	Dir     string
	Entries []string
}

func (e *ExistsError) Error() string {
	return fmt.Sprintf("run folder %s already holds %s; continue it with --resume %s, replace it with --force, or choose another --name",
		e.Dir, strings.Join(e.Entries, ", "), e.Dir)
}

// LockedError reports a run folder another process is training in.
type LockedError struct {
	Dir, Holder string
}

func (e *LockedError) Error() string {
	return fmt.Sprintf("run folder %s is in use by %s", e.Dir, e.Holder)
}

// NewClaimOptions say how ClaimNew picks and treats the folder.
type NewClaimOptions struct {
	// Unique: when the folder exists, take the first free of dir-2, dir-3, ... instead
	// (for generated names, so that runs started in the same second never share one).
	Unique bool
	// Force: empty an existing folder instead of refusing it; Claim.Replaced says what
	// went.
	Force bool
}

// ClaimNew takes a folder for a new run: it creates dir, or accepts it when empty, and
// refuses one that holds anything (ExistsError) unless o.Force, or one in use by
// another process (LockedError).
func ClaimNew(dir string, o NewClaimOptions) (*Claim, error) {
	if err := os.MkdirAll(filepath.Dir(filepath.Clean(dir)), 0o755); err != nil {
		return nil, fmt.Errorf("cannot create the run folder: %w", err)
	}
	base := dir
	created := false
	for i := 2; ; i++ {
		err := os.Mkdir(dir, 0o755)
		if err == nil {
			created = true
			break
		}
		if !errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("cannot create the run folder: %w", err)
		}
		if st, serr := os.Stat(dir); serr == nil && !st.IsDir() {
			return nil, fmt.Errorf("run folder %s exists and is not a folder", dir)
		}
		if !o.Unique {
			break
		}
		if i > 1000 {
			return nil, fmt.Errorf("cannot find a free run folder name beside %s", base)
		}
		dir = fmt.Sprintf("%s-%d", base, i)
	}
	c := &Claim{Dir: dir, Created: created}
	if err := c.lockAndClean(); err != nil {
		return nil, err
	}
	if created {
		return c, nil
	}
	entries, err := c.contents()
	if err != nil {
		c.Release()
		return nil, err
	}
	if len(entries) == 0 {
		return c, nil
	}
	if !o.Force {
		c.Release()
		return nil, &ExistsError{Dir: dir, Entries: entries}
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(dir, strings.TrimSuffix(strings.Fields(e)[0], "/"))); err != nil {
			c.Release()
			return nil, fmt.Errorf("cannot empty the run folder: %w", err)
		}
	}
	c.Replaced = entries
	return c, nil
}

// ClaimExisting takes the folder of an existing run, to resume it.
func ClaimExisting(dir string) (*Claim, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("%s is not a folder", dir)
	}
	c := &Claim{Dir: dir}
	if err := c.lockAndClean(); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *Claim) lockAndClean() error {
	l, holder, err := acquireLock(filepath.Join(c.Dir, lockFile), lockHolder())
	if err != nil {
		return fmt.Errorf("cannot lock the run folder: %w", err)
	}
	if l == nil {
		return &LockedError{Dir: c.Dir, Holder: holder}
	}
	c.lock = l
	// A kill during WriteDirAtomic leaves its temporary folder; only a holder of the lock
	// may know that no checkpoint is being written into one.
	stale, _ := filepath.Glob(filepath.Join(c.Dir, "checkpoint.tmp-*"))
	for _, p := range stale {
		if err := os.RemoveAll(p); err != nil {
			c.Release()
			return fmt.Errorf("cannot remove a stale checkpoint folder: %w", err)
		}
	}
	return nil
}

// contents lists the folder's entries other than the lock, described for a person.
func (c *Claim) contents() ([]string, error) {
	des, err := os.ReadDir(c.Dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, d := range des {
		if d.Name() == lockFile {
			continue
		}
		name := d.Name()
		if d.IsDir() {
			name += "/"
		}
		if name == "checkpoint/" {
			if st, err := readTrainerState(filepath.Join(c.Dir, "checkpoint")); err == nil {
				name += fmt.Sprintf(" (step %d)", st.Step)
			}
		}
		out = append(out, name)
	}
	sort.Strings(out)
	return out, nil
}

// Release drops the lock. The claim's folder stays.
func (c *Claim) Release() {
	if c.lock != nil {
		c.lock.release()
		c.lock = nil
	}
}

// Abandon undoes a start that failed before training: it removes the folder when this
// claim created it, or empties it when it was found empty (or forced empty), and drops
// the lock. Only a claim still holding its lock touches anything.
func (c *Claim) Abandon() {
	if c.lock == nil {
		return
	}
	if !removableWhileLocked {
		// The lock file cannot go while open: drop the lock first.
		c.Release()
	}
	if c.Created {
		_ = os.RemoveAll(c.Dir)
	} else if des, err := os.ReadDir(c.Dir); err == nil {
		for _, d := range des {
			if d.Name() != lockFile {
				_ = os.RemoveAll(filepath.Join(c.Dir, d.Name()))
			}
		}
	}
	c.Release()
}

// lockHolder is what a lock file says about its holder, for the message of whoever
// finds it taken.
func lockHolder() string {
	host, _ := os.Hostname()
	cmd := strings.Join(os.Args, " ")
	if len(cmd) > 160 {
		cmd = cmd[:160] + "..."
	}
	cmd = strings.Map(func(r rune) rune {
		if r < ' ' {
			return ' '
		}
		return r
	}, cmd)
	return fmt.Sprintf("pid %d on %s since %s (%s)", os.Getpid(), host, time.Now().Format(time.DateTime), cmd)
}
