// Package sample picks the next token from a model's logits: greedy, or random with
// temperature, top-k and nucleus (top-p) truncation.
package sample

import (
	"fmt"
	"math"
	"sort"

	"github.com/hungry-ssm/hungry/tensor"
)

// Options choose how a token is drawn. Temperature 0 means greedy, as in llama.cpp and
// Hugging Face, so the zero value is greedy; Default is the full softmax at temperature
// 1.
type Options struct {
	// Greedy takes the most likely token; the other fields are then ignored.
	Greedy bool
	// Temperature divides the logits; 0 takes the most likely token (greedy), the limit
	// of a temperature going to zero.
	Temperature float64
	// TopK keeps only the k most likely tokens (0: all).
	TopK int
	// TopP keeps the smallest set of most likely tokens whose probability reaches p, in
	// (0, 1] (1: all). 0 is not "off": a nucleus shrinking to nothing keeps the single
	// most likely token, so Next draws greedily, and Validate rejects it when sampling,
	// since a caller who left it unset most likely meant 1.
	TopP float64
}

// Default returns plain sampling: the full softmax at temperature 1.
func Default() Options { return Options{Temperature: 1, TopP: 1} }

// IsGreedy reports whether o always takes the most likely token.
func (o Options) IsGreedy() bool { return o.Greedy || o.Temperature == 0 }

// Validate reports options that make no sense.
func (o Options) Validate() error {
	switch {
	case o.Temperature < 0 || math.IsNaN(o.Temperature) || math.IsInf(o.Temperature, 0):
		return fmt.Errorf("temperature must be 0 (greedy) or positive, got %g", o.Temperature)
	case o.TopK < 0:
		return fmt.Errorf("top-k must not be negative, got %d", o.TopK)
	case o.TopP < 0 || o.TopP > 1 || math.IsNaN(o.TopP):
		return fmt.Errorf("top-p must lie in (0, 1], got %g", o.TopP)
	case o.TopP == 0 && !o.IsGreedy():
		return fmt.Errorf("top-p 0 keeps no token; give a value in (0, 1] (1: all), or temperature 0 for greedy")
	}
	return nil
}

// Next returns the id drawn from logits. Ties in greedy mode go to the lowest id, and
// random draws depend only on rng's state, so generation is reproducible from a seed.
func Next(logits []float32, o Options, rng *tensor.RNG) int32 {
	best := 0
	for i, v := range logits {
		if v > logits[best] {
			best = i
		}
	}
	if o.IsGreedy() || o.TopK == 1 || o.TopP <= 0 {
		return int32(best)
	}
	type cand struct {
		id int
		p  float64
	}
	cands := make([]cand, len(logits))
	maxL := float64(logits[best])
	total := 0.0
	for i, v := range logits {
		p := math.Exp((float64(v) - maxL) / o.Temperature)
		cands[i] = cand{i, p}
		total += p
	}
	sort.SliceStable(cands, func(a, b int) bool { return cands[a].p > cands[b].p })
	keep := len(cands)
	if o.TopK > 0 && o.TopK < keep {
		keep = o.TopK
	}
	if o.TopP < 1 {
		acc := 0.0
		for i := 0; i < keep; i++ {
			acc += cands[i].p / total
			if acc >= o.TopP {
				keep = i + 1
				break
			}
		}
	}
	kept := 0.0
	for _, c := range cands[:keep] {
		kept += c.p
	}
	u := rng.Float64() * kept
	for _, c := range cands[:keep] {
		u -= c.p
		if u < 0 {
			return int32(c.id)
		}
	}
	return int32(cands[keep-1].id)
}
