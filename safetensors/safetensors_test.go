package safetensors

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func mustF32(t testing.TB, shape []int, data []float32) Tensor {
	t.Helper()
	x, err := FromF32(shape, data)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

func encode(t testing.TB, tensors map[string]Tensor, meta map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Write(&buf, tensors, meta); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// rawFile assembles a file from a literal header (unpadded) and a data buffer.
func rawFile(header string, data []byte) []byte {
	out := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	out = append(out, header...)
	return append(out, data...)
}

// TestByteLayout pins the exact bytes against the format description, worked out by hand:
// the reference implementation would write the same file for these inputs.
func TestByteLayout(t *testing.T) {
	tensors := map[string]Tensor{
		"w":   mustF32(t, []int{2}, []float32{1, -2}),
		"ids": {DType: I64, Shape: []int{1}, Data: []byte{7, 0, 0, 0, 0, 0, 0, 0}},
		"h":   {DType: F16, Shape: []int{1, 1}, Data: []byte{0x00, 0x3c}},
		"s":   {DType: F32, Shape: []int{}, Data: []byte{0, 0, 0x80, 0x3f}},
	}
	got := encode(t, tensors, map[string]string{"format": "pt", "a\"b": "x\ny"})
	// Order: I64 (rank 20) before F32 (17: "s" < "w" by name) before F16 (13).
	hdr := `{"__metadata__":{"a\"b":"x\ny","format":"pt"},` +
		`"ids":{"dtype":"I64","shape":[1],"data_offsets":[0,8]},` +
		`"s":{"dtype":"F32","shape":[],"data_offsets":[8,12]},` +
		`"w":{"dtype":"F32","shape":[2],"data_offsets":[12,20]},` +
		`"h":{"dtype":"F16","shape":[1,1],"data_offsets":[20,22]}}`
	for len(hdr)%8 != 0 {
		hdr += " "
	}
	want := rawFile(hdr, []byte{
		7, 0, 0, 0, 0, 0, 0, 0, // ids
		0, 0, 0x80, 0x3f, // s = 1.0
		0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0, // w = [1, -2]
		0x00, 0x3c, // h = 1.0 in binary16
	})
	if !bytes.Equal(got, want) {
		t.Fatalf("layout differs\n got %q\nwant %q", got, want)
	}
}

func TestRoundTrip(t *testing.T) {
	tensors := map[string]Tensor{
		"a.weight": mustF32(t, []int{2, 3}, []float32{1, 2, 3, 4, 5, -6.5}),
		"empty":    mustF32(t, []int{0, 4}, nil),
		"b":        {DType: BF16, Shape: []int{2}, Data: []byte{0x80, 0x3f, 0x00, 0xc0}},
		"i":        {DType: I32, Shape: []int{3}, Data: []byte{1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 3, 0, 0, 0}},
		"u":        {DType: U8, Shape: []int{3}, Data: []byte{0, 128, 255}},
	}
	meta := map[string]string{"k": "v", "ünï": "côdé"}
	data := encode(t, tensors, meta)
	f, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(f.Metadata, meta) {
		t.Fatalf("metadata %v, want %v", f.Metadata, meta)
	}
	if got, want := f.Names(), []string{"a.weight", "b", "empty", "i", "u"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("names %v, want %v", got, want)
	}
	for name, want := range tensors {
		got, err := f.Tensor(name)
		if err != nil {
			t.Fatal(err)
		}
		if got.DType != want.DType || !reflect.DeepEqual(got.Shape, want.Shape) || !bytes.Equal(got.Data, want.Data) {
			t.Fatalf("%s: got %+v, want %+v", name, got, want)
		}
	}
	// Re-encoding what was read must give the same bytes: the writer is canonical.
	all, err := f.Tensors()
	if err != nil {
		t.Fatal(err)
	}
	if again := encode(t, all, f.Metadata); !bytes.Equal(again, data) {
		t.Fatal("re-encoding a parsed file changed its bytes")
	}
	if _, err := f.Tensor("missing"); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("missing tensor: err = %v", err)
	}
}

func TestConversions(t *testing.T) {
	le := binary.LittleEndian
	u16 := func(vs ...uint16) []byte {
		var b []byte
		for _, v := range vs {
			b = le.AppendUint16(b, v)
		}
		return b
	}
	inf := float32(math.Inf(1))
	cases := []struct {
		name string
		t    Tensor
		want []float32
	}{
		// binary16: 1, -2, max finite, smallest subnormal 2^-24, largest subnormal, +inf, -0.
		{"F16", Tensor{F16, []int{7}, u16(0x3c00, 0xc000, 0x7bff, 0x0001, 0x03ff, 0x7c00, 0x8000)},
			[]float32{1, -2, 65504, float32(math.Ldexp(1, -24)), float32(1023 * math.Ldexp(1, -24)), inf, float32(math.Copysign(0, -1))}},
		{"BF16", Tensor{BF16, []int{3}, u16(0x3f80, 0xc040, 0x7f80)}, []float32{1, -3, inf}},
		{"F64", Tensor{F64, []int{2}, le.AppendUint64(le.AppendUint64(nil, math.Float64bits(0.1)), math.Float64bits(-1e300))},
			[]float32{0.1, float32(math.Inf(-1))}},
		{"I64", Tensor{I64, []int{2}, le.AppendUint64(le.AppendUint64(nil, 5), uint64(1<<64-3))}, []float32{5, -3}},
		{"I32", Tensor{I32, []int{2}, le.AppendUint32(le.AppendUint32(nil, 9), uint32(1<<32-1))}, []float32{9, -1}},
		{"I16", Tensor{I16, []int{1}, u16(0xfffe)}, []float32{-2}},
		{"U16", Tensor{U16, []int{1}, u16(0xfffe)}, []float32{65534}},
		{"I8", Tensor{I8, []int{2}, []byte{0xff, 3}}, []float32{-1, 3}},
		{"BOOL", Tensor{BOOL, []int{2}, []byte{1, 0}}, []float32{1, 0}},
	}
	for _, c := range cases {
		got, err := c.t.F32()
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		for i := range got {
			if math.Float32bits(got[i]) != math.Float32bits(c.want[i]) {
				t.Fatalf("%s[%d] = %v, want %v", c.name, i, got[i], c.want[i])
			}
		}
	}
	if v, _ := (Tensor{F16, []int{1}, u16(0x7e00)}).F32(); !math.IsNaN(float64(v[0])) {
		t.Fatalf("F16 NaN converted to %v", v[0])
	}
	ids, err := Tensor{I64, []int{2}, le.AppendUint64(le.AppendUint64(nil, 255), uint64(1<<64-1))}.Int64()
	if err != nil || !reflect.DeepEqual(ids, []int64{255, -1}) {
		t.Fatalf("Int64 = %v, %v", ids, err)
	}
	it, err := FromInt64([]int{3}, []int64{-1, 0, math.MaxInt64})
	if err != nil {
		t.Fatal(err)
	}
	if back, err := it.Int64(); err != nil || !reflect.DeepEqual(back, []int64{-1, 0, math.MaxInt64}) {
		t.Fatalf("FromInt64 round trip = %v, %v", back, err)
	}
	if _, err := FromInt64([]int{2}, []int64{1}); err == nil {
		t.Fatal("FromInt64 with a mismatched shape succeeded")
	}
	if _, err := (Tensor{U64, []int{1}, le.AppendUint64(nil, math.MaxUint64)}).Int64(); err == nil {
		t.Fatal("Int64 of a U64 above MaxInt64 succeeded")
	}
	if _, err := (Tensor{F32, []int{1}, make([]byte, 4)}).Int64(); err == nil {
		t.Fatal("Int64 of an F32 tensor succeeded")
	}
	if _, err := (Tensor{F8E4M3, []int{1}, make([]byte, 1)}).F32(); err == nil {
		t.Fatal("F32 of an FP8 tensor succeeded")
	}
	if _, err := (Tensor{F32, []int{2}, make([]byte, 4)}).F32(); err == nil {
		t.Fatal("F32 of a short tensor succeeded")
	}
	if _, err := FromF32([]int{2, 2}, []float32{1}); err == nil {
		t.Fatal("FromF32 with a mismatched shape succeeded")
	}
}

// TestF16AllValues checks every binary16 bit pattern against the definition
// value = (-1)^s · 2^(e-15) · (1 + m/1024), or 2^-14 · m/1024 for e = 0.
func TestF16AllValues(t *testing.T) {
	for h := 0; h < 1<<16; h++ {
		got := float16ToFloat32(uint16(h))
		s, e, m := h>>15, (h>>10)&0x1f, h&0x3ff
		var want float64
		switch {
		case e == 0x1f && m == 0:
			want = math.Inf(1)
		case e == 0x1f:
			if !math.IsNaN(float64(got)) {
				t.Fatalf("%#04x: got %v, want NaN", h, got)
			}
			continue
		case e == 0:
			want = math.Ldexp(float64(m)/1024, -14)
		default:
			want = math.Ldexp(1+float64(m)/1024, e-15)
		}
		if s == 1 {
			want = -want
		}
		if got != float32(want) || math.Signbit(float64(got)) != (s == 1) {
			t.Fatalf("%#04x: got %v, want %v", h, got, want)
		}
	}
}

func TestReject(t *testing.T) {
	f32x2 := `"dtype":"F32","shape":[2]`
	cases := []struct {
		name string
		file []byte
		want string // a fragment the error must contain
	}{
		{"too short", []byte{1, 2, 3}, "shorter than"},
		{"header past end", append(binary.LittleEndian.AppendUint64(nil, 64), "{}"...), "larger than"},
		{"header over limit", binary.LittleEndian.AppendUint64(nil, MaxHeaderSize+1), "exceeds the limit"},
		{"huge header length", binary.LittleEndian.AppendUint64(nil, math.MaxUint64), "exceeds the limit"},
		{"invalid JSON", rawFile(`{"a":`, nil), "invalid JSON"},
		{"not an object", rawFile(`[1]`, nil), "expected"},
		{"trailing garbage", rawFile(`{} x`, nil), "after the"},
		{"invalid UTF-8", rawFile("{\"\xff\":1}", nil), "UTF-8"},
		{"unknown dtype", rawFile(`{"t":{"dtype":"F99","shape":[1],"data_offsets":[0,4]}}`, make([]byte, 4)), `"t": unknown or unsupported dtype "F99"`},
		{"sub-byte dtype", rawFile(`{"t":{"dtype":"F4","shape":[2],"data_offsets":[0,1]}}`, make([]byte, 1)), `"t": unknown`},
		{"size mismatch", rawFile(`{"t":{`+f32x2+`,"data_offsets":[0,4]}}`, make([]byte, 4)), `"t": F32 shape [2] needs 8 bytes`},
		{"offsets past buffer", rawFile(`{"t":{`+f32x2+`,"data_offsets":[0,8]}}`, make([]byte, 4)), `"t": data_offsets [0, 8] run past`},
		{"offsets reversed", rawFile(`{"t":{`+f32x2+`,"data_offsets":[8,0]}}`, make([]byte, 8)), `"t": data_offsets [8, 0] end before`},
		{"overlap", rawFile(`{"a":{`+f32x2+`,"data_offsets":[0,8]},"b":{`+f32x2+`,"data_offsets":[4,12]}}`, make([]byte, 12)), `"b": data_offsets [4, 12] overlap`},
		{"gap", rawFile(`{"a":{`+f32x2+`,"data_offsets":[0,8]},"b":{`+f32x2+`,"data_offsets":[12,20]}}`, make([]byte, 20)), `"b": data_offsets [12, 20] leave a gap`},
		{"leading gap", rawFile(`{"a":{`+f32x2+`,"data_offsets":[4,12]}}`, make([]byte, 12)), `"a": data_offsets [4, 12] leave a gap after byte 0`},
		{"uncovered tail", rawFile(`{"a":{`+f32x2+`,"data_offsets":[0,8]}}`, make([]byte, 12)), "cover 8 bytes of the 12-byte"},
		{"negative dim", rawFile(`{"t":{"dtype":"F32","shape":[-1],"data_offsets":[0,0]}}`, nil), `"t" shape: negative value -1`},
		{"fractional dim", rawFile(`{"t":{"dtype":"F32","shape":[1.5],"data_offsets":[0,6]}}`, make([]byte, 6)), `"t" shape: 1.5 is not`},
		{"dim overflow", rawFile(`{"t":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,0]}}`, nil), `"t": shape has more elements`},
		{"byte size overflow", rawFile(`{"t":{"dtype":"F64","shape":[2305843009213693952],"data_offsets":[0,0]}}`, nil), `"t": byte size overflows`},
		{"dim too big", rawFile(`{"t":{"dtype":"F32","shape":[99999999999999999999],"data_offsets":[0,0]}}`, nil), `"t" shape: 99999999999999999999 is not`},
		{"duplicate tensor", rawFile(`{"a":{`+f32x2+`,"data_offsets":[0,8]},"a":{`+f32x2+`,"data_offsets":[0,8]}}`, make([]byte, 8)), `duplicate header key "a"`},
		{"duplicate metadata", rawFile(`{"__metadata__":{},"__metadata__":{}}`, nil), `duplicate header key "__metadata__"`},
		{"duplicate metadata key", rawFile(`{"__metadata__":{"k":"1","k":"2"}}`, nil), `duplicate key "k"`},
		{"duplicate field", rawFile(`{"t":{"dtype":"F32","dtype":"F32","shape":[0],"data_offsets":[0,0]}}`, nil), `"t": duplicate field "dtype"`},
		{"missing field", rawFile(`{"t":{"dtype":"F32","shape":[0]}}`, nil), `"t": missing field "data_offsets"`},
		{"three offsets", rawFile(`{"t":{"dtype":"F32","shape":[0],"data_offsets":[0,0,0]}}`, nil), `"t": data_offsets has 3 values`},
		{"non-string metadata", rawFile(`{"__metadata__":{"k":1}}`, nil), `expected a string`},
		{"dtype not a string", rawFile(`{"t":{"dtype":4,"shape":[0],"data_offsets":[0,0]}}`, nil), `"t" dtype: expected a string`},
		{"shape not an array", rawFile(`{"t":{"dtype":"F32","shape":3,"data_offsets":[0,0]}}`, nil), `"t" shape: expected "["`},
		{"tensor not an object", rawFile(`{"t":[]}`, nil), `tensor "t": expected "{"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, err := Parse(c.file)
			if err == nil {
				t.Fatalf("accepted: %v", f.Names())
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q does not mention %q", err, c.want)
			}
		})
	}
}

func TestAcceptEdgeCases(t *testing.T) {
	for _, file := range [][]byte{
		rawFile(`{}`, nil),
		rawFile(`{}      `, nil),
		// Unknown fields are ignored, as by the reference implementation.
		rawFile(`{"t":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"extra":{"x":[1,2]}}}`, make([]byte, 4)),
		// Zero-sized tensors may share an offset with their neighbours.
		rawFile(`{"z":{"dtype":"F32","shape":[0],"data_offsets":[4,4]},"t":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"y":{"dtype":"I8","shape":[3,0],"data_offsets":[4,4]}}`, make([]byte, 4)),
	} {
		if _, err := Parse(file); err != nil {
			t.Errorf("%q: %v", file, err)
		}
	}
}

func TestWriteRejects(t *testing.T) {
	cases := map[string]map[string]Tensor{
		"short data":    {"t": {DType: F32, Shape: []int{3}, Data: make([]byte, 8)}},
		"unknown dtype": {"t": {DType: "Q4", Shape: []int{1}, Data: make([]byte, 1)}},
		"negative dim":  {"t": {DType: F32, Shape: []int{-1}, Data: nil}},
		"reserved name": {metadataKey: {DType: F32, Shape: []int{0}}},
	}
	for name, tensors := range cases {
		if err := Write(&bytes.Buffer{}, tensors, nil); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "model.safetensors")
	tensors := map[string]Tensor{"x": mustF32(t, []int{2, 2}, []float32{1, 2, 3, 4})}
	for i := 0; i < 2; i++ { // the second write replaces the first
		if err := WriteFileAtomic(path, tensors, map[string]string{"step": "1"}); err != nil {
			t.Fatal(err)
		}
	}
	bad := map[string]Tensor{"x": {DType: F32, Shape: []int{2}, Data: nil}}
	if err := WriteFileAtomic(path, bad, nil); err == nil {
		t.Fatal("WriteFileAtomic accepted an invalid tensor")
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Fatalf("directory holds %d entries, want only the file (no temporaries)", len(entries))
	}
	for _, open := range []func(string) (*File, error){ReadFile, OpenFile} {
		f, err := open(path)
		if err != nil {
			t.Fatal(err)
		}
		v, shape, err := f.F32("x")
		if err != nil || !reflect.DeepEqual(v, []float32{1, 2, 3, 4}) || !reflect.DeepEqual(shape, []int{2, 2}) {
			t.Fatalf("F32 = %v %v %v", v, shape, err)
		}
		if f.Metadata["step"] != "1" {
			t.Fatalf("metadata %v", f.Metadata)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(path, []byte("not a safetensors file"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenFile(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("OpenFile of garbage: %v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add(encode(f, map[string]Tensor{
		"a": mustF32(f, []int{2, 1}, []float32{1, 2}),
		"b": {DType: F16, Shape: []int{1}, Data: []byte{0, 0x3c}},
	}, map[string]string{"m": "v"}))
	f.Add(rawFile(`{"t":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, make([]byte, 4)))
	f.Add(rawFile(`{"a":{"dtype":"I64","shape":[1],"data_offsets":[0,8]},"b":{"dtype":"U8","shape":[0],"data_offsets":[8,8]}}`, make([]byte, 8)))
	f.Add(rawFile(`{"t":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}`, make([]byte, 4)))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse(data)
		if err != nil {
			return
		}
		tensors, err := file.Tensors()
		if err != nil {
			t.Fatalf("parsed file cannot return its tensors: %v", err)
		}
		for name, x := range tensors {
			if err := x.Validate(); err != nil {
				t.Fatalf("tensor %q of an accepted file is invalid: %v", name, err)
			}
			x.F32() // may refuse the dtype, must not panic
			x.Int64()
		}
		// Whatever was accepted must survive a write/read cycle unchanged, and the
		// writer's output is a fixed point.
		out := encode(t, tensors, file.Metadata)
		again, err := Parse(out)
		if err != nil {
			t.Fatalf("re-parsing written file: %v", err)
		}
		tensors2, err := again.Tensors()
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(again.Metadata, file.Metadata) || len(tensors2) != len(tensors) {
			t.Fatal("round trip changed metadata or tensor count")
		}
		for name, x := range tensors {
			y := tensors2[name]
			if x.DType != y.DType || !reflect.DeepEqual(x.Shape, y.Shape) || !bytes.Equal(x.Data, y.Data) {
				t.Fatalf("round trip changed tensor %q", name)
			}
		}
		if !bytes.Equal(encode(t, tensors2, again.Metadata), out) {
			t.Fatal("writer output is not canonical")
		}
	})
}

// TestTruncatedSource: a reader whose data ends before the size it claims must give an
// error when the missing bytes are requested, not a panic or a short tensor.
func TestTruncatedSource(t *testing.T) {
	full := encode(t, map[string]Tensor{"x": mustF32(t, []int{4}, []float32{1, 2, 3, 4})}, nil)
	f, err := Read(bytes.NewReader(full[:len(full)-4]), int64(len(full)))
	if err != nil {
		t.Fatal(err) // the header itself is intact
	}
	if _, err := f.Tensor("x"); err == nil || !strings.Contains(err.Error(), `"x"`) {
		t.Fatalf("reading a truncated tensor: err = %v", err)
	}
	if _, err := Read(bytes.NewReader(full[:12]), int64(len(full))); err == nil {
		t.Fatal("Read accepted a source that ends inside the header")
	}
}

func BenchmarkF32(b *testing.B) {
	const n = 1 << 20
	x := mustF32(b, []int{n}, make([]float32, n))
	b.SetBytes(4 * n)
	for b.Loop() {
		if _, err := x.F32(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseAndRead(b *testing.B) {
	tensors := map[string]Tensor{}
	for i := range 64 {
		tensors[strings.Repeat("w", i+1)] = mustF32(b, []int{128, 128}, make([]float32, 128*128))
	}
	data := encode(b, tensors, nil)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		f, err := Parse(data)
		if err != nil {
			b.Fatal(err)
		}
		for _, name := range f.Names() {
			if _, _, err := f.F32(name); err != nil {
				b.Fatal(err)
			}
		}
	}
}
