package main

import (
	"fmt"
	"math"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"time"

	"github.com/hungry-ssm/hungry/model"
	"github.com/hungry-ssm/hungry/tensor"
)

// heapPeak samples the Go heap every few milliseconds while f runs and returns f's wall
// time and the largest heap seen, in bytes, above what was live before. The process's
// peak resident memory only ever grows, so rows measured one after another in the same
// run are compared by their own heap peaks instead.
func heapPeak(f func() error) (sec float64, peak uint64, err error) {
	runtime.GC()
	debug.FreeOSMemory()
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	read := func() uint64 {
		metrics.Read(sample)
		return sample[0].Value.Uint64()
	}
	base := read()
	var mu sync.Mutex
	top := base
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				v := read()
				mu.Lock()
				top = max(top, v)
				mu.Unlock()
			}
		}
	}()
	t0 := time.Now()
	err = f()
	sec = time.Since(t0).Seconds()
	close(done)
	wg.Wait()
	top = max(top, read())
	return sec, top - base, err
}

// singleShotNLL scores ids the way eval did before state passing: one forward pass over
// the whole sequence, every logit kept.
func singleShotNLL(m *model.LM, ids []int32) (float64, error) {
	n := len(ids) - 1
	m.SetChunk(n)
	defer m.SetChunk(0)
	logits, err := m.Logits(ids[:n], 1, n)
	if err != nil {
		return 0, err
	}
	v := m.Config.VocabSize
	l := logits.Host()
	sum := 0.0
	for t := 0; t < n; t++ {
		row := l[t*v : (t+1)*v]
		mx := row[0]
		for _, x := range row {
			mx = max(mx, x)
		}
		s := 0.0
		for _, x := range row {
			s += math.Exp(float64(x - mx))
		}
		sum += math.Log(s) + float64(mx) - float64(row[ids[t+1]])
	}
	return sum, nil
}

// benchLong adds the long-context rows to `hungry bench --long-context`: evaluation of the
// default model (4 layers, d_model 128, byte vocabulary) a chunk at a time with state
// passing at 64K, 256K and 1M tokens, and the single-shot pass beside it at 8K, 64K and
// 256K, each with its wall time and the peak of the Go heap while it ran. Each is run
// once: one pass at 1M tokens takes minutes.
func benchLong(b *bencher, quick bool) error {
	dev, add := b.dev, b.addOnce
	cfg := model.DefaultConfig()
	cfg.DModel, cfg.NLayer, cfg.VocabSize = 128, 4, 256
	chunked, single := []int{1 << 16, 1 << 18, 1 << 20}, []int{1 << 13, 1 << 16, 1 << 18}
	if quick {
		cfg.DModel, cfg.NLayer = 16, 2
		chunked, single = []int{1 << 12}, []int{1 << 12}
	}
	m, err := model.New(cfg, dev, 1)
	if err != nil {
		return err
	}
	if quick {
		m.SetChunk(1000)
	}
	rng := tensor.NewRNG(2)
	ids := make([]int32, max(chunked[len(chunked)-1], single[len(single)-1])+1)
	for i := range ids {
		ids[i] = int32(rng.IntN(cfg.VocabSize))
	}
	row := func(what string, l int, f func() (float64, error)) (float64, error) {
		var nll float64
		sec, peak, err := heapPeak(func() error {
			var err error
			nll, err = f()
			return err
		})
		if err != nil {
			return 0, err
		}
		name := fmt.Sprintf("eval h3 L=%d %s", l, what)
		add(name, sec, float64(l)/sec, "tokens/s")
		add(name+" heap", sec, float64(peak)/(1<<20), "MiB peak")
		return nll, nil
	}
	for _, l := range chunked {
		if _, err := row(fmt.Sprintf("chunked (%d)", m.ChunkLen()), l, func() (float64, error) {
			s, _, err := m.ScoreNLL(ids[:l+1], 0)
			return s, err
		}); err != nil {
			return err
		}
	}
	for _, l := range single {
		single, err := row("single-shot", l, func() (float64, error) { return singleShotNLL(m, ids[:l+1]) })
		if err != nil {
			return err
		}
		chunked, err := row(fmt.Sprintf("chunked (%d)", m.ChunkLen()), l, func() (float64, error) {
			s, _, err := m.ScoreNLL(ids[:l+1], 0)
			return s, err
		})
		if err != nil {
			return err
		}
		// In parts per million of the NLL: the two agree to a few 1e-7, which the table's
		// two decimals would round to zero in nats.
		add(fmt.Sprintf("eval h3 L=%d NLL chunked vs single-shot", l), 0, 1e6*(chunked-single)/math.Abs(single), "ppm")
	}
	return nil
}
