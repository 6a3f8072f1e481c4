package torchfile

import (
	"archive/zip"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// The seeds are the tiny generated checkpoints (every format and dtype the importer
// meets; the model-sized ones stall the fuzzing engine, which mutates whole inputs) and
// small hand-built files that reach the tensor checks quickly.
func fuzzSeeds(f *testing.F) [][]byte {
	var seeds [][]byte
	for _, name := range []string{"seed_zip.pt", "seed_legacy.pt", "seed_f16.pt", "seed_bf16.pt"} {
		b, err := os.ReadFile(filepath.Join(importDir, name))
		if err != nil {
			f.Fatal(err)
		}
		seeds = append(seeds, b)
	}
	seeds = append(seeds,
		zipFile(f, stateDict(12, 1, []int64{3, 2}, []int64{1, 4}), 12),
		zipFile(f, stateDict(4, 0, []int64{4}, []int64{1}), 4),
	)
	return seeds
}

// FuzzZip feeds arbitrary files to the whole reader: container, unpickler and tensor
// reads. Any outcome but a panic or a runaway allocation is acceptable.
func FuzzZip(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		readBytes(data)
	})
}

// FuzzUnpickle feeds arbitrary pickles to the unpickler; storages it references are
// backed by zeros so that tensors built from them are read too.
func FuzzUnpickle(f *testing.F) {
	var files [][]byte
	for _, name := range []string{"new_f32.pt", "old_f32.pt", "rotary_f32.pt"} {
		b, err := os.ReadFile(filepath.Join(importDir, name))
		if err != nil {
			f.Fatal(err)
		}
		files = append(files, b)
	}
	for _, s := range append(fuzzSeeds(f), files...) {
		zr, err := zip.NewReader(bytes.NewReader(s), int64(len(s)))
		if err != nil {
			f.Add(s) // the legacy file: a pickle stream itself
			continue
		}
		for _, e := range zr.File {
			if filepath.Base(e.Name) == "data.pkl" {
				rc, _ := e.Open()
				b, _ := io.ReadAll(rc)
				f.Add(b)
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) { fuzzUnpickleBody(data) })
}

func fuzzUnpickleBody(data []byte) {
	// As in the containers, one key is one storage, so a pickle cannot make the
	// harness allocate per reference.
	storages := map[string]*Storage{}
	persist := func(pid *Tuple) (any, error) {
		if len(pid.Items) < 5 {
			return nil, io.ErrUnexpectedEOF
		}
		s, err := newStorage(pid.Items[:5])
		if err != nil {
			return nil, err
		}
		if old, ok := storages[s.key]; ok {
			return old, nil
		}
		if s.numel > 1<<16 || len(storages) > 16 {
			return nil, io.ErrShortBuffer
		}
		s.r = bytes.NewReader(make([]byte, s.numel*int64(s.size)))
		storages[s.key] = s
		return s, nil
	}
	root, _, err := unpickle(data, persist)
	if err != nil {
		return
	}
	sd, err := StateDict(root)
	if err != nil {
		return
	}
	for _, e := range sd {
		e.Tensor.F32()
	}
}
