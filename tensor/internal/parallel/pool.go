// Package parallel runs loops across a fixed set of worker goroutines.
//
// One pool serves every op: creating a goroutine per op costs more than the small ops
// it would run, and a fixed pool keeps the number of busy threads at GOMAXPROCS.
package parallel

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// Pool is a fixed set of workers. The zero value is not usable; call New.
type Pool struct {
	workers int
	tasks   chan share
	// free holds loop descriptors for reuse, so a loop allocates nothing once as many
	// loops have been in flight at once as ever will be (nesting depth times callers).
	mu   sync.Mutex
	free []*loop
}

// loop is one For call: its body and the count of shares not yet finished.
type loop struct {
	fn      func(lo, hi int)
	pending atomic.Int32
	// done receives one value, sent by whichever share finishes last; its buffer of
	// one lets that share send without waiting, so it never touches the loop after.
	done chan struct{}
}

// share is one range of a loop, sent to the workers by value.
type share struct {
	l      *loop
	lo, hi int
}

func (s share) run() {
	s.l.fn(s.lo, s.hi)
	s.l.finish()
}

func (l *loop) finish() {
	if l.pending.Add(-1) == 0 {
		l.done <- struct{}{}
	}
}

// New starts a pool with n workers (n <= 0 means GOMAXPROCS). The workers live as long
// as the process; a pool is meant to be created once and shared.
func New(n int) *Pool {
	if n <= 0 {
		n = runtime.GOMAXPROCS(0)
	}
	p := &Pool{workers: n, tasks: make(chan share, 4*n)}
	// The caller always runs one share itself, so n-1 helpers suffice.
	for i := 0; i < n-1; i++ {
		go func() {
			for t := range p.tasks {
				t.run()
			}
		}()
	}
	return p
}

// Workers is the number of goroutines (the caller included) that share a loop.
func (p *Pool) Workers() int { return p.workers }

// For calls fn on disjoint ranges [lo, hi) that cover [0, n). Ranges hold at least grain
// items, so tiny loops run inline. It returns when every range is done.
//
// Calls may nest (a share may itself call For): a goroutine waiting for its shares runs
// queued tasks meanwhile, and a full queue makes the caller run the share itself, so no
// waiter ever blocks a task it depends on.
func (p *Pool) For(n, grain int, fn func(lo, hi int)) {
	if n <= 0 {
		return
	}
	if grain < 1 {
		grain = 1
	}
	parts := min(p.workers, (n+grain-1)/grain)
	if parts <= 1 {
		fn(0, n)
		return
	}
	chunk := (n + parts - 1) / parts
	l := p.get()
	l.fn = fn
	// pending counts the shares not yet finished, the caller's own included, so done
	// receives exactly once, after the last of them.
	l.pending.Store(int32((n + chunk - 1) / chunk))
	for lo := chunk; lo < n; lo += chunk {
		t := share{l: l, lo: lo, hi: min(lo+chunk, n)}
		select {
		case p.tasks <- t:
		default:
			t.run()
		}
	}
	share{l: l, lo: 0, hi: chunk}.run()
	for {
		select {
		case <-l.done:
			p.put(l)
			return
		case t := <-p.tasks:
			t.run()
		}
	}
}

func (p *Pool) get() *loop {
	p.mu.Lock()
	defer p.mu.Unlock()
	if k := len(p.free); k > 0 {
		l := p.free[k-1]
		p.free = p.free[:k-1]
		return l
	}
	return &loop{done: make(chan struct{}, 1)}
}

// put returns l for reuse once every share has finished and done has been drained.
func (p *Pool) put(l *loop) {
	l.fn = nil // drop the body so what it captured can be collected
	p.mu.Lock()
	p.free = append(p.free, l)
	p.mu.Unlock()
}

var (
	defaultOnce sync.Once
	defaultPool *Pool
)

// Default is the process-wide pool sized by GOMAXPROCS at first use. It holds no
// per-model state, so sharing it between models is safe.
func Default() *Pool {
	defaultOnce.Do(func() { defaultPool = New(0) })
	return defaultPool
}
