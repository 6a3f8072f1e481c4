package main

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/hungry-ssm/hungry/autograd"
	"github.com/hungry-ssm/hungry/data"
	"github.com/hungry-ssm/hungry/model"
	"github.com/hungry-ssm/hungry/tensor"
	"github.com/hungry-ssm/hungry/train"
)

// benchResult is one line of `hungry bench`.
type benchResult struct {
	Name    string  `json:"name"`
	Seconds float64 `json:"seconds"`
	Value   float64 `json:"value"`
	Unit    string  `json:"unit"`
}

func runBench(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bench", "[flags]", stderr)
	asJSON := fs.Bool("json", false, "print JSON")
	device := fs.String("device", "auto", "auto, cpu or cuda")
	reps := fs.Int("reps", 3, "repetitions per measurement (the fastest counts)")
	quick := fs.Bool("quick", false, "small sizes only (a smoke test)")
	long := fs.Bool("long", false, "also the long-context rows (benchLong): minutes")
	if err := fs.parse(args); err != nil {
		return err
	}
	if *reps < 1 {
		return usagef("--reps must be at least 1, got %d", *reps)
	}
	dev, err := pickDevice(*device, stderr)
	if err != nil {
		return err
	}
	// best runs f reps times after one warm-up run and returns the fastest time, the
	// least disturbed by whatever else shares the machine.
	best := func(f func()) float64 {
		f()
		b := time.Duration(1<<63 - 1)
		for i := 0; i < *reps; i++ {
			t0 := time.Now()
			f()
			b = min(b, time.Since(t0))
		}
		return b.Seconds()
	}
	var results []benchResult
	add := func(name string, sec, value float64, unit string) {
		results = append(results, benchResult{name, sec, value, unit})
		if !*asJSON {
			fmt.Fprintf(stdout, "%-34s %10.3f ms %12.2f %s\n", name, sec*1e3, value, unit)
		}
	}
	rng := tensor.NewRNG(1)

	sizes := []int{256, 512, 1024}
	if *quick {
		sizes = []int{64, 128}
	}
	for _, n := range sizes {
		a, b, c := tensor.RandNormal(dev, rng, 1, n, n), tensor.RandNormal(dev, rng, 1, n, n), dev.Zeros(n, n)
		sec := best(func() { dev.MatMul(c, a, b, false, false, false); c.Host() })
		add(fmt.Sprintf("sgemm %d³", n), sec, 2*float64(n*n*n)/sec/1e9, "GFLOP/s")
	}

	convB, convH, convLs := 8, 256, []int{1024, 8192}
	if *quick {
		convB, convH, convLs = 2, 16, []int{64}
	}
	for _, l := range convLs {
		u := autograd.NewParam("u", tensor.RandNormal(dev, rng, 1, convB, l, convH))
		k := autograd.NewParam("k", tensor.RandNormal(dev, rng, 0.1, convH, l))
		d := autograd.NewParam("d", tensor.RandNormal(dev, rng, 1, convH))
		sec := best(func() {
			g := autograd.NewGraph()
			y := autograd.CausalConv(g, u, k, d)
			if err := g.BackwardWith(y, y.Value); err != nil {
				panic(err)
			}
		})
		add(fmt.Sprintf("fftconv fwd+bwd B=%d H=%d L=%d", convB, convH, l), sec, float64(convB*convH*l)/sec/1e6, "Melem/s")
	}

	cfg := model.DefaultConfig()
	cfg.DModel, cfg.NLayer, cfg.DInner, cfg.VocabSize, cfg.EmbedDropout = 256, 4, 1024, 256, 0
	batch, seqLen := 16, 256
	if *quick {
		cfg.DModel, cfg.NLayer, cfg.DInner, batch, seqLen = 32, 2, 64, 2, 32
	}
	m, err := model.New(cfg, dev, 1)
	if err != nil {
		return err
	}
	tokens := make([]int32, batch*seqLen*4)
	for i := range tokens {
		tokens[i] = int32(rng.IntN(cfg.VocabSize))
	}
	sampler, err := data.NewSampler(tokens, batch, seqLen, 1)
	if err != nil {
		return err
	}
	stepper := train.NewStepper(m, train.Options{Batch: batch, Context: seqLen, LR: 1e-3, Steps: 100}, 100)
	var stepErr error
	sec := best(func() {
		if _, err := stepper.Run(sampler.Next); err != nil {
			stepErr = err
		}
	})
	if stepErr != nil {
		return stepErr
	}
	add(fmt.Sprintf("train step h3 d=%d L=%d B=%d", cfg.DModel, seqLen, batch), sec, float64(batch*seqLen)/sec, "tokens/s")

	st, err := m.NewState(1)
	if err != nil {
		return err
	}
	if _, err := st.Prefill(tokens[:seqLen], seqLen); err != nil {
		return err
	}
	const genTokens = 64
	sec = best(func() {
		for i := 0; i < genTokens; i++ {
			if _, err := st.Step(tokens[i : i+1]); err != nil {
				stepErr = err
			}
		}
	})
	if stepErr != nil {
		return stepErr
	}
	add(fmt.Sprintf("generate h3 d=%d (recurrent step)", cfg.DModel), sec/genTokens, genTokens/sec, "tokens/s")

	if *long {
		if err := benchLong(dev, *quick, add); err != nil {
			return err
		}
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(map[string]any{"device": dev.Name(), "results": results})
	}
	return nil
}
