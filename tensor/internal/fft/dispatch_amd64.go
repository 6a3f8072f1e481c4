//go:build amd64 && !noasm

package fft

import "github.com/hungry-ssm/hungry/tensor/internal/cpu"

// The assembly, in kernels_amd64.s. Slices are read through their base pointers for the
// lengths the contracts in generic.go name; the Go callers guarantee the other lengths.
// The butterfly kernels take 4 complex values per ymm register, so their half-size h must
// be a multiple of 4, which every stage they run (h ≥ 4, a power of two) satisfies.

//go:noescape
func radix2AVX2(x, w []complex64)

//go:noescape
func radix4AVX2(x, w1, w2 []complex64)

//go:noescape
func mulSpectraAVX2(dst, a, b []complex64, conjA bool)

//go:noescape
func mulAddSpectraAVX2(dst, a, b []complex64, conjA bool)

func radix2(x, w []complex64) {
	if cpu.AVX2FMA {
		radix2AVX2(x, w)
		return
	}
	radix2Generic(x, w)
}

func radix4(x, w1, w2 []complex64) {
	if cpu.AVX2FMA {
		radix4AVX2(x, w1, w2)
		return
	}
	radix4Generic(x, w1, w2)
}

func mulSpectra(dst, a, b []complex64, conjA bool) {
	if cpu.AVX2FMA {
		mulSpectraAVX2(dst, a, b, conjA)
		return
	}
	mulSpectraGeneric(dst, a, b, conjA)
}

func mulAddSpectra(dst, a, b []complex64, conjA bool) {
	if cpu.AVX2FMA {
		mulAddSpectraAVX2(dst, a, b, conjA)
		return
	}
	mulAddSpectraGeneric(dst, a, b, conjA)
}

// transpose8AVX2 is transpose8Generic's twin; the caller guarantees that both 8×8 blocks
// lie within their slices.
//
//go:noescape
func transpose8AVX2(dst []float32, ldd int, src []float32, lds int)

func transpose8(dst []float32, ldd int, src []float32, lds int) {
	if cpu.AVX2FMA {
		transpose8AVX2(dst, ldd, src, lds)
		return
	}
	transpose8Generic(dst, ldd, src, lds)
}

// splitAVX2 and joinAVX2 take four bins k and their four mirrors m−k per step; the caller
// guarantees blocks ≤ pairBlocks(m) and len(w) > 4·blocks.
//
//go:noescape
func splitAVX2(z, w []complex64, blocks int)

//go:noescape
func joinAVX2(s, x, w []complex64, blocks int)

// swapScaleAVX2 takes a length that is a multiple of 4.
//
//go:noescape
func swapScaleAVX2(z []complex64, scale float32)

func split(z, w []complex64, blocks int) {
	if cpu.AVX2FMA {
		splitAVX2(z, w, blocks)
		return
	}
	splitGeneric(z, w, blocks)
}

func join(s, x, w []complex64, blocks int) {
	if cpu.AVX2FMA {
		joinAVX2(s, x, w, blocks)
		return
	}
	joinGeneric(s, x, w, blocks)
}

func swapScale(z []complex64, scale float32) {
	if cpu.AVX2FMA {
		n4 := len(z) &^ 3
		swapScaleAVX2(z[:n4], scale)
		swapScaleGeneric(z[n4:], scale)
		return
	}
	swapScaleGeneric(z, scale)
}

// packAVX2 takes four values of j per step, so it needs m ≥ 16.
//
//go:noescape
func packAVX2(z, x []complex64, rev4 []int32, half bool)

func pack(z, x []complex64, rev4 []int32, half bool) {
	if cpu.AVX2FMA && len(z) >= 16 {
		packAVX2(z, x, rev4, half)
		return
	}
	packGeneric(z, x, rev4, half)
}
