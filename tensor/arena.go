package tensor

// Arena lends host tensors for the span of one step and takes them all back at once with
// Reset. A training step allocates the same tensors, of the same sizes, every time: the
// activations of the forward pass, their gradients and the kernels' scratch. Served from
// fresh memory, they cost about a sixth of a step in page faults, clearing and garbage
// collection; an arena keeps them between steps and hands each buffer out again, zeroed,
// to the request of the same size in the next step, so that after the first step a step
// asks the Go heap for none of them.
//
// The price is the contract: every tensor the arena lent, and every view of one, is
// invalid after Reset, because the next step writes into its storage. Whoever owns the
// arena (a training loop) resets it only after reading what it needs from the step (the
// loss, the parameters' gradients, which live outside the arena).
//
// An arena serves one CPU device and is not safe for concurrent use: it belongs to one
// graph at a time, and a graph runs on one goroutine. Tensors of other devices (a GPU,
// with its own allocator) never come from it.
type Arena struct {
	cpu *CPU
	// free holds the buffers returned by Reset, by length: a step asks for the same
	// lengths every time, so an exact match is the common case and no size classes are
	// needed.
	free map[int][][]float32
	used [][]float32
	// hdrs are the tensor headers lent so far, reused with their shape slices so that a
	// tensor costs no allocation at all once the arena has grown to a step's size.
	hdrs  []*Tensor
	nhdr  int
	bytes int
}

// NewArena returns an empty arena for tensors of cpu.
func NewArena(cpu *CPU) *Arena { return &Arena{cpu: cpu, free: map[int][][]float32{}} }

// Serves reports whether tensors for dev come from the arena: dev is the arena's CPU.
func (a *Arena) Serves(dev Device) bool {
	c, ok := dev.(*CPU)
	return a != nil && ok && c == a.cpu
}

// Zeros lends a zero-filled tensor on the arena's CPU, valid until the next Reset.
func (a *Arena) Zeros(shape ...int) *Tensor { return a.lend("Zeros", true, shape) }

// Empty lends a tensor like Zeros but leaves a reused buffer as the last step left it,
// for the output of a kernel that writes every element.
func (a *Arena) Empty(shape ...int) *Tensor { return a.lend("Empty", false, shape) }

func (a *Arena) lend(op string, zero bool, shape []int) *Tensor {
	n := checkShape(op, shape)
	var buf []float32
	if l := a.free[n]; len(l) > 0 {
		buf = l[len(l)-1]
		l[len(l)-1] = nil
		a.free[n] = l[:len(l)-1]
		if zero {
			clear(buf)
		}
	} else {
		buf = make([]float32, n)
		a.bytes += 4 * n
	}
	a.used = append(a.used, buf)
	if a.nhdr == len(a.hdrs) {
		a.hdrs = append(a.hdrs, &Tensor{})
	}
	t := a.hdrs[a.nhdr]
	a.nhdr++
	*t = Tensor{shape: append(t.shape[:0], shape...), data: buf, dev: a.cpu}
	return t
}

// Reset takes back every tensor the arena lent; their storage goes to the next requests
// of the same sizes.
func (a *Arena) Reset() {
	for i, b := range a.used {
		a.free[len(b)] = append(a.free[len(b)], b)
		a.used[i] = nil
	}
	a.used = a.used[:0]
	a.nhdr = 0
}

// Bytes is the storage the arena holds, lent or free.
func (a *Arena) Bytes() int { return a.bytes }
