// Package fft computes float32 real discrete Fourier transforms of power-of-two length.
//
// An n-point real transform runs as an n/2-point complex transform of the samples packed
// in pairs (even index in the real part, odd in the imaginary part), followed by an
// O(n) pass that separates the spectra of the even and odd samples (and, for the inverse,
// one that joins them). The complex transform is an in-place radix-4 decimation-in-time
// FFT whose passes over blocks larger than the L1 cache are split recursively, so every
// pass below the top few works on data that is already in cache. The butterflies, the
// split and join passes and the spectrum products run in AVX2+FMA assembly where the
// processor has it (see package cpu), else in their generic Go twins.
package fft

// The amd64 assembly (*_amd64.s) is written by tools/asmgen.
//
//go:generate go run ../../../tools/asmgen -pkg fft -out .

import (
	"fmt"
	"math"
	"math/bits"
	"sync"
	"unsafe"
)

// MinSize and MaxSize bound the transform lengths NewPlan accepts.
const (
	MinSize = 8
	MaxSize = 1 << 22
)

// leafSize is the largest complex block transformed pass by pass; 2^11 complex64 values
// (16 KiB) plus their twiddles stay in a 32 KiB L1 data cache. Larger blocks recurse.
const leafSize = 1 << 11

// Plan holds the tables of one transform length. Its tables are immutable after NewPlan,
// its scratch pool is safe for concurrent use, and so any number of goroutines may use a
// plan at once.
type Plan struct {
	n int // real length
	m int // complex length n/2
	// tw[h+j] = exp(-2πi·j/(2h)) for every power of two h ≤ m and 0 ≤ j < h: the
	// twiddles of the radix-2 stage of half-size h lie contiguously at tw[h:2h], and
	// tw[m:m+m/2+1] are the exp(-2πi·k/n) of the real-to-complex split.
	tw []complex64
	// rev4[t] is the bit reversal of 4t over log2(m) bits: the first of the four packed
	// inputs of the 4-point block t.
	rev4 []int32
	// scratch holds *[]complex64 buffers of m values for Inverse, which builds the packed
	// spectrum in natural order before permuting it; pooled so that calls do not allocate.
	scratch sync.Pool
}

var plans sync.Map // int → *Plan; plans are safe for concurrent use, so one per length serves all

// NewPlan returns the plan for real transforms of length n, a power of two in
// [MinSize, MaxSize]. Plans are cached per length for the life of the process.
func NewPlan(n int) (*Plan, error) {
	if n < MinSize || n > MaxSize || n&(n-1) != 0 {
		return nil, fmt.Errorf("fft: length %d is not a power of two in [%d, %d]", n, MinSize, MaxSize)
	}
	if p, ok := plans.Load(n); ok {
		return p.(*Plan), nil
	}
	p, _ := plans.LoadOrStore(n, newPlan(n))
	return p.(*Plan), nil
}

func newPlan(n int) *Plan {
	m := n / 2
	p := &Plan{n: n, m: m, tw: make([]complex64, m+m/2+1), rev4: make([]int32, m/4)}
	for h := 1; h <= m; h *= 2 {
		cnt := h
		if h == m {
			cnt = m/2 + 1
		}
		for j := 0; j < cnt; j++ {
			// Angles computed in float64 from exact integers, then rounded once, so every
			// twiddle is the correctly rounded float32 of the exact value (up to sincos's
			// own sub-ulp error).
			s, c := math.Sincos(-2 * math.Pi * float64(j) / float64(2*h))
			p.tw[h+j] = complex(float32(c), float32(s))
		}
	}
	logm := bits.TrailingZeros(uint(m))
	for t := range p.rev4 {
		p.rev4[t] = int32(bits.Reverse64(uint64(4*t)) >> (64 - logm))
	}
	return p
}

// Len is the real transform length n.
func (p *Plan) Len() int { return p.n }

// Forward stores the first n/2+1 bins of the unnormalised DFT of src in dst:
// dst[k] = Σ_j src[j]·exp(-2πi·jk/n). src may be shorter than n and is then taken as
// zero-padded to n; a src of exactly n/2 values (what a linear convolution transforms)
// takes a faster path. len(dst) must be n/2+1, and dst and src must not overlap. It
// allocates nothing.
func (p *Plan) Forward(dst []complex64, src []float32) {
	m := p.m
	if len(src) > p.n || len(dst) != m+1 {
		panic(fmt.Sprintf("fft: Forward of length %d got src %d, dst %d", p.n, len(src), len(dst)))
	}
	z := dst[:m]
	// Pack pairs of samples as complex values (their memory layout already is that of
	// complex64), in bit-reversed order, and run the two trivial radix-2 stages on the way.
	switch len(src) {
	case p.n:
		pack(z, unsafe.Slice((*complex64)(unsafe.Pointer(&src[0])), m), p.rev4, false)
	case m:
		pack(z, unsafe.Slice((*complex64)(unsafe.Pointer(&src[0])), m/2), p.rev4, true)
	default:
		q1, q2, q3 := m/2, m/4, 3*m/4
		pair := func(j int) complex64 {
			switch {
			case 2*j+1 < len(src):
				return complex(src[2*j], src[2*j+1])
			case 2*j < len(src):
				return complex(src[2*j], 0)
			}
			return 0
		}
		for t, j0 := range p.rev4 {
			j := int(j0)
			butterfly4(z[4*t:4*t+4:4*t+4], pair(j), pair(j+q1), pair(j+q2), pair(j+q3))
		}
	}
	p.transform(z)
	p.splitForward(dst)
}

// Inverse stores in dst the length-n real signal whose spectrum (as Forward returns it) is
// src, including the 1/n factor, so Inverse(Forward(x)) == x up to rounding. The
// imaginary parts of src[0] and src[n/2], which a real signal's spectrum cannot have, are
// ignored. len(src) must be n/2+1 and len(dst) n; they must not overlap. Its scratch
// buffer of n/2 complex values comes from a pool in the plan, so once warm it allocates
// nothing.
func (p *Plan) Inverse(dst []float32, src []complex64) {
	m := p.m
	if len(dst) != p.n || len(src) != m+1 {
		panic(fmt.Sprintf("fft: Inverse of length %d got dst %d, src %d", p.n, len(dst), len(src)))
	}
	w := p.tw[m:]
	sp, _ := p.scratch.Get().(*[]complex64)
	if sp == nil {
		buf := make([]complex64, m)
		sp = &buf
	}
	zs := *sp
	{
		x0, xm := real(src[0]), real(src[m])
		// Z[0] = (x0 + xm) + i(x0 − xm), stored swapped; the imaginary parts of the end
		// bins do not enter.
		zs[0] = complex(x0-xm, x0+xm)
	}
	blocks := pairBlocks(m)
	join(zs, src, w, blocks)
	for k := 4*blocks + 1; k <= m/2; k++ {
		joinPair(zs, src, w, k)
	}
	// dst has exactly the bytes of m complex64 values and complex64 needs only float32
	// alignment, so the complex transform runs in dst itself.
	z := unsafe.Slice((*complex64)(unsafe.Pointer(&dst[0])), m)
	pack(z, zs, p.rev4, false)
	p.scratch.Put(sp)
	p.transform(z)
	// The join stored swap(Z) (real and imaginary parts exchanged): the forward transform
	// of swap(Z) is swap of m times the inverse transform of Z, so exchanging the parts
	// again while scaling finishes the inverse.
	swapScale(z, 1/float32(p.n))
}

// pairBlocks is how many blocks of four bins k = 1+4b … 4+4b the vector split and join
// kernels take: as many as leave each block disjoint from its mirror m−k, which is every
// k < m/2 − 3.
func pairBlocks(m int) int { return max(0, m/8-1) }

// butterfly4 runs the first two radix-2 stages on four bit-reversed inputs.
func butterfly4(out []complex64, a, b, c, d complex64) {
	a1, b1 := a+b, a-b
	c1, d1 := c+d, c-d
	// -i·d1
	md := complex(imag(d1), -real(d1))
	out[0] = a1 + c1
	out[2] = a1 - c1
	out[1] = b1 + md
	out[3] = b1 - md
}

// transform runs the stages of half-size 4 and up on z, whose first two stages are done.
func (p *Plan) transform(z []complex64) {
	n := len(z)
	if n <= leafSize {
		h := 4
		for ; 4*h <= n; h *= 4 {
			radix4(z, p.tw[h:2*h], p.tw[2*h:3*h])
		}
		if 2*h <= n {
			radix2(z, p.tw[h:2*h])
		}
		return
	}
	// Above the leaf, radix-4 levels first recurse into the four quarters, so their stages
	// run while each quarter is still cached; an odd number of levels above the leaf takes
	// one radix-2 level at the top.
	if (bits.TrailingZeros(uint(n))-bits.TrailingZeros(leafSize))%2 == 1 {
		p.transform(z[:n/2])
		p.transform(z[n/2:])
		radix2(z, p.tw[n/2:n])
		return
	}
	q := n / 4
	for i := 0; i < 4; i++ {
		p.transform(z[i*q : (i+1)*q])
	}
	radix4(z, p.tw[q:2*q], p.tw[2*q:3*q])
}

// splitForward turns Z, the m-point transform of the packed samples held in dst[:m], into
// the n/2+1 bins of the real transform, in place.
func (p *Plan) splitForward(dst []complex64) {
	m := p.m
	w := p.tw[m:]
	z0 := dst[0]
	dst[0] = complex(real(z0)+imag(z0), 0)
	dst[m] = complex(real(z0)-imag(z0), 0)
	blocks := pairBlocks(m)
	split(dst, w, blocks)
	for k := 4*blocks + 1; k <= m/2; k++ {
		splitPair(dst, w, k)
	}
}
