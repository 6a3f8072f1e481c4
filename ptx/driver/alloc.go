package driver

import (
	"errors"
	"fmt"
	"math/bits"
	"sync"
)

// minBlock is the smallest size class. cuMemAlloc aligns every allocation to at least 256
// bytes anyway, so smaller requests would only multiply the number of classes.
const minBlock = 512

// ErrUnknownPointer is returned by Allocator.Free for an address it did not hand out or has
// already taken back.
var ErrUnknownPointer = errors.New("cuda: free of a pointer the allocator does not own")

// AllocStats counts an Allocator's work. Bytes are block sizes (the request rounded up to its
// size class), which is what the device really holds.
type AllocStats struct {
	InUseBytes, InUseBlocks   int64 // handed out and not yet freed
	CachedBytes, CachedBlocks int64 // freed by the caller, kept for reuse
	PeakInUseBytes            int64
	Hits, Misses              int64 // Alloc served from the cache / from the device
	DeviceAllocs, DeviceFrees int64 // calls to the backend's MemAlloc and MemFree
	OOMRetries                int64 // device allocations retried after emptying the cache
}

// Allocator is a caching device allocator. cuMemAlloc and cuMemFree are slow (cuMemFree
// synchronizes the device), and a training step frees and allocates the same shapes over and
// over, so freed blocks go on a free list for their size class and serve the next request of
// that class. Classes are four per power of two, so at most a quarter of a block is unused.
//
// Reuse follows the usual single-stream rule: a block freed while kernels that use it are
// still queued may be handed to the next Alloc at once, which is safe when that memory's
// next user runs on the same stream (stream order) or after a synchronization. Work spread
// over several streams must synchronize before freeing.
//
// It is safe for concurrent use.
type Allocator struct {
	mem Memory

	mu    sync.Mutex
	live  map[DevicePtr]int64   // block size of each pointer handed out
	free  map[int64][]DevicePtr // cached blocks by size class
	stats AllocStats
}

// NewAllocator returns a caching allocator over mem (a Backend, or a fake in tests).
func NewAllocator(mem Memory) *Allocator {
	return &Allocator{mem: mem, live: make(map[DevicePtr]int64), free: make(map[int64][]DevicePtr)}
}

// sizeClass rounds n up to the allocator's block size: minBlock, or else the next multiple
// of a quarter of the power of two just below n.
func sizeClass(n int64) int64 {
	if n <= minBlock {
		return minBlock
	}
	p := int64(1) << (bits.Len64(uint64(n-1)) - 1) // largest power of two < n
	step := p / 4
	return (n + step - 1) / step * step
}

// Alloc returns a block of at least bytes bytes. A zero-byte request returns the null
// pointer, which Free accepts, so empty tensors need no special case.
func (a *Allocator) Alloc(bytes int64) (DevicePtr, error) {
	if bytes < 0 {
		return 0, fmt.Errorf("cuda: allocation of %d bytes", bytes)
	}
	if bytes == 0 {
		return 0, nil
	}
	size := sizeClass(bytes)
	a.mu.Lock()
	defer a.mu.Unlock()
	if list := a.free[size]; len(list) > 0 {
		p := list[len(list)-1]
		a.free[size] = list[:len(list)-1]
		a.stats.CachedBytes -= size
		a.stats.CachedBlocks--
		a.stats.Hits++
		a.handOut(p, size)
		return p, nil
	}
	a.stats.Misses++
	p, err := a.mem.MemAlloc(size)
	if err != nil && errors.Is(err, ErrOutOfMemory) && a.stats.CachedBlocks > 0 {
		// The cache may hold enough memory of other sizes: give it back and try once more.
		a.stats.OOMRetries++
		if rerr := a.releaseLocked(); rerr != nil {
			return 0, errors.Join(err, rerr)
		}
		p, err = a.mem.MemAlloc(size)
	}
	if err != nil {
		return 0, err
	}
	a.stats.DeviceAllocs++
	a.handOut(p, size)
	return p, nil
}

func (a *Allocator) handOut(p DevicePtr, size int64) {
	a.live[p] = size
	a.stats.InUseBytes += size
	a.stats.InUseBlocks++
	if a.stats.InUseBytes > a.stats.PeakInUseBytes {
		a.stats.PeakInUseBytes = a.stats.InUseBytes
	}
}

// Free returns p's block to the cache. Freeing the null pointer does nothing.
func (a *Allocator) Free(p DevicePtr) error {
	if p == 0 {
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	size, ok := a.live[p]
	if !ok {
		return fmt.Errorf("%w: %#x", ErrUnknownPointer, uint64(p))
	}
	delete(a.live, p)
	a.stats.InUseBytes -= size
	a.stats.InUseBlocks--
	a.free[size] = append(a.free[size], p)
	a.stats.CachedBytes += size
	a.stats.CachedBlocks++
	return nil
}

// BlockSize is the size of the block p was handed out with, and false if p is not live.
func (a *Allocator) BlockSize(p DevicePtr) (int64, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	size, ok := a.live[p]
	return size, ok
}

// Stats returns a snapshot of the counters.
func (a *Allocator) Stats() AllocStats {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.stats
}

// ReleaseCached gives every cached block back to the device. Blocks in use stay valid.
func (a *Allocator) ReleaseCached() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.releaseLocked()
}

func (a *Allocator) releaseLocked() error {
	var errs []error
	for size, list := range a.free {
		kept := list[:0]
		for _, p := range list {
			if err := a.mem.MemFree(p); err != nil {
				errs = append(errs, err)
				kept = append(kept, p)
				continue
			}
			a.stats.DeviceFrees++
			a.stats.CachedBytes -= size
			a.stats.CachedBlocks--
		}
		if len(kept) == 0 {
			delete(a.free, size)
		} else {
			a.free[size] = kept
		}
	}
	return errors.Join(errs...)
}
