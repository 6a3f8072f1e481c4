package driver

import (
	"errors"
	"fmt"
	"math/rand"
	"sync"
	"testing"
)

// fakeMemory hands out disjoint address ranges and refuses allocations beyond a capacity,
// like a device with that much memory, and checks every free against what it handed out.
type fakeMemory struct {
	mu       sync.Mutex
	next     DevicePtr
	capacity int64
	used     int64
	blocks   map[DevicePtr]int64
	badFrees int
}

func newFakeMemory(capacity int64) *fakeMemory {
	return &fakeMemory{next: 0x7f00_0000_0000, capacity: capacity, blocks: map[DevicePtr]int64{}}
}

func (m *fakeMemory) MemAlloc(bytes int64) (DevicePtr, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.used+bytes > m.capacity {
		return 0, &Error{Op: "cuMemAlloc_v2", Code: ErrOutOfMemory}
	}
	p := m.next
	m.next += DevicePtr((bytes + 255) / 256 * 256)
	m.blocks[p] = bytes
	m.used += bytes
	return p, nil
}

func (m *fakeMemory) MemFree(p DevicePtr) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, ok := m.blocks[p]
	if !ok {
		m.badFrees++
		return &Error{Op: "cuMemFree_v2", Code: ErrInvalidValue}
	}
	delete(m.blocks, p)
	m.used -= n
	return nil
}

func TestSizeClass(t *testing.T) {
	for _, c := range []struct{ n, want int64 }{
		{1, 512}, {512, 512}, {513, 640}, {640, 640}, {641, 768}, {1000, 1024}, {1024, 1024},
		{1025, 1280}, {3 << 20, 3 << 20}, {(3 << 20) + 1, 3.5 * (1 << 20)},
	} {
		if got := sizeClass(c.n); got != c.want {
			t.Errorf("sizeClass(%d) = %d, want %d", c.n, got, c.want)
		}
	}
	prev := int64(0)
	for n := int64(1); n < 1<<22; n += 1 + n/7 {
		c := sizeClass(n)
		if c < n || (n > minBlock && 4*c > 5*n+4*c/5) || c < prev {
			t.Fatalf("sizeClass(%d) = %d: below the request, over 25%% waste, or not monotone", n, c)
		}
		if sizeClass(c) != c {
			t.Fatalf("class %d is not its own class", c)
		}
		prev = c
	}
}

func TestAllocatorReuse(t *testing.T) {
	mem := newFakeMemory(1 << 30)
	a := NewAllocator(mem)
	p1, err := a.Alloc(1000)
	if err != nil {
		t.Fatal(err)
	}
	p2, err := a.Alloc(7)
	if err != nil {
		t.Fatal(err)
	}
	if p1 == p2 || p1 == 0 || p2 == 0 {
		t.Fatalf("pointers %#x %#x", p1, p2)
	}
	if n, ok := a.BlockSize(p1); !ok || n != 1024 {
		t.Fatalf("block of 1000 bytes has size %d (%v)", n, ok)
	}
	if err := a.Free(p1); err != nil {
		t.Fatal(err)
	}
	// 1000 and 1023 share a class: the freed block comes back without a device call.
	p3, err := a.Alloc(1023)
	if err != nil {
		t.Fatal(err)
	}
	if p3 != p1 {
		t.Fatalf("freed block %#x not reused, got %#x", p1, p3)
	}
	// A different class needs a new block; 31 KiB rounds up to the 32 KiB class.
	p4, err := a.Alloc(31 * 1024)
	if err != nil {
		t.Fatal(err)
	}
	s := a.Stats()
	want := AllocStats{InUseBytes: 1024 + 512 + 32*1024, InUseBlocks: 3, PeakInUseBytes: 1024 + 512 + 32*1024,
		Hits: 1, Misses: 3, DeviceAllocs: 3}
	if s != want {
		t.Fatalf("stats %+v\nwant  %+v", s, want)
	}
	for _, p := range []DevicePtr{p2, p3, p4} {
		if err := a.Free(p); err != nil {
			t.Fatal(err)
		}
	}
	if s := a.Stats(); s.InUseBytes != 0 || s.CachedBlocks != 3 || s.CachedBytes != 1024+512+32*1024 || mem.used != s.CachedBytes {
		t.Fatalf("after freeing all: %+v, device holds %d", s, mem.used)
	}
	if err := a.ReleaseCached(); err != nil {
		t.Fatal(err)
	}
	if s := a.Stats(); s.CachedBlocks != 0 || s.CachedBytes != 0 || s.DeviceFrees != 3 || mem.used != 0 || len(mem.blocks) != 0 {
		t.Fatalf("after release: %+v, device holds %d in %d blocks", s, mem.used, len(mem.blocks))
	}
	if mem.badFrees != 0 {
		t.Fatalf("%d frees of unknown blocks reached the device", mem.badFrees)
	}
}

func TestAllocatorBadInput(t *testing.T) {
	a := NewAllocator(newFakeMemory(1 << 20))
	if _, err := a.Alloc(-1); err == nil {
		t.Fatal("negative size accepted")
	}
	if p, err := a.Alloc(0); p != 0 || err != nil {
		t.Fatalf("zero bytes: %#x, %v", p, err)
	}
	if err := a.Free(0); err != nil {
		t.Fatalf("free of null: %v", err)
	}
	p, _ := a.Alloc(100)
	if err := a.Free(p); err != nil {
		t.Fatal(err)
	}
	if err := a.Free(p); !errors.Is(err, ErrUnknownPointer) {
		t.Fatalf("double free gave %v", err)
	}
	if err := a.Free(p + 4); !errors.Is(err, ErrUnknownPointer) {
		t.Fatalf("interior pointer free gave %v", err)
	}
}

func TestAllocatorOOMRetry(t *testing.T) {
	mem := newFakeMemory(4096)
	a := NewAllocator(mem)
	small := make([]DevicePtr, 6)
	for i := range small {
		var err error
		if small[i], err = a.Alloc(512); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range small {
		if err := a.Free(p); err != nil {
			t.Fatal(err)
		}
	}
	// 3 KiB cached in 512-byte blocks, 1 KiB free: a 2 KiB block fits only after the cache
	// is given back.
	big, err := a.Alloc(2048)
	if err != nil {
		t.Fatalf("allocation that fits after emptying the cache failed: %v", err)
	}
	s := a.Stats()
	if s.OOMRetries != 1 || s.CachedBlocks != 0 || s.InUseBytes != 2048 || s.DeviceFrees != 6 {
		t.Fatalf("stats after retry %+v", s)
	}
	// Nothing left to give back: the device's error comes through, still matchable.
	if _, err := a.Alloc(4096); !errors.Is(err, ErrOutOfMemory) {
		t.Fatalf("allocation beyond capacity gave %v", err)
	}
	if err := a.Free(big); err != nil {
		t.Fatal(err)
	}
}

// Random alloc/free traffic from several goroutines: no block is ever handed out twice,
// and the books balance at the end.
func TestAllocatorConcurrent(t *testing.T) {
	mem := newFakeMemory(1 << 40)
	a := NewAllocator(mem)
	var owned sync.Map
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(seed int64) {
			defer wg.Done()
			rng := rand.New(rand.NewSource(seed))
			var mine []DevicePtr
			for i := 0; i < 2000; i++ {
				if len(mine) > 0 && rng.Intn(2) == 0 {
					j := rng.Intn(len(mine))
					owned.Delete(mine[j])
					if err := a.Free(mine[j]); err != nil {
						errs <- err
						return
					}
					mine[j] = mine[len(mine)-1]
					mine = mine[:len(mine)-1]
					continue
				}
				p, err := a.Alloc(int64(1 + rng.Intn(1<<16)))
				if err != nil {
					errs <- err
					return
				}
				if _, dup := owned.LoadOrStore(p, seed); dup {
					errs <- fmt.Errorf("block %#x handed out twice", p)
					return
				}
				mine = append(mine, p)
			}
			for _, p := range mine {
				owned.Delete(p)
				if err := a.Free(p); err != nil {
					errs <- err
					return
				}
			}
		}(int64(g + 1))
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	s := a.Stats()
	if s.InUseBlocks != 0 || s.InUseBytes != 0 || s.CachedBytes != mem.used || s.Hits+s.Misses == 0 || s.Hits == 0 {
		t.Fatalf("books do not balance: %+v, device holds %d", s, mem.used)
	}
	if err := a.ReleaseCached(); err != nil || mem.used != 0 {
		t.Fatalf("release: %v, device still holds %d", err, mem.used)
	}
}
