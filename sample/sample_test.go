package sample

import (
	"math"
	"testing"

	"github.com/hungry-ssm/hungry/tensor"
)

func TestGreedyTakesTheLargestLogit(t *testing.T) {
	if got := Next([]float32{0.1, 3, -2, 3}, Options{Greedy: true}, nil); got != 1 {
		t.Fatalf("greedy picked %d, want 1 (first of the tied maxima)", got)
	}
}

func TestTopKAndTopPRestrictTheDraw(t *testing.T) {
	logits := []float32{2, 1.9, 0, -1, -5}
	rng := tensor.NewRNG(3)
	seen := map[int32]int{}
	for i := 0; i < 2000; i++ {
		seen[Next(logits, Options{Temperature: 1, TopK: 2, TopP: 1}, rng)]++
	}
	if len(seen) != 2 || seen[0] == 0 || seen[1] == 0 {
		t.Fatalf("top-2 draws hit %v, want exactly ids 0 and 1", seen)
	}
	// Id 0 alone holds about 0.48 of the probability, so a nucleus of 0.3 is id 0 alone.
	seen = map[int32]int{}
	for i := 0; i < 2000; i++ {
		seen[Next(logits, Options{Temperature: 1, TopP: 0.3}, rng)]++
	}
	if len(seen) != 1 || seen[0] != 2000 {
		t.Fatalf("top-p 0.3 draws hit %v, want only id 0", seen)
	}
}

func TestTemperatureSharpens(t *testing.T) {
	logits := []float32{1, 0}
	count := func(temp float64) int {
		rng := tensor.NewRNG(9)
		n := 0
		for i := 0; i < 4000; i++ {
			if Next(logits, Options{Temperature: temp, TopP: 1}, rng) == 0 {
				n++
			}
		}
		return n
	}
	// P(id 0) is 0.731 at T=1 and 0.982 at T=0.25; 4000 draws separate them by far more
	// than their standard deviations (~28 and ~8).
	if hot, cold := count(1), count(0.25); !(hot > 2700 && hot < 3150 && cold > 3850) {
		t.Fatalf("id 0 drawn %d times at T=1 and %d at T=0.25", hot, cold)
	}
}

func TestSameSeedSameDraws(t *testing.T) {
	logits := []float32{0.3, 0.2, 0.1, 0.4}
	a, b := tensor.NewRNG(5), tensor.NewRNG(5)
	for i := 0; i < 100; i++ {
		if Next(logits, Default(), a) != Next(logits, Default(), b) {
			t.Fatal("draws differ for the same seed")
		}
	}
}

func TestValidate(t *testing.T) {
	for _, o := range []Options{{Temperature: -1}, {TopK: -2}, {TopP: 1.5}, {Temperature: 1}, {Temperature: math.Inf(1), TopP: 1}} {
		if o.Validate() == nil {
			t.Errorf("%+v accepted", o)
		}
	}
	for _, o := range []Options{{}, Default(), {Temperature: 0, TopP: 1}, {Greedy: true}, {Temperature: 0.8, TopP: 0.95}} {
		if err := o.Validate(); err != nil {
			t.Errorf("%+v rejected: %v", o, err)
		}
	}
}

// TestTemperatureZeroIsGreedy: --temperature 0 once meant temperature 1. Greedy is the
// limit of a vanishing temperature (llama.cpp and Hugging Face read 0 so), and a nucleus
// of 0 keeps only the most likely token; on logits this flat, sampling at temperature 1
// would pick another id about two times in three.
func TestTemperatureZeroIsGreedy(t *testing.T) {
	logits := []float32{0.2, 0.5, 0.4, 0.1, 0.5}
	rng := tensor.NewRNG(11)
	for _, o := range []Options{{Temperature: 0, TopP: 1}, {Temperature: 0, TopK: 3, TopP: 0.9}, {Temperature: 1, TopP: 0}} {
		for i := 0; i < 500; i++ {
			if got := Next(logits, o, rng); got != 1 {
				t.Fatalf("%+v drew id %d on draw %d, want the greedy id 1 every time", o, got, i)
			}
		}
	}
	if !(Options{}).IsGreedy() || Default().IsGreedy() {
		t.Error("the zero Options must be greedy and Default must sample")
	}
}
