package train_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/hungry-ssm/hungry/train"
)

func TestClaimNewRefusesAFolderInUseOrNotEmpty(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "runs", "a")
	c, err := train.ClaimNew(dir, train.NewClaimOptions{})
	if err != nil || !c.Created || c.Dir != dir {
		t.Fatalf("fresh claim: %+v, %v", c, err)
	}
	// A second trainer on the folder, new or resumed, is told who holds it.
	var locked *train.LockedError
	_, err = train.ClaimNew(dir, train.NewClaimOptions{Force: true})
	if !errors.As(err, &locked) || !strings.Contains(err.Error(), fmt.Sprintf("pid %d", os.Getpid())) || strings.Contains(err.Error(), "\n") {
		t.Errorf("second claim while held: %v, want one line naming pid %d", err, os.Getpid())
	}
	if _, err := train.ClaimExisting(dir); !errors.As(err, &locked) {
		t.Errorf("resume claim while held: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "metrics.jsonl"), []byte("{}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c.Release()

	// A finished run is never replaced silently.
	var exists *train.ExistsError
	if _, err := train.ClaimNew(dir, train.NewClaimOptions{}); !errors.As(err, &exists) || !reflect.DeepEqual(exists.Entries, []string{"metrics.jsonl"}) {
		t.Fatalf("claim of a used folder: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "metrics.jsonl")); err != nil {
		t.Fatalf("a refused claim touched the folder: %v", err)
	}
	// Released by the refusal: it can be resumed.
	r, err := train.ClaimExisting(dir)
	if err != nil {
		t.Fatal(err)
	}
	r.Release()

	// --force says what it replaces and empties the folder.
	f, err := train.ClaimNew(dir, train.NewClaimOptions{Force: true})
	if err != nil || f.Created || !reflect.DeepEqual(f.Replaced, []string{"metrics.jsonl"}) {
		t.Fatalf("forced claim: %+v, %v", f, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "metrics.jsonl")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("forced claim left the old metrics: %v", err)
	}
	f.Release()
}

func TestClaimNewUniqueNamesNeverShareAFolder(t *testing.T) {
	base := filepath.Join(t.TempDir(), "h3-20261205-120000")
	var dirs []string
	for i := 0; i < 3; i++ {
		c, err := train.ClaimNew(base, train.NewClaimOptions{Unique: true})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Release()
		dirs = append(dirs, c.Dir)
	}
	if want := []string{base, base + "-2", base + "-3"}; !reflect.DeepEqual(dirs, want) {
		t.Errorf("three runs started in the same second got %v, want %v", dirs, want)
	}
}

func TestClaimCleansWhatAKillLeftAndAbandonRemovesAFailedStart(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	stale := filepath.Join(dir, "checkpoint.tmp-123456")
	if err := os.MkdirAll(stale, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(stale, "model.safetensors"), make([]byte, 1000), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := train.ClaimExisting(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the stale checkpoint folder survived the claim: %v", err)
	}
	// Abandon belongs to new runs; a resumed run's folder is never removed.
	c.Release()

	fresh := filepath.Join(t.TempDir(), "fresh")
	n, err := train.ClaimNew(fresh, train.NewClaimOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(fresh, "run.json"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	n.Abandon()
	if _, err := os.Stat(fresh); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a failed start left its folder: %v", err)
	}

	// A folder the user made empty beforehand stays, empty.
	empty := t.TempDir()
	e, err := train.ClaimNew(empty, train.NewClaimOptions{})
	if err != nil || e.Created {
		t.Fatalf("claim of an empty folder: %+v, %v", e, err)
	}
	if err := os.WriteFile(filepath.Join(empty, "run.json"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	e.Abandon()
	if des, err := os.ReadDir(empty); err != nil || len(des) > 1 || (len(des) == 1 && des[0].Name() != "lock") {
		t.Errorf("abandoned empty folder holds %v (%v)", des, err)
	}
}
