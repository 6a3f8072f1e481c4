package train

import (
	"os"
	"path/filepath"
	"testing"
)

func TestWriteDirAtomicReplacesWhole(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ckpt")
	write := func(content string) error {
		return WriteDirAtomic(dir, func(tmp string) error {
			return os.WriteFile(filepath.Join(tmp, "a"), []byte(content), 0o644)
		})
	}
	if err := write("one"); err != nil {
		t.Fatal(err)
	}
	if err := write("two"); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dir, "a"))
	if err != nil || string(got) != "two" {
		t.Fatalf("read %q, %v", got, err)
	}
	entries, _ := os.ReadDir(filepath.Dir(dir))
	if len(entries) != 1 {
		t.Fatalf("leftover folders: %v", entries)
	}
}

func TestWriteDirAtomicKeepsOldOnFailure(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ckpt")
	if err := WriteDirAtomic(dir, func(tmp string) error {
		return os.WriteFile(filepath.Join(tmp, "a"), []byte("good"), 0o644)
	}); err != nil {
		t.Fatal(err)
	}
	if err := WriteDirAtomic(dir, func(tmp string) error { return os.ErrPermission }); err == nil {
		t.Fatal("failure not reported")
	}
	got, _ := os.ReadFile(filepath.Join(dir, "a"))
	if string(got) != "good" {
		t.Fatalf("previous checkpoint lost: %q", got)
	}
}

func TestResolveDirFallsBackToOld(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ckpt")
	// The state a crash between the two renames leaves behind.
	if err := os.MkdirAll(dir+".old", 0o755); err != nil {
		t.Fatal(err)
	}
	got, err := resolveDir(dir)
	if err != nil || got != dir+".old" {
		t.Fatalf("resolveDir = %q, %v", got, err)
	}
	if _, err := resolveDir(filepath.Join(t.TempDir(), "none")); err == nil {
		t.Fatal("missing checkpoint not reported")
	}
}
