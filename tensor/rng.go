package tensor

import (
	"math"
	"math/rand/v2"
)

// RNG is a seeded deterministic random source. The same seed gives the same numbers on
// every platform and Go version (PCG is fully specified), and its state can be saved in a
// checkpoint for exact resumption.
type RNG struct {
	src *rand.PCG
	r   *rand.Rand
}

// NewRNG returns a generator seeded with seed.
func NewRNG(seed uint64) *RNG {
	src := rand.NewPCG(seed, 0x9e3779b97f4a7c15^seed)
	return &RNG{src: src, r: rand.New(src)}
}

// Uint64 returns a uniformly random 64-bit value.
func (g *RNG) Uint64() uint64 { return g.r.Uint64() }

// IntN returns a uniform integer in [0, n).
func (g *RNG) IntN(n int) int { return g.r.IntN(n) }

// Float32 returns a uniform value in [0, 1).
func (g *RNG) Float32() float32 { return g.r.Float32() }

// Float64 returns a uniform value in [0, 1).
func (g *RNG) Float64() float64 { return g.r.Float64() }

// NormFloat64 returns a standard normal value.
func (g *RNG) NormFloat64() float64 { return g.r.NormFloat64() }

// Normal returns n values drawn from N(mean, std²).
func (g *RNG) Normal(n int, mean, std float32) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = mean + std*float32(g.r.NormFloat64())
	}
	return out
}

// Uniform returns n values drawn from U[lo, hi).
func (g *RNG) Uniform(n int, lo, hi float32) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = lo + (hi-lo)*g.r.Float32()
	}
	return out
}

// Kaiming returns n values from PyTorch's default Linear initialisation,
// kaiming_uniform_(a=√5): U(±1/√fanIn).
func (g *RNG) Kaiming(n, fanIn int) []float32 {
	b := float32(1 / math.Sqrt(float64(fanIn)))
	return g.Uniform(n, -b, b)
}

// Split returns a new generator seeded from this one, so that independent streams (data
// order, dropout, initialisation) do not perturb each other.
func (g *RNG) Split() *RNG { return NewRNG(g.r.Uint64()) }

// MarshalBinary saves the generator's state.
func (g *RNG) MarshalBinary() ([]byte, error) { return g.src.MarshalBinary() }

// UnmarshalBinary restores a state saved by MarshalBinary.
func (g *RNG) UnmarshalBinary(b []byte) error { return g.src.UnmarshalBinary(b) }

// RandNormal returns a tensor on dev filled from N(0, std²).
func RandNormal(dev Device, g *RNG, std float32, shape ...int) *Tensor {
	return dev.FromHost(g.Normal(Numel(shape), 0, std), shape...)
}

// RandUniform returns a tensor on dev filled from U[lo, hi).
func RandUniform(dev Device, g *RNG, lo, hi float32, shape ...int) *Tensor {
	return dev.FromHost(g.Uniform(Numel(shape), lo, hi), shape...)
}
