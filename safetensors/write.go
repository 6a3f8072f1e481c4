package safetensors

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Write encodes tensors and metadata (nil or empty for none) as a safetensors file.
//
// The output is deterministic and matches the reference implementation byte for byte:
// tensors are laid out by descending dtype rank (so wider elements come first and every
// tensor is aligned to its element size), then by name; the header is compact JSON with
// "__metadata__" first (keys sorted, as the reference's hash map has no order), padded
// with spaces to a multiple of 8 bytes.
func Write(w io.Writer, tensors map[string]Tensor, metadata map[string]string) error {
	names, hdr, err := encodeHeader(tensors, metadata)
	if err != nil {
		return err
	}
	var lenBuf [8]byte
	binary.LittleEndian.PutUint64(lenBuf[:], uint64(len(hdr)))
	if _, err := w.Write(lenBuf[:]); err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	if _, err := w.Write(hdr); err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	for _, name := range names {
		if _, err := w.Write(tensors[name].Data); err != nil {
			return fmt.Errorf("safetensors: writing tensor %q: %w", name, err)
		}
	}
	return nil
}

// encodeHeader validates the tensors and returns their names in data order together with
// the padded header bytes.
func encodeHeader(tensors map[string]Tensor, metadata map[string]string) ([]string, []byte, error) {
	names := make([]string, 0, len(tensors))
	for name, t := range tensors {
		if name == metadataKey {
			return nil, nil, fmt.Errorf("safetensors: %q is reserved and cannot name a tensor", metadataKey)
		}
		if !utf8.ValidString(name) {
			return nil, nil, fmt.Errorf("safetensors: tensor name %q is not valid UTF-8", name)
		}
		if err := t.Validate(); err != nil {
			return nil, nil, fmt.Errorf("safetensors: tensor %q: %w", name, err)
		}
		names = append(names, name)
	}
	slices.SortFunc(names, func(a, b string) int {
		_, ra := dtypeInfo(tensors[a].DType)
		_, rb := dtypeInfo(tensors[b].DType)
		if ra != rb {
			return rb - ra
		}
		return strings.Compare(a, b)
	})

	var sb strings.Builder
	sb.WriteByte('{')
	if len(metadata) > 0 {
		keys := make([]string, 0, len(metadata))
		for k, v := range metadata {
			if !utf8.ValidString(k) || !utf8.ValidString(v) {
				return nil, nil, fmt.Errorf("safetensors: metadata entry %q is not valid UTF-8", k)
			}
			keys = append(keys, k)
		}
		slices.Sort(keys)
		writeJSONString(&sb, metadataKey)
		sb.WriteString(":{")
		for i, k := range keys {
			if i > 0 {
				sb.WriteByte(',')
			}
			writeJSONString(&sb, k)
			sb.WriteByte(':')
			writeJSONString(&sb, metadata[k])
		}
		sb.WriteByte('}')
		if len(names) > 0 {
			sb.WriteByte(',')
		}
	}
	var offset int64
	for i, name := range names {
		t := tensors[name]
		if i > 0 {
			sb.WriteByte(',')
		}
		writeJSONString(&sb, name)
		sb.WriteString(`:{"dtype":`)
		writeJSONString(&sb, t.DType)
		sb.WriteString(`,"shape":[`)
		for j, d := range t.Shape {
			if j > 0 {
				sb.WriteByte(',')
			}
			sb.WriteString(strconv.Itoa(d))
		}
		end := offset + int64(len(t.Data))
		fmt.Fprintf(&sb, `],"data_offsets":[%d,%d]}`, offset, end)
		offset = end
	}
	sb.WriteByte('}')
	for sb.Len()%8 != 0 {
		sb.WriteByte(' ')
	}
	if sb.Len() > MaxHeaderSize {
		return nil, nil, fmt.Errorf("safetensors: header of %d bytes exceeds the limit of %d", sb.Len(), MaxHeaderSize)
	}
	return names, []byte(sb.String()), nil
}

// writeJSONString quotes s the way serde_json does: only '"', '\\' and control characters
// are escaped (short forms where JSON has them, else \u00xx in lower-case hex).
func writeJSONString(sb *strings.Builder, s string) {
	const hex = "0123456789abcdef"
	sb.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '"':
			sb.WriteString(`\"`)
		case '\\':
			sb.WriteString(`\\`)
		case '\b':
			sb.WriteString(`\b`)
		case '\f':
			sb.WriteString(`\f`)
		case '\n':
			sb.WriteString(`\n`)
		case '\r':
			sb.WriteString(`\r`)
		case '\t':
			sb.WriteString(`\t`)
		default:
			if c < 0x20 {
				sb.WriteString(`\u00`)
				sb.WriteByte(hex[c>>4])
				sb.WriteByte(hex[c&0xf])
			} else {
				sb.WriteByte(c)
			}
		}
	}
	sb.WriteByte('"')
}

// WriteFileAtomic writes a safetensors file so that path holds either its old content or
// the complete new file, even across a crash: the data goes to a temporary file in the
// same directory, which is synced, renamed over path, and the directory is synced so the
// rename itself is durable.
func WriteFileAtomic(path string, tensors map[string]Tensor, metadata map[string]string) (err error) {
	// Validate before touching the file system so bad input leaves nothing behind.
	if _, _, err := encodeHeader(tensors, metadata); err != nil {
		return err
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	bw := bufio.NewWriterSize(tmp, 1<<20)
	if err = Write(bw, tensors, metadata); err != nil {
		return err
	}
	if err = bw.Flush(); err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	// CreateTemp makes the file 0600; a checkpoint should be readable like any other file.
	if err = tmp.Chmod(0o644); err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	if err := syncDir(dir); err != nil {
		// The file is complete and in place; only the durability of the rename is in doubt.
		return fmt.Errorf("safetensors: wrote %s but syncing its directory failed: %w", path, err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	syncErr := d.Sync()
	closeErr := d.Close()
	return errors.Join(syncErr, closeErr)
}
