package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxHeaderSize bounds the JSON header, as in the reference implementation: the header is
// the only allocation made before validation, so it must not be sized by an attacker.
const MaxHeaderSize = 100_000_000

// metadataKey is the reserved header entry holding free-form string metadata.
const metadataKey = "__metadata__"

// TensorInfo describes one tensor as the header declares it; Begin and End are byte
// offsets into the data buffer (which starts right after the header).
type TensorInfo struct {
	DType      string
	Shape      []int
	Begin, End int64
}

// File is a parsed safetensors file. The header is validated completely when the File is
// made; tensor data is read on demand by Tensor.
type File struct {
	// Metadata is the "__metadata__" map, empty if the file has none.
	Metadata map[string]string

	infos     map[string]TensorInfo
	names     []string // sorted, for deterministic iteration
	r         io.ReaderAt
	buf       []byte // the whole file when it was read into memory; nil otherwise
	dataStart int64
	closer    io.Closer
}

// Parse reads a safetensors file held in memory. Tensors returned by the File share
// memory with data.
func Parse(data []byte) (*File, error) {
	f, err := Read(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, err
	}
	f.buf = data
	return f, nil
}

// Read parses the header of a safetensors file of the given total size read through r.
// Tensor data is read from r when requested, so r must stay usable while the File is.
func Read(r io.ReaderAt, size int64) (*File, error) {
	if size < 8 {
		return nil, fmt.Errorf("safetensors: file is %d bytes, shorter than the 8-byte header length", size)
	}
	var lenBuf [8]byte
	if _, err := r.ReadAt(lenBuf[:], 0); err != nil {
		return nil, fmt.Errorf("safetensors: reading header length: %w", err)
	}
	n := binary.LittleEndian.Uint64(lenBuf[:])
	if n > MaxHeaderSize {
		return nil, fmt.Errorf("safetensors: header length %d exceeds the limit of %d bytes", n, MaxHeaderSize)
	}
	if n > uint64(size-8) {
		return nil, fmt.Errorf("safetensors: header length %d is larger than the %d bytes after the length field", n, size-8)
	}
	hdr := make([]byte, n)
	if _, err := r.ReadAt(hdr, 8); err != nil {
		return nil, fmt.Errorf("safetensors: reading header: %w", err)
	}
	dataStart := 8 + int64(n)
	infos, meta, err := parseHeader(hdr, size-dataStart)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	names := make([]string, 0, len(infos))
	for name := range infos {
		names = append(names, name)
	}
	slices.Sort(names)
	return &File{Metadata: meta, infos: infos, names: names, r: r, dataStart: dataStart}, nil
}

// ReadFile reads a whole safetensors file into memory and parses it.
func ReadFile(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	f, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%w (file %s)", err, path)
	}
	return f, nil
}

// OpenFile parses the header of a safetensors file and reads tensors from disk only when
// asked, for checkpoints too large to hold twice in memory. Close the File when done.
func OpenFile(path string) (*File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	st, err := fh.Stat()
	if err != nil {
		fh.Close()
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	f, err := Read(fh, st.Size())
	if err != nil {
		fh.Close()
		return nil, fmt.Errorf("%w (file %s)", err, path)
	}
	f.closer = fh
	return f, nil
}

// Close releases the underlying file of a File made by OpenFile; otherwise it does nothing.
func (f *File) Close() error {
	if f.closer == nil {
		return nil
	}
	err := f.closer.Close()
	f.closer = nil
	return err
}

// Names lists the tensor names in sorted order.
func (f *File) Names() []string { return slices.Clone(f.names) }

// Info returns the header entry of a tensor.
func (f *File) Info(name string) (TensorInfo, bool) {
	info, ok := f.infos[name]
	if ok {
		info.Shape = slices.Clone(info.Shape)
	}
	return info, ok
}

// Tensor returns a tensor's dtype, shape and bytes. For files from Parse or ReadFile the
// bytes alias the file's buffer (capacity-limited so appends cannot spill into it).
func (f *File) Tensor(name string) (Tensor, error) {
	info, ok := f.infos[name]
	if !ok {
		return Tensor{}, fmt.Errorf("safetensors: no tensor named %q", name)
	}
	t := Tensor{DType: info.DType, Shape: slices.Clone(info.Shape)}
	lo, hi := f.dataStart+info.Begin, f.dataStart+info.End
	if f.buf != nil {
		t.Data = f.buf[lo:hi:hi]
		return t, nil
	}
	t.Data = make([]byte, hi-lo)
	if _, err := f.r.ReadAt(t.Data, lo); err != nil {
		return Tensor{}, fmt.Errorf("safetensors: reading tensor %q: %w", name, err)
	}
	return t, nil
}

// F32 is a shortcut for Tensor(name) followed by Tensor.F32.
func (f *File) F32(name string) ([]float32, []int, error) {
	t, err := f.Tensor(name)
	if err != nil {
		return nil, nil, err
	}
	v, err := t.F32()
	if err != nil {
		return nil, nil, fmt.Errorf("tensor %q: %w", name, err)
	}
	return v, t.Shape, nil
}

// Tensors reads every tensor into a map.
func (f *File) Tensors() (map[string]Tensor, error) {
	out := make(map[string]Tensor, len(f.names))
	for _, name := range f.names {
		t, err := f.Tensor(name)
		if err != nil {
			return nil, err
		}
		out[name] = t
	}
	return out, nil
}

// headerParser walks the header JSON token by token: encoding/json's struct decoding
// would silently keep the last of duplicated keys, which the format forbids.
type headerParser struct {
	dec *json.Decoder
}

func (p *headerParser) delim(want json.Delim, what string) error {
	tok, err := p.dec.Token()
	if err != nil {
		return fmt.Errorf("%s: invalid JSON: %w", what, err)
	}
	if d, ok := tok.(json.Delim); !ok || d != want {
		return fmt.Errorf("%s: expected %q, found %v", what, string(want), tok)
	}
	return nil
}

func (p *headerParser) str(what string) (string, error) {
	tok, err := p.dec.Token()
	if err != nil {
		return "", fmt.Errorf("%s: invalid JSON: %w", what, err)
	}
	s, ok := tok.(string)
	if !ok {
		return "", fmt.Errorf("%s: expected a string, found %v", what, tok)
	}
	return s, nil
}

// uints reads a JSON array of non-negative integers.
func (p *headerParser) uints(what string) ([]int64, error) {
	if err := p.delim('[', what); err != nil {
		return nil, err
	}
	var out []int64
	for p.dec.More() {
		tok, err := p.dec.Token()
		if err != nil {
			return nil, fmt.Errorf("%s: invalid JSON: %w", what, err)
		}
		num, ok := tok.(json.Number)
		if !ok {
			return nil, fmt.Errorf("%s: expected an integer, found %v", what, tok)
		}
		if strings.HasPrefix(string(num), "-") {
			return nil, fmt.Errorf("%s: negative value %s", what, num)
		}
		v, err := strconv.ParseInt(string(num), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%s: %s is not a non-negative 64-bit integer", what, num)
		}
		out = append(out, v)
	}
	if err := p.delim(']', what); err != nil {
		return nil, err
	}
	return out, nil
}

func (p *headerParser) metadata() (map[string]string, error) {
	const what = metadataKey
	if err := p.delim('{', what); err != nil {
		return nil, err
	}
	meta := map[string]string{}
	for p.dec.More() {
		k, err := p.str(what + " key")
		if err != nil {
			return nil, err
		}
		if _, dup := meta[k]; dup {
			return nil, fmt.Errorf("%s: duplicate key %q", what, k)
		}
		v, err := p.str(fmt.Sprintf("%s[%q]", what, k))
		if err != nil {
			return nil, err
		}
		meta[k] = v
	}
	return meta, p.delim('}', what)
}

func (p *headerParser) info(name string) (TensorInfo, error) {
	what := fmt.Sprintf("tensor %q", name)
	if err := p.delim('{', what); err != nil {
		return TensorInfo{}, err
	}
	var info TensorInfo
	var offsets []int64
	seen := map[string]bool{}
	for p.dec.More() {
		field, err := p.str(what + " field name")
		if err != nil {
			return TensorInfo{}, err
		}
		if seen[field] {
			return TensorInfo{}, fmt.Errorf("%s: duplicate field %q", what, field)
		}
		seen[field] = true
		switch field {
		case "dtype":
			if info.DType, err = p.str(what + " dtype"); err != nil {
				return TensorInfo{}, err
			}
		case "shape":
			dims, err := p.uints(what + " shape")
			if err != nil {
				return TensorInfo{}, err
			}
			info.Shape = make([]int, len(dims))
			for i, d := range dims {
				if int64(int(d)) != d {
					return TensorInfo{}, fmt.Errorf("%s: dimension %d does not fit in int", what, d)
				}
				info.Shape[i] = int(d)
			}
		case "data_offsets":
			if offsets, err = p.uints(what + " data_offsets"); err != nil {
				return TensorInfo{}, err
			}
		default:
			// The reference implementation ignores unknown fields; so do we, to read files
			// from future writers, but the value must still be well-formed JSON.
			var skip json.RawMessage
			if err := p.dec.Decode(&skip); err != nil {
				return TensorInfo{}, fmt.Errorf("%s field %q: invalid JSON: %w", what, field, err)
			}
		}
	}
	if err := p.delim('}', what); err != nil {
		return TensorInfo{}, err
	}
	for _, f := range []string{"dtype", "shape", "data_offsets"} {
		if !seen[f] {
			return TensorInfo{}, fmt.Errorf("%s: missing field %q", what, f)
		}
	}
	if len(offsets) != 2 {
		return TensorInfo{}, fmt.Errorf("%s: data_offsets has %d values, want 2", what, len(offsets))
	}
	info.Begin, info.End = offsets[0], offsets[1]
	return info, nil
}

// parseHeader decodes and validates the header against a data buffer of dataLen bytes.
func parseHeader(hdr []byte, dataLen int64) (map[string]TensorInfo, map[string]string, error) {
	if !utf8.Valid(hdr) {
		return nil, nil, errors.New("header is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(hdr))
	dec.UseNumber()
	p := &headerParser{dec: dec}
	if err := p.delim('{', "header"); err != nil {
		return nil, nil, err
	}
	infos := map[string]TensorInfo{}
	var meta map[string]string
	for dec.More() {
		name, err := p.str("header key")
		if err != nil {
			return nil, nil, err
		}
		if _, dup := infos[name]; dup || (name == metadataKey && meta != nil) {
			return nil, nil, fmt.Errorf("duplicate header key %q", name)
		}
		if name == metadataKey {
			if meta, err = p.metadata(); err != nil {
				return nil, nil, err
			}
			continue
		}
		info, err := p.info(name)
		if err != nil {
			return nil, nil, err
		}
		infos[name] = info
	}
	if err := p.delim('}', "header"); err != nil {
		return nil, nil, err
	}
	if tok, err := dec.Token(); err != io.EOF {
		if err != nil {
			return nil, nil, fmt.Errorf("header: invalid JSON after the object: %w", err)
		}
		return nil, nil, fmt.Errorf("header: unexpected %v after the JSON object", tok)
	}
	if meta == nil {
		meta = map[string]string{}
	}
	if err := checkLayout(infos, dataLen); err != nil {
		return nil, nil, err
	}
	return infos, meta, nil
}

// checkLayout verifies each tensor's size and that the tensors tile the data buffer
// exactly: sorted by offset, each starts where the previous ended and the last ends at
// the end of the buffer.
func checkLayout(infos map[string]TensorInfo, dataLen int64) error {
	type entry struct {
		name string
		TensorInfo
	}
	entries := make([]entry, 0, len(infos))
	for name, info := range infos {
		want, err := byteSize(info.DType, info.Shape)
		if err != nil {
			return fmt.Errorf("tensor %q: %w", name, err)
		}
		if info.End < info.Begin {
			return fmt.Errorf("tensor %q: data_offsets [%d, %d] end before they begin", name, info.Begin, info.End)
		}
		if info.End > dataLen {
			return fmt.Errorf("tensor %q: data_offsets [%d, %d] run past the %d-byte data buffer", name, info.Begin, info.End, dataLen)
		}
		if got := info.End - info.Begin; got != want {
			return fmt.Errorf("tensor %q: %s shape %v needs %d bytes but data_offsets [%d, %d] span %d",
				name, info.DType, info.Shape, want, info.Begin, info.End, got)
		}
		entries = append(entries, entry{name, info})
	}
	slices.SortFunc(entries, func(a, b entry) int {
		if a.Begin != b.Begin {
			return cmpInt64(a.Begin, b.Begin)
		}
		if a.End != b.End {
			return cmpInt64(a.End, b.End)
		}
		return strings.Compare(a.name, b.name)
	})
	var pos int64
	for _, e := range entries {
		switch {
		case e.Begin > pos:
			return fmt.Errorf("tensor %q: data_offsets [%d, %d] leave a gap after byte %d", e.name, e.Begin, e.End, pos)
		case e.Begin < pos:
			return fmt.Errorf("tensor %q: data_offsets [%d, %d] overlap the previous tensor, which ends at %d", e.name, e.Begin, e.End, pos)
		}
		pos = e.End
	}
	if pos != dataLen {
		return fmt.Errorf("tensors cover %d bytes of the %d-byte data buffer; the rest is unaccounted for", pos, dataLen)
	}
	return nil
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
