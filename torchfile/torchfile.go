// Package torchfile reads PyTorch checkpoint files (torch.save) without Python and
// without executing anything they contain.
//
// Both container formats are read: the zip format of torch ≥ 1.6 (<name>/data.pkl, the
// storages as <name>/data/<key>, <name>/byteorder) and the legacy stream of older torch
// (five pickles followed by the raw storages). The pickle is interpreted by a restricted
// machine that knows only the opcodes a state dict uses and only the globals it needs
// (collections.OrderedDict, torch._utils._rebuild_tensor_v2 and _rebuild_parameter, the
// Float/Half/BFloat16/Double storages); anything else is refused by name. Every size a
// file declares is checked against the bytes it holds before anything is allocated for
// it, so a hostile file costs at most a small multiple of its own size.
package torchfile

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strings"

	"github.com/hungry-ssm/hungry/safetensors"
)

// Storage is a flat array of one dtype that tensors view.
type Storage struct {
	DType string // "F32", "F16", "BF16" or "F64" (safetensors names)
	key   string
	numel int64
	size  int // bytes per element
	// r, base locate element 0; r is nil until the container resolves the storage.
	r         io.ReaderAt
	base      int64
	bigEndian bool
}

// Tensor is a strided view of a storage, as torch saves it.
type Tensor struct {
	DType   string
	Shape   []int
	storage *Storage
	offset  int64
	stride  []int64
	numel   int64
}

// Numel is the number of elements.
func (t *Tensor) Numel() int64 { return t.numel }

// SharesStorage reports whether t and o view the same storage.
func (t *Tensor) SharesStorage(o *Tensor) bool { return t.storage == o.storage }

// File is an opened checkpoint. Root is the unpickled object.
type File struct {
	Root   any
	closer io.Closer
}

// Close releases the file opened by Open.
func (f *File) Close() error {
	if f.closer != nil {
		return f.closer.Close()
	}
	return nil
}

// Open reads a checkpoint from disk; tensors are read from it on demand, so the File must
// stay open while they are used.
func Open(path string) (*File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("torchfile: %w", err)
	}
	st, err := fh.Stat()
	if err != nil {
		fh.Close()
		return nil, fmt.Errorf("torchfile: %w", err)
	}
	f, err := Read(fh, st.Size())
	if err != nil {
		fh.Close()
		return nil, err
	}
	f.closer = fh
	return f, nil
}

// Read parses a checkpoint of the given size read through r.
func Read(r io.ReaderAt, size int64) (*File, error) {
	head := make([]byte, 8)
	n, _ := r.ReadAt(head, 0)
	head = head[:n]
	var root any
	var err error
	switch {
	case bytes.HasPrefix(head, []byte("PK\x03\x04")):
		root, err = readZip(r, size)
	case bytes.HasPrefix(head, []byte{0x80, 0x02, 0x8a, 0x0a}):
		root, err = readLegacy(r, size)
	case len(head) > 0 && head[0] == 0x80:
		err = errors.New("a pickle without torch's magic number: not a checkpoint written by torch.save")
	case n < 8:
		err = errors.New("file too short to be a checkpoint")
	default:
		err = errors.New("neither the zip format nor the legacy format of torch.save (the tar format of torch < 0.4 is not supported)")
	}
	if err != nil {
		return nil, fmt.Errorf("torchfile: %w", err)
	}
	return &File{Root: root}, nil
}

func elemSize(dtype string) int {
	switch dtype {
	case "F16", "BF16":
		return 2
	case "F32":
		return 4
	}
	return 8
}

// newStorage checks a storage reference: ('storage', type, key, location, numel, ...).
func newStorage(items []any) (*Storage, error) {
	if s, ok := items[0].(string); !ok || s != "storage" {
		return nil, fmt.Errorf("persistent id of kind %v, want \"storage\"", items[0])
	}
	g, ok := items[1].(global)
	dtype := storageDTypes[g.String()]
	if !ok || dtype == "" {
		return nil, fmt.Errorf("storage of type %s is not allowed (float, half, bfloat16 or double only)", typeName(items[1]))
	}
	key, ok := items[2].(string)
	if !ok || key == "" || len(key) > 64 || strings.ContainsAny(key, "/\\") {
		return nil, fmt.Errorf("storage key %v is not a short name", items[2])
	}
	if _, ok := items[3].(string); !ok {
		return nil, fmt.Errorf("storage location is a %s, want a str", typeName(items[3]))
	}
	numel, ok := items[4].(int64)
	if !ok || numel < 0 || numel > math.MaxInt64/8 {
		return nil, fmt.Errorf("storage %s declares %v elements", key, items[4])
	}
	return &Storage{DType: dtype, key: key, numel: numel, size: elemSize(dtype)}, nil
}

func readZip(r io.ReaderAt, size int64) (any, error) {
	zr, err := zip.NewReader(r, size)
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		return nil, fmt.Errorf("zip: %w", err)
	}
	entries := make(map[string]*zip.File, len(zr.File))
	prefix := ""
	found := 0
	for _, f := range zr.File {
		entries[f.Name] = f
		if dir, ok := strings.CutSuffix(f.Name, "data.pkl"); ok && strings.Count(dir, "/") == 1 && strings.HasSuffix(dir, "/") {
			prefix = dir
			found++
		}
	}
	if found != 1 {
		return nil, fmt.Errorf("zip holds %d <name>/data.pkl entries, want exactly one", found)
	}
	bigEndian := false
	if bo, ok := entries[prefix+"byteorder"]; ok {
		b, err := readSmall(bo, 16)
		if err != nil {
			return nil, fmt.Errorf("byteorder: %w", err)
		}
		switch string(b) {
		case "little":
		case "big":
			bigEndian = true
		default:
			return nil, fmt.Errorf("byteorder %q, want little or big", quoteName(string(b)))
		}
	}
	pkl, err := readSmall(entries[prefix+"data.pkl"], MaxPickleBytes)
	if err != nil {
		return nil, fmt.Errorf("data.pkl: %w", err)
	}
	storages := map[string]*Storage{}
	persist := func(pid *Tuple) (any, error) {
		if len(pid.Items) != 5 {
			return nil, fmt.Errorf("storage reference has %d fields, want 5", len(pid.Items))
		}
		s, err := newStorage(pid.Items)
		if err != nil {
			return nil, err
		}
		if old, ok := storages[s.key]; ok {
			if old.DType != s.DType || old.numel != s.numel {
				return nil, fmt.Errorf("storage %s is referenced as %s[%d] and as %s[%d]", s.key, old.DType, old.numel, s.DType, s.numel)
			}
			return old, nil
		}
		e, ok := entries[prefix+"data/"+s.key]
		if !ok {
			return nil, fmt.Errorf("storage %s has no entry %sdata/%s", s.key, prefix, s.key)
		}
		if e.Method != zip.Store || e.CompressedSize64 != e.UncompressedSize64 {
			return nil, fmt.Errorf("storage %s is compressed; torch.save stores storages uncompressed", s.key)
		}
		want := s.numel * int64(s.size)
		if e.UncompressedSize64 < uint64(want) {
			return nil, fmt.Errorf("storage %s holds %d bytes but declares %d elements of %d bytes", s.key, e.UncompressedSize64, s.numel, s.size)
		}
		off, err := e.DataOffset()
		if err != nil {
			return nil, fmt.Errorf("storage %s: %w", s.key, err)
		}
		if off < 0 || off > size || want > size-off {
			return nil, fmt.Errorf("storage %s runs past the end of the file", s.key)
		}
		s.r, s.base, s.bigEndian = r, off, bigEndian
		storages[s.key] = s
		return s, nil
	}
	root, n, err := unpickle(pkl, persist)
	if err != nil {
		return nil, err
	}
	if n != len(pkl) {
		return nil, fmt.Errorf("data.pkl has %d bytes after its STOP", len(pkl)-n)
	}
	return root, nil
}

// readSmall reads a whole zip entry of at most limit bytes.
func readSmall(f *zip.File, limit int64) ([]byte, error) {
	if f.UncompressedSize64 > uint64(limit) {
		return nil, fmt.Errorf("%d bytes, more than the %d allowed", f.UncompressedSize64, limit)
	}
	rc, err := f.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("more than the %d bytes allowed", limit)
	}
	return b, nil
}

// legacyMagic is the first pickle of the legacy format (torch.serialization.MAGIC_NUMBER).
var legacyMagic = []byte{0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19}

// readLegacy reads the format torch.save wrote before 1.6 (and still writes with
// _use_new_zipfile_serialization=False): pickles of the magic number, the protocol
// version, system info, the object and the storage keys, then each storage as an int64
// element count followed by its bytes.
func readLegacy(r io.ReaderAt, size int64) (any, error) {
	head := make([]byte, min(size, MaxPickleBytes))
	if _, err := r.ReadAt(head, 0); err != nil && err != io.EOF {
		return nil, err
	}
	pos := 0
	next := func(persist persistentLoader) (any, error) {
		v, n, err := unpickle(head[pos:], persist)
		pos += n
		return v, err
	}
	magic, err := next(nil)
	if b, ok := magic.(*BigInt); err != nil || !ok || !bytes.Equal(b.Bytes, legacyMagic) {
		return nil, fmt.Errorf("legacy format: bad magic number (%v)", err)
	}
	if v, err := next(nil); err != nil || v != int64(1001) {
		return nil, fmt.Errorf("legacy format: protocol version %v, want 1001 (%v)", v, err)
	}
	info, err := next(nil)
	if err != nil {
		return nil, fmt.Errorf("legacy format: system info: %w", err)
	}
	if d, ok := info.(*Dict); !ok {
		return nil, fmt.Errorf("legacy format: system info is a %s", typeName(info))
	} else if le, ok := d.Get("little_endian"); !ok || le != true {
		return nil, errors.New("legacy format: only little-endian files are supported")
	}
	roots := map[string]*Storage{}
	var views []*Storage
	persist := func(pid *Tuple) (any, error) {
		if len(pid.Items) != 6 {
			return nil, fmt.Errorf("legacy storage reference has %d fields, want 6", len(pid.Items))
		}
		s, err := newStorage(pid.Items[:5])
		if err != nil {
			return nil, err
		}
		root, ok := roots[s.key]
		if !ok {
			roots[s.key], root = s, s
		} else if root.DType != s.DType || root.numel != s.numel {
			return nil, fmt.Errorf("storage %s is referenced with two types or sizes", s.key)
		}
		if pid.Items[5] == nil {
			return root, nil
		}
		// A view of the root storage: (view_key, offset, size).
		vm, ok := pid.Items[5].(*Tuple)
		if !ok || len(vm.Items) != 3 {
			return nil, fmt.Errorf("storage %s has view metadata %s, want (key, offset, size)", s.key, typeName(pid.Items[5]))
		}
		off, ok1 := vm.Items[1].(int64)
		n, ok2 := vm.Items[2].(int64)
		if !ok1 || !ok2 || off < 0 || n < 0 || off > root.numel || n > root.numel-off {
			return nil, fmt.Errorf("storage view %v of storage %s (%d elements) is out of range", vm.Items, s.key, root.numel)
		}
		v := &Storage{DType: root.DType, key: root.key, numel: n, size: root.size, base: off}
		views = append(views, v)
		return v, nil
	}
	root, err := next(persist)
	if err != nil {
		return nil, err
	}
	keys, err := next(nil)
	if err != nil {
		return nil, fmt.Errorf("legacy format: storage keys: %w", err)
	}
	kl, ok := keys.(*List)
	if !ok {
		return nil, fmt.Errorf("legacy format: storage keys are a %s, want a list", typeName(keys))
	}
	at := int64(pos)
	for _, k := range kl.Items {
		key, _ := k.(string)
		s, ok := roots[key]
		if !ok {
			return nil, fmt.Errorf("legacy format: storage %v is listed but never used", quoteName(fmt.Sprint(k)))
		}
		if s.r != nil {
			return nil, fmt.Errorf("legacy format: storage %s is listed twice", key)
		}
		var nb [8]byte
		if at > size-8 {
			return nil, fmt.Errorf("legacy format: storage %s starts past the end of the file", key)
		}
		if _, err := r.ReadAt(nb[:], at); err != nil {
			return nil, fmt.Errorf("legacy format: storage %s: %w", key, err)
		}
		if n := int64(binary.LittleEndian.Uint64(nb[:])); n != s.numel {
			return nil, fmt.Errorf("legacy format: storage %s holds %d elements but is referenced with %d", key, n, s.numel)
		}
		at += 8
		if s.numel*int64(s.size) > size-at {
			return nil, fmt.Errorf("legacy format: storage %s runs past the end of the file", key)
		}
		s.r, s.base = r, at
		at += s.numel * int64(s.size)
	}
	for key, s := range roots {
		if s.r == nil {
			return nil, fmt.Errorf("legacy format: storage %s is used but not stored", key)
		}
	}
	for _, v := range views {
		rs := roots[v.key]
		v.r, v.base = rs.r, rs.base+v.base*int64(v.size)
	}
	return root, nil
}

// Bytes returns the tensor's elements in row-major order as little-endian values of its
// dtype. Only the span of the storage the view covers is read.
func (t *Tensor) Bytes() ([]byte, error) {
	s := t.storage
	if s.r == nil {
		return nil, fmt.Errorf("torchfile: storage %s has no data", s.key)
	}
	es := int64(s.size)
	out := make([]byte, t.numel*es)
	if t.numel == 0 {
		return out, nil
	}
	last := t.offset
	for i, n := range t.Shape {
		last += int64(n-1) * t.stride[i]
	}
	span := make([]byte, (last-t.offset+1)*es)
	if _, err := s.r.ReadAt(span, s.base+t.offset*es); err != nil {
		return nil, fmt.Errorf("torchfile: storage %s: %w", s.key, err)
	}
	if t.contiguous() {
		copy(out, span)
	} else {
		gather(out, span, t.Shape, t.stride, es)
	}
	if s.bigEndian && es > 1 {
		for i := 0; i < len(out); i += int(es) {
			e := out[i : i+int(es)]
			for a, b := 0, len(e)-1; a < b; a, b = a+1, b-1 {
				e[a], e[b] = e[b], e[a]
			}
		}
	}
	return out, nil
}

func (t *Tensor) contiguous() bool {
	want := int64(1)
	for i := len(t.Shape) - 1; i >= 0; i-- {
		if t.Shape[i] != 1 && t.stride[i] != want {
			return false
		}
		want *= int64(t.Shape[i])
	}
	return true
}

// gather copies the strided elements of span into out in row-major order.
func gather(out, span []byte, shape []int, stride []int64, es int64) {
	idx := make([]int, len(shape))
	src := int64(0)
	for o := int64(0); o < int64(len(out)); o += es {
		copy(out[o:o+es], span[src*es:src*es+es])
		for d := len(shape) - 1; d >= 0; d-- {
			idx[d]++
			src += stride[d]
			if idx[d] < shape[d] {
				break
			}
			src -= int64(idx[d]) * stride[d]
			idx[d] = 0
		}
	}
}

// F32 returns the elements converted to float32 (half and bfloat16 exactly, double
// rounded to nearest).
func (t *Tensor) F32() ([]float32, error) {
	b, err := t.Bytes()
	if err != nil {
		return nil, err
	}
	out := make([]float32, t.numel)
	if err := safetensors.ToFloat32(t.DType, b, out); err != nil {
		return nil, err
	}
	return out, nil
}

// Entry is one named tensor of a state dict.
type Entry struct {
	Name   string
	Tensor *Tensor
}

// StateDict returns the tensors of a checkpoint's state dict in file order. It unwraps a
// top-level "state_dict" or "model" entry (training checkpoints) and drops entries whose
// values are not tensors only when they sit beside a wrapper; inside the state dict every
// value must be a tensor and every key a string.
func StateDict(root any) ([]Entry, error) {
	d, ok := root.(*Dict)
	if !ok {
		return nil, fmt.Errorf("torchfile: the checkpoint holds a %s, not a dict of tensors", typeName(root))
	}
	for _, w := range []string{"state_dict", "model"} {
		if inner, ok := d.Get(w); ok {
			if id, ok := inner.(*Dict); ok {
				d = id
				break
			}
		}
	}
	var out []Entry
	stored := map[string]int64{} // root storage key → bytes
	viewed := int64(0)
	for i, k := range d.Keys {
		name, ok := k.(string)
		if !ok {
			return nil, fmt.Errorf("torchfile: state dict key %d is a %s, not a str", i, typeName(k))
		}
		t, ok := d.Values[i].(*Tensor)
		if !ok {
			return nil, fmt.Errorf("torchfile: state dict entry %s is a %s, not a tensor", quoteName(name), typeName(d.Values[i]))
		}
		out = append(out, Entry{Name: name, Tensor: t})
		stored[t.storage.key] = max(stored[t.storage.key], t.storage.numel*int64(t.storage.size))
		viewed += t.numel * int64(t.storage.size)
	}
	if len(out) == 0 {
		return nil, errors.New("torchfile: the state dict holds no tensors")
	}
	// Views may overlap (a tied head is the embedding itself), but a file whose tensors
	// view its storages over and over would make a reader allocate far more than the file
	// holds; a state dict views its bytes about once.
	total := int64(0)
	for _, b := range stored {
		total += b
	}
	if viewed > 4*total+1<<20 {
		return nil, fmt.Errorf("torchfile: the state dict's tensors view %d bytes, more than four times the %d bytes their storages hold", viewed, total)
	}
	return out, nil
}
