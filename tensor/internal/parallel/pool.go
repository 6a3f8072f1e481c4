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
	tasks   chan func()
}

// New starts a pool with n workers (n <= 0 means GOMAXPROCS). The workers live as long
// as the process; a pool is meant to be created once and shared.
func New(n int) *Pool {
	if n <= 0 {
		n = runtime.GOMAXPROCS(0)
	}
	p := &Pool{workers: n, tasks: make(chan func(), 4*n)}
	// The caller always runs one share itself, so n-1 helpers suffice.
	for i := 0; i < n-1; i++ {
		go func() {
			for f := range p.tasks {
				f()
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
	// pending counts the shares not yet finished, the caller's own included, so done
	// closes exactly once, after the last of them.
	var pending atomic.Int32
	pending.Store(int32((n + chunk - 1) / chunk))
	done := make(chan struct{})
	finish := func() {
		if pending.Add(-1) == 0 {
			close(done)
		}
	}
	for lo := chunk; lo < n; lo += chunk {
		hi := min(lo+chunk, n)
		task := func() {
			fn(lo, hi)
			finish()
		}
		select {
		case p.tasks <- task:
		default:
			task()
		}
	}
	fn(0, chunk)
	finish()
	for {
		select {
		case <-done:
			return
		case t := <-p.tasks:
			t()
		}
	}
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
