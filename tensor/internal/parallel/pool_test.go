package parallel

import (
	"sync/atomic"
	"testing"
)

func TestForCoversEveryIndexOnce(t *testing.T) {
	p := New(3)
	for _, n := range []int{1, 2, 7, 31, 1000} {
		for _, grain := range []int{1, 5, 64} {
			hits := make([]int32, n)
			p.For(n, grain, func(lo, hi int) {
				for i := lo; i < hi; i++ {
					atomic.AddInt32(&hits[i], 1)
				}
			})
			for i, h := range hits {
				if h != 1 {
					t.Fatalf("n=%d grain=%d: index %d visited %d times", n, grain, i, h)
				}
			}
		}
	}
}

func TestNestedForDoesNotDeadlock(t *testing.T) {
	p := New(2)
	var total atomic.Int64
	p.For(16, 1, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			p.For(100, 1, func(lo, hi int) { total.Add(int64(hi - lo)) })
		}
	})
	if total.Load() != 1600 {
		t.Fatalf("nested loops counted %d, want 1600", total.Load())
	}
}

// TestForAllocatesNothing checks that a loop split across workers takes no memory from
// the heap once the pool has its loop descriptors: a training step runs thousands of
// loops, and each used to allocate its channel, counter and one closure per share.
func TestForAllocatesNothing(t *testing.T) {
	p := New(4)
	out := make([]int32, 1000)
	fn := func(lo, hi int) {
		for i := lo; i < hi; i++ {
			out[i]++
		}
	}
	p.For(len(out), 1, fn) // the first loop allocates its descriptor
	allocs := testing.AllocsPerRun(100, func() { p.For(len(out), 1, fn) })
	if allocs != 0 {
		t.Errorf("For allocated %v times per call, want 0", allocs)
	}
	for i, v := range out {
		if v != 102 {
			t.Fatalf("out[%d] = %d after 102 loops", i, v)
		}
	}
}
