package torchfile

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
)

// Limits of the unpickler. A state dict of the largest H3 model pickles to well under a
// megabyte with a few thousand memo entries and nesting depth 4; these bounds leave room
// for wrappers (training checkpoints) while keeping a hostile file's cost linear in its
// size and far from exhausting memory or the Go stack.
const (
	// MaxPickleBytes bounds the pickle stream (data.pkl) read into memory.
	MaxPickleBytes = 64 << 20
	// MaxDepth bounds the nesting of containers.
	MaxDepth = 100
	// MaxMemo bounds the number of memo entries.
	MaxMemo = 1 << 20
	// MaxStack bounds the number of values on the stack, marks included.
	MaxStack = 1 << 20
	// maxDims bounds a tensor's rank; torch itself stops at 64.
	maxDims = 64
)

// Values produced by the unpickler: nil (None), bool, int64, *BigInt (integers wider than
// 64 bits, kept as raw bytes), float64, string, []byte, *Tuple, *List, *Dict, *Tensor and
// *Storage. Globals exist only transiently, as the callable of a REDUCE or the type of a
// storage.

// Tuple is a pickled tuple.
type Tuple struct {
	Items []any
	depth int
}

// List is a pickled list.
type List struct {
	Items []any
	depth int
}

// Dict is a pickled dict or collections.OrderedDict, in insertion order. Keys need not be
// hashable in Go; Get compares strings.
type Dict struct {
	Keys, Values []any
	depth        int
	// index locates string keys, so that a dict of n entries costs O(n) to build
	// (a linear search per item made a 1 MB pickle take minutes).
	index map[string]int
}

// Get returns the value stored under the string key k.
func (d *Dict) Get(k string) (any, bool) {
	if i, ok := d.index[k]; ok {
		return d.Values[i], true
	}
	return nil, false
}

// BigInt is an integer that does not fit in int64, as little-endian two's complement.
type BigInt struct{ Bytes []byte }

// global is a reference to module.name that passed the allowlist.
type global struct{ module, name string }

func (g global) String() string { return g.module + "." + g.name }

// allowed lists every global a state dict needs. Anything else is refused when it is
// named, before it could be used.
var allowed = map[string]bool{
	"collections.OrderedDict":         true,
	"torch._utils._rebuild_tensor_v2": true,
	"torch._utils._rebuild_parameter": true,
	"torch.FloatStorage":              true,
	"torch.HalfStorage":               true,
	"torch.BFloat16Storage":           true,
	"torch.DoubleStorage":             true,
}

// storageDTypes maps the allowed storage classes to safetensors dtype names.
var storageDTypes = map[string]string{
	"torch.FloatStorage":    "F32",
	"torch.HalfStorage":     "F16",
	"torch.BFloat16Storage": "BF16",
	"torch.DoubleStorage":   "F64",
}

// opNames names the pickle opcodes for error messages.
var opNames = map[byte]string{
	'(': "MARK", '.': "STOP", '0': "POP", '1': "POP_MARK", '2': "DUP", 'F': "FLOAT", 'I': "INT",
	'J': "BININT", 'K': "BININT1", 'L': "LONG", 'M': "BININT2", 'N': "NONE", 'P': "PERSID",
	'Q': "BINPERSID", 'R': "REDUCE", 'S': "STRING", 'T': "BINSTRING", 'U': "SHORT_BINSTRING",
	'V': "UNICODE", 'X': "BINUNICODE", 'a': "APPEND", 'b': "BUILD", 'c': "GLOBAL", 'd': "DICT",
	'}': "EMPTY_DICT", 'e': "APPENDS", 'g': "GET", 'h': "BINGET", 'i': "INST", 'j': "LONG_BINGET",
	'l': "LIST", ']': "EMPTY_LIST", 'o': "OBJ", 'p': "PUT", 'q': "BINPUT", 'r': "LONG_BINPUT",
	's': "SETITEM", 't': "TUPLE", ')': "EMPTY_TUPLE", 'u': "SETITEMS", 'G': "BINFLOAT",
	0x80: "PROTO", 0x81: "NEWOBJ", 0x82: "EXT1", 0x83: "EXT2", 0x84: "EXT4", 0x85: "TUPLE1",
	0x86: "TUPLE2", 0x87: "TUPLE3", 0x88: "NEWTRUE", 0x89: "NEWFALSE", 0x8a: "LONG1", 0x8b: "LONG4",
	'B': "BINBYTES", 'C': "SHORT_BINBYTES", 0x8c: "SHORT_BINUNICODE", 0x8d: "BINUNICODE8",
	0x8e: "BINBYTES8", 0x8f: "EMPTY_SET", 0x90: "ADDITEMS", 0x91: "FROZENSET", 0x92: "NEWOBJ_EX",
	0x93: "STACK_GLOBAL", 0x94: "MEMOIZE", 0x95: "FRAME", 0x96: "BYTEARRAY8", 0x97: "NEXT_BUFFER",
	0x98: "READONLY_BUFFER",
}

func opName(op byte) string {
	if n, ok := opNames[op]; ok {
		return n
	}
	return fmt.Sprintf("0x%02x", op)
}

// persistentLoader resolves the argument of BINPERSID (torch's storage references).
type persistentLoader func(pid *Tuple) (any, error)

// unpickler interprets the subset of the pickle machine a state dict uses. It builds
// plain values only: the one "call" it makes is to its own tensor constructor.
type unpickler struct {
	data    []byte
	pos     int
	stack   []any
	marks   []int
	memo    map[uint32]any
	persist persistentLoader
}

// unpickle reads one pickle from data and returns its value and the number of bytes used.
func unpickle(data []byte, persist persistentLoader) (any, int, error) {
	u := &unpickler{data: data, memo: map[uint32]any{}, persist: persist}
	v, err := u.run()
	if err != nil {
		return nil, u.pos, fmt.Errorf("pickle: %w", err)
	}
	return v, u.pos, nil
}

func (u *unpickler) need(n int) ([]byte, error) {
	if n < 0 || n > len(u.data)-u.pos {
		return nil, fmt.Errorf("truncated at byte %d (needs %d more bytes)", u.pos, n)
	}
	b := u.data[u.pos : u.pos+n]
	u.pos += n
	return b, nil
}

func (u *unpickler) length(n int) (int, error) {
	b, err := u.need(n)
	if err != nil {
		return 0, err
	}
	var l uint64
	switch n {
	case 1:
		l = uint64(b[0])
	case 4:
		l = uint64(binary.LittleEndian.Uint32(b))
	case 8:
		l = binary.LittleEndian.Uint64(b)
	}
	if l > uint64(len(u.data)-u.pos) {
		return 0, fmt.Errorf("length %d at byte %d runs past the end of the pickle", l, u.pos-n)
	}
	return int(l), nil
}

func (u *unpickler) push(v any) error {
	if len(u.stack)+len(u.marks) >= MaxStack {
		return fmt.Errorf("stack deeper than %d values", MaxStack)
	}
	u.stack = append(u.stack, v)
	return nil
}

func (u *unpickler) pop() (any, error) {
	if len(u.stack) == 0 || (len(u.marks) > 0 && len(u.stack) == u.marks[len(u.marks)-1]) {
		return nil, fmt.Errorf("stack underflow at byte %d", u.pos)
	}
	v := u.stack[len(u.stack)-1]
	u.stack = u.stack[:len(u.stack)-1]
	return v, nil
}

func (u *unpickler) top() (any, error) {
	if len(u.stack) == 0 || (len(u.marks) > 0 && len(u.stack) == u.marks[len(u.marks)-1]) {
		return nil, fmt.Errorf("stack underflow at byte %d", u.pos)
	}
	return u.stack[len(u.stack)-1], nil
}

// popMark returns the values pushed since the last MARK.
func (u *unpickler) popMark() ([]any, error) {
	if len(u.marks) == 0 {
		return nil, fmt.Errorf("no MARK before byte %d", u.pos)
	}
	m := u.marks[len(u.marks)-1]
	u.marks = u.marks[:len(u.marks)-1]
	items := append([]any(nil), u.stack[m:]...)
	u.stack = u.stack[:m]
	return items, nil
}

func depthOf(v any) int {
	switch c := v.(type) {
	case *Tuple:
		return c.depth
	case *List:
		return c.depth
	case *Dict:
		return c.depth
	case *Tensor:
		return 1
	}
	return 0
}

// containerDepth is one more than the deepest of items, or an error past MaxDepth.
func containerDepth(items []any) (int, error) {
	d := 0
	for _, it := range items {
		d = max(d, depthOf(it))
	}
	if d+1 > MaxDepth {
		return 0, fmt.Errorf("containers nested deeper than %d", MaxDepth)
	}
	return d + 1, nil
}

func (u *unpickler) memoize(idx uint32) error {
	v, err := u.top()
	if err != nil {
		return err
	}
	if _, ok := u.memo[idx]; !ok && len(u.memo) >= MaxMemo {
		return fmt.Errorf("more than %d memo entries", MaxMemo)
	}
	u.memo[idx] = v
	return nil
}

func (u *unpickler) get(idx uint32) error {
	v, ok := u.memo[idx]
	if !ok {
		return fmt.Errorf("memo entry %d read before it was written", idx)
	}
	return u.push(v)
}

func (u *unpickler) run() (any, error) {
	for {
		if u.pos >= len(u.data) {
			return nil, fmt.Errorf("no STOP before the end of the pickle")
		}
		at := u.pos
		op := u.data[u.pos]
		u.pos++
		var err error
		switch op {
		case 0x80: // PROTO
			var b []byte
			if b, err = u.need(1); err == nil && b[0] > 5 {
				err = fmt.Errorf("unsupported protocol %d", b[0])
			}
		case 0x95: // FRAME: a length hint only
			_, err = u.need(8)
		case '.':
			v, err := u.pop()
			if err != nil {
				return nil, err
			}
			return v, nil
		case '(':
			if len(u.stack)+len(u.marks) >= MaxStack {
				return nil, fmt.Errorf("stack deeper than %d values", MaxStack)
			}
			u.marks = append(u.marks, len(u.stack))
		case '0':
			if len(u.marks) > 0 && len(u.stack) == u.marks[len(u.marks)-1] {
				u.marks = u.marks[:len(u.marks)-1] // POP of a MARK, as CPython allows
			} else {
				_, err = u.pop()
			}
		case '1':
			_, err = u.popMark()
		case '2':
			var v any
			if v, err = u.top(); err == nil {
				err = u.push(v)
			}
		case 'N':
			err = u.push(nil)
		case 0x88:
			err = u.push(true)
		case 0x89:
			err = u.push(false)
		case 'J':
			var b []byte
			if b, err = u.need(4); err == nil {
				err = u.push(int64(int32(binary.LittleEndian.Uint32(b))))
			}
		case 'K':
			var b []byte
			if b, err = u.need(1); err == nil {
				err = u.push(int64(b[0]))
			}
		case 'M':
			var b []byte
			if b, err = u.need(2); err == nil {
				err = u.push(int64(binary.LittleEndian.Uint16(b)))
			}
		case 0x8a, 0x8b: // LONG1, LONG4
			n := 1
			if op == 0x8b {
				n = 4
			}
			var l int
			if l, err = u.length(n); err == nil {
				var b []byte
				b, _ = u.need(l)
				err = u.push(decodeLong(b))
			}
		case 'G':
			var b []byte
			if b, err = u.need(8); err == nil {
				err = u.push(math.Float64frombits(binary.BigEndian.Uint64(b)))
			}
		case 'X', 0x8c, 0x8d, 'T', 'U': // BINUNICODE, SHORT_BINUNICODE, BINUNICODE8, BINSTRING, SHORT_BINSTRING
			n := map[byte]int{'X': 4, 0x8c: 1, 0x8d: 8, 'T': 4, 'U': 1}[op]
			var l int
			if l, err = u.length(n); err == nil {
				b, _ := u.need(l)
				err = u.push(string(b))
			}
		case 'B', 'C', 0x8e, 0x96: // BINBYTES, SHORT_BINBYTES, BINBYTES8, BYTEARRAY8
			n := map[byte]int{'B': 4, 'C': 1, 0x8e: 8, 0x96: 8}[op]
			var l int
			if l, err = u.length(n); err == nil {
				b, _ := u.need(l)
				err = u.push(append([]byte(nil), b...))
			}
		case ')':
			err = u.push(&Tuple{depth: 1})
		case ']':
			err = u.push(&List{depth: 1})
		case '}':
			err = u.push(&Dict{depth: 1})
		case 't', 0x85, 0x86, 0x87, 'l':
			var items []any
			switch op {
			case 't', 'l':
				items, err = u.popMark()
			default:
				n := int(op - 0x84)
				for i := 0; i < n && err == nil; i++ {
					var v any
					v, err = u.pop()
					items = append([]any{v}, items...)
				}
			}
			if err != nil {
				break
			}
			var d int
			if d, err = containerDepth(items); err != nil {
				break
			}
			if op == 'l' {
				err = u.push(&List{Items: items, depth: d})
			} else {
				err = u.push(&Tuple{Items: items, depth: d})
			}
		case 'd':
			var items []any
			if items, err = u.popMark(); err != nil {
				break
			}
			d := &Dict{depth: 1}
			if err = d.setItems(items); err == nil {
				err = u.push(d)
			}
		case 'a', 'e':
			var items []any
			if op == 'a' {
				var v any
				if v, err = u.pop(); err != nil {
					break
				}
				items = []any{v}
			} else if items, err = u.popMark(); err != nil {
				break
			}
			var v any
			if v, err = u.top(); err != nil {
				break
			}
			l, ok := v.(*List)
			if !ok {
				err = fmt.Errorf("%s on a %s", opName(op), typeName(v))
				break
			}
			var d int
			if d, err = containerDepth(items); err == nil {
				l.depth = max(l.depth, d)
				l.Items = append(l.Items, items...)
			}
		case 's', 'u':
			var items []any
			if op == 's' {
				var k, v any
				if v, err = u.pop(); err == nil {
					k, err = u.pop()
				}
				items = []any{k, v}
			} else {
				items, err = u.popMark()
			}
			if err != nil {
				break
			}
			var v any
			if v, err = u.top(); err != nil {
				break
			}
			d, ok := v.(*Dict)
			if !ok {
				err = fmt.Errorf("%s on a %s", opName(op), typeName(v))
				break
			}
			err = d.setItems(items)
		case 'q', 'r', 0x94: // BINPUT, LONG_BINPUT, MEMOIZE
			var idx uint32
			switch op {
			case 'q':
				var b []byte
				b, err = u.need(1)
				if err == nil {
					idx = uint32(b[0])
				}
			case 'r':
				var b []byte
				b, err = u.need(4)
				if err == nil {
					idx = binary.LittleEndian.Uint32(b)
				}
			default:
				idx = uint32(len(u.memo))
			}
			if err == nil {
				err = u.memoize(idx)
			}
		case 'h':
			var b []byte
			if b, err = u.need(1); err == nil {
				err = u.get(uint32(b[0]))
			}
		case 'j':
			var b []byte
			if b, err = u.need(4); err == nil {
				err = u.get(binary.LittleEndian.Uint32(b))
			}
		case 'c':
			var mod, name string
			if mod, err = u.line(); err == nil {
				if name, err = u.line(); err == nil {
					err = u.pushGlobal(mod, name)
				}
			}
		case 0x93:
			var m, n any
			if n, err = u.pop(); err == nil {
				m, err = u.pop()
			}
			if err != nil {
				break
			}
			mod, ok1 := m.(string)
			name, ok2 := n.(string)
			if !ok1 || !ok2 {
				err = fmt.Errorf("STACK_GLOBAL of a %s and a %s", typeName(m), typeName(n))
				break
			}
			err = u.pushGlobal(mod, name)
		case 'Q':
			var pid any
			if pid, err = u.pop(); err != nil {
				break
			}
			t, ok := pid.(*Tuple)
			if !ok || u.persist == nil {
				err = fmt.Errorf("persistent id %s is not a storage reference", typeName(pid))
				break
			}
			var v any
			if v, err = u.persist(t); err == nil {
				err = u.push(v)
			}
		case 'R':
			var f, args any
			if args, err = u.pop(); err == nil {
				f, err = u.pop()
			}
			if err != nil {
				break
			}
			var v any
			if v, err = reduce(f, args); err == nil {
				err = u.push(v)
			}
		case 'b':
			var state, obj any
			if state, err = u.pop(); err == nil {
				obj, err = u.top()
			}
			if err == nil {
				err = build(obj, state)
			}
		default:
			return nil, fmt.Errorf("opcode %s at byte %d is not allowed", opName(op), at)
		}
		if err != nil {
			return nil, err
		}
	}
}

// line reads a newline-terminated argument of GLOBAL.
func (u *unpickler) line() (string, error) {
	for i := u.pos; i < len(u.data) && i-u.pos < 256; i++ {
		if u.data[i] == '\n' {
			s := string(u.data[u.pos:i])
			u.pos = i + 1
			return s, nil
		}
	}
	return "", fmt.Errorf("GLOBAL at byte %d has no short newline-terminated name", u.pos)
}

func (u *unpickler) pushGlobal(mod, name string) error {
	full := mod + "." + name
	if !allowed[full] {
		return fmt.Errorf("global %s is not allowed (a state dict needs only tensors, storages and OrderedDict)", quoteName(full))
	}
	return u.push(global{mod, name})
}

// quoteName keeps hostile names from spreading over several lines of an error.
func quoteName(s string) string {
	if len(s) > 80 {
		s = s[:80] + "…"
	}
	q := strconv.Quote(s)
	return q[1 : len(q)-1]
}

func decodeLong(b []byte) any {
	if len(b) > 8 {
		return &BigInt{Bytes: append([]byte(nil), b...)}
	}
	var v uint64
	for i := len(b) - 1; i >= 0; i-- {
		v = v<<8 | uint64(b[i])
	}
	if len(b) > 0 && len(b) < 8 && b[len(b)-1]&0x80 != 0 {
		v |= ^uint64(0) << (8 * len(b)) // sign-extend
	}
	return int64(v)
}

func (d *Dict) setItems(items []any) error {
	if len(items)%2 != 0 {
		return fmt.Errorf("dict items come in pairs, got %d values", len(items))
	}
	dd, err := containerDepth(items)
	if err != nil {
		return err
	}
	d.depth = max(d.depth, dd)
	for i := 0; i < len(items); i += 2 {
		if s, ok := items[i].(string); ok {
			if j, ok := d.index[s]; ok {
				d.Values[j] = items[i+1]
				continue
			}
			if d.index == nil {
				d.index = map[string]int{}
			}
			d.index[s] = len(d.Keys)
		}
		d.Keys = append(d.Keys, items[i])
		d.Values = append(d.Values, items[i+1])
	}
	return nil
}

func typeName(v any) string {
	switch x := v.(type) {
	case nil:
		return "None"
	case bool:
		return "bool"
	case int64, *BigInt:
		return "int"
	case float64:
		return "float"
	case string:
		return "str"
	case []byte:
		return "bytes"
	case *Tuple:
		return "tuple"
	case *List:
		return "list"
	case *Dict:
		return "dict"
	case *Tensor:
		return "tensor"
	case *Storage:
		return "storage"
	case global:
		return x.String()
	}
	return fmt.Sprintf("%T", v)
}

// reduce applies an allowed callable to its argument tuple.
func reduce(f, args any) (any, error) {
	g, ok := f.(global)
	if !ok {
		return nil, fmt.Errorf("REDUCE of a %s, which is not callable", typeName(f))
	}
	a, ok := args.(*Tuple)
	if !ok {
		return nil, fmt.Errorf("REDUCE of %s with a %s instead of an argument tuple", g, typeName(args))
	}
	switch g.String() {
	case "collections.OrderedDict":
		if len(a.Items) != 0 {
			return nil, fmt.Errorf("REDUCE of collections.OrderedDict with %d arguments, want none", len(a.Items))
		}
		return &Dict{depth: 1}, nil
	case "torch._utils._rebuild_tensor_v2":
		return rebuildTensor(a.Items)
	case "torch._utils._rebuild_parameter":
		if len(a.Items) != 3 {
			return nil, fmt.Errorf("_rebuild_parameter takes 3 arguments, got %d", len(a.Items))
		}
		t, ok := a.Items[0].(*Tensor)
		if !ok {
			return nil, fmt.Errorf("_rebuild_parameter of a %s, want a tensor", typeName(a.Items[0]))
		}
		if _, ok := a.Items[1].(bool); !ok {
			return nil, fmt.Errorf("_rebuild_parameter: requires_grad is a %s, want a bool", typeName(a.Items[1]))
		}
		if err := emptyHooks(a.Items[2]); err != nil {
			return nil, err
		}
		return t, nil
	}
	return nil, fmt.Errorf("REDUCE of %s is not allowed", g)
}

// emptyHooks accepts the backward-hooks argument torch always writes: an empty OrderedDict.
func emptyHooks(v any) error {
	if v == nil {
		return nil
	}
	if d, ok := v.(*Dict); ok && len(d.Keys) == 0 {
		return nil
	}
	return fmt.Errorf("tensor with backward hooks (%s) is not allowed", typeName(v))
}

// build accepts BUILD only where torch writes it: the attributes of a state dict (its
// _metadata), which carry no tensors and are dropped.
func build(obj, state any) error {
	if _, ok := obj.(*Dict); !ok {
		return fmt.Errorf("BUILD on a %s is not allowed", typeName(obj))
	}
	switch s := state.(type) {
	case nil, *Dict:
		return nil
	case *Tuple:
		if len(s.Items) == 2 {
			if _, ok := s.Items[0].(*Dict); ok || s.Items[0] == nil {
				if _, ok := s.Items[1].(*Dict); ok || s.Items[1] == nil {
					return nil
				}
			}
		}
	}
	return fmt.Errorf("BUILD on a dict with a %s state is not allowed", typeName(state))
}

func ints(v any, what string) ([]int64, error) {
	t, ok := v.(*Tuple)
	if !ok {
		return nil, fmt.Errorf("tensor %s is a %s, want a tuple of ints", what, typeName(v))
	}
	if len(t.Items) > maxDims {
		return nil, fmt.Errorf("tensor %s has %d dimensions, more than %d", what, len(t.Items), maxDims)
	}
	out := make([]int64, len(t.Items))
	for i, x := range t.Items {
		n, ok := x.(int64)
		if !ok {
			return nil, fmt.Errorf("tensor %s[%d] is a %s, want an int", what, i, typeName(x))
		}
		if n < 0 {
			return nil, fmt.Errorf("tensor %s[%d] is negative (%d)", what, i, n)
		}
		out[i] = n
	}
	return out, nil
}

// rebuildTensor checks the arguments of _rebuild_tensor_v2 (storage, storage_offset, size,
// stride, requires_grad, backward_hooks[, metadata]) against the storage they index.
func rebuildTensor(args []any) (*Tensor, error) {
	if len(args) != 6 && len(args) != 7 {
		return nil, fmt.Errorf("_rebuild_tensor_v2 takes 6 or 7 arguments, got %d", len(args))
	}
	st, ok := args[0].(*Storage)
	if !ok {
		return nil, fmt.Errorf("_rebuild_tensor_v2 of a %s, want a storage", typeName(args[0]))
	}
	off, ok := args[1].(int64)
	if !ok || off < 0 {
		return nil, fmt.Errorf("tensor storage offset %v is not a non-negative int", args[1])
	}
	size, err := ints(args[2], "size")
	if err != nil {
		return nil, err
	}
	stride, err := ints(args[3], "stride")
	if err != nil {
		return nil, err
	}
	if len(size) != len(stride) {
		return nil, fmt.Errorf("tensor has %d sizes but %d strides", len(size), len(stride))
	}
	if _, ok := args[4].(bool); !ok {
		return nil, fmt.Errorf("tensor requires_grad is a %s, want a bool", typeName(args[4]))
	}
	if err := emptyHooks(args[5]); err != nil {
		return nil, err
	}
	if len(args) == 7 {
		if d, ok := args[6].(*Dict); !(args[6] == nil || ok && len(d.Keys) == 0) {
			return nil, fmt.Errorf("tensor metadata (%s) is not allowed", typeName(args[6]))
		}
	}
	t := &Tensor{storage: st, offset: off, stride: stride, DType: st.DType}
	numel := int64(1)
	last := off // the highest element index the view reads
	for i, n := range size {
		if numel, ok = mulCheck(numel, n); !ok {
			return nil, fmt.Errorf("tensor size %v overflows", size)
		}
		if n > 0 {
			step, ok1 := mulCheck(n-1, stride[i])
			if last, ok = addCheck(last, step); !ok || !ok1 {
				return nil, fmt.Errorf("tensor size %v with stride %v overflows", size, stride)
			}
		}
		t.Shape = append(t.Shape, int(n))
	}
	t.numel = numel
	if numel > 0 {
		if last >= st.numel {
			return nil, fmt.Errorf("tensor of size %v, stride %v at offset %d needs element %d of a storage of %d elements", size, stride, off, last, st.numel)
		}
		// Views that repeat elements (stride 0) could declare far more elements than
		// the file holds; state dicts never save such tensors.
		if numel > st.numel {
			return nil, fmt.Errorf("tensor of size %v has more elements than its storage (%d)", size, st.numel)
		}
	} else if off > st.numel {
		return nil, fmt.Errorf("empty tensor at offset %d past the end of a storage of %d elements", off, st.numel)
	}
	return t, nil
}

func mulCheck(a, b int64) (int64, bool) {
	if a == 0 || b == 0 {
		return 0, true
	}
	c := a * b
	if c/b != a || c < 0 {
		return 0, false
	}
	return c, true
}

func addCheck(a, b int64) (int64, bool) {
	c := a + b
	return c, c >= a
}
