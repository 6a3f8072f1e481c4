package tensor

import "sync"

// scratch is a CPU device's store of kernel work buffers (the FFT convolution's spectra
// and transposed sequences, the short convolution's windows). A training step runs the
// same kernels on the same shapes every time, so the buffers one call returns are exactly
// the ones the next call asks for; kept here, they cost a clear instead of an allocation
// and its garbage collection. The store only grows to the most buffers of each size that
// were out at once, and the workers of one kernel take and return them concurrently,
// hence the mutex.
type scratch struct {
	mu  sync.Mutex
	f32 map[int][][]float32
	c64 map[int][][]complex64
	f64 map[int][][]float64
}

func newScratch() *scratch {
	return &scratch{f32: map[int][][]float32{}, c64: map[int][][]complex64{}, f64: map[int][][]float64{}}
}

func take[T any](mu *sync.Mutex, m map[int][][]T, n int) []T {
	mu.Lock()
	l := m[n]
	if len(l) == 0 {
		mu.Unlock()
		return make([]T, n)
	}
	b := l[len(l)-1]
	l[len(l)-1] = nil
	m[n] = l[:len(l)-1]
	mu.Unlock()
	clear(b)
	return b
}

func give[T any](mu *sync.Mutex, m map[int][][]T, b []T) {
	mu.Lock()
	m[len(b)] = append(m[len(b)], b)
	mu.Unlock()
}

// f32 returns a zeroed buffer of n float32s; give it back with putF32 when done.
func (c *CPU) f32(n int) []float32 { return take(&c.scratch.mu, c.scratch.f32, n) }

// putF32 returns a buffer from f32. The caller must not use it afterwards.
func (c *CPU) putF32(b []float32) { give(&c.scratch.mu, c.scratch.f32, b) }

// c64 returns a zeroed buffer of n complex64s; give it back with putC64.
func (c *CPU) c64(n int) []complex64 { return take(&c.scratch.mu, c.scratch.c64, n) }

// putC64 returns a buffer from c64.
func (c *CPU) putC64(b []complex64) { give(&c.scratch.mu, c.scratch.c64, b) }

// f64 returns a zeroed buffer of n float64s; give it back with putF64.
func (c *CPU) f64(n int) []float64 { return take(&c.scratch.mu, c.scratch.f64, n) }

// putF64 returns a buffer from f64.
func (c *CPU) putF64(b []float64) { give(&c.scratch.mu, c.scratch.f64, b) }
