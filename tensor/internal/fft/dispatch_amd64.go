//go:build amd64 && !noasm

package fft

import "github.com/hungry-ssm/hungry/tensor/internal/cpu"

// The assembly is in kernels_amd64.s, declared in asm_amd64.go (both written by
// tools/asmgen). Slices are read through their base pointers for the lengths the
// contracts in generic.go name; the Go callers guarantee the other lengths.
// The AVX2 butterfly kernels take 4 complex values per ymm register, so their half-size h
// must be a multiple of 4, which every stage they run (h ≥ 4, a power of two) satisfies.

// The AVX-512 family has its own butterflies and spectrum products; its butterflies take
// 8 complex values per zmm register, so the stages with h = 4 run the AVX2 ones. Its
// other kernels (transposes, split, join, packing) are the AVX2 ones: they shuffle
// within 128-bit lanes and are a small part of a transform.

func radix2(x, w []complex64) { radix2On(cpu.Active, x, w) }

func radix4(x, w1, w2 []complex64) { radix4On(cpu.Active, x, w1, w2) }

func mulSpectra(dst, a, b []complex64, conjA bool) { mulSpectraOn(cpu.Active, dst, a, b, conjA) }

func mulAddSpectra(dst, a, b []complex64, conjA bool) {
	mulAddSpectraOn(cpu.Active, dst, a, b, conjA)
}

func radix2On(f cpu.Family, x, w []complex64) {
	switch {
	case f == cpu.AVX512 && len(w)%8 == 0:
		radix2AVX512(x, w)
	case f >= cpu.AVX2:
		radix2AVX2(x, w)
	default:
		radix2Generic(x, w)
	}
}

func radix4On(f cpu.Family, x, w1, w2 []complex64) {
	switch {
	case f == cpu.AVX512 && len(w1)%8 == 0:
		radix4AVX512(x, w1, w2)
	case f >= cpu.AVX2:
		radix4AVX2(x, w1, w2)
	default:
		radix4Generic(x, w1, w2)
	}
}

func mulSpectraOn(f cpu.Family, dst, a, b []complex64, conjA bool) {
	switch f {
	case cpu.AVX512:
		mulSpectraAVX512(dst, a, b, conjA)
	case cpu.AVX2:
		mulSpectraAVX2(dst, a, b, conjA)
	default:
		mulSpectraGeneric(dst, a, b, conjA)
	}
}

func mulAddSpectraOn(f cpu.Family, dst, a, b []complex64, conjA bool) {
	switch f {
	case cpu.AVX512:
		mulAddSpectraAVX512(dst, a, b, conjA)
	case cpu.AVX2:
		mulAddSpectraAVX2(dst, a, b, conjA)
	default:
		mulAddSpectraGeneric(dst, a, b, conjA)
	}
}

func transpose8(dst []float32, ldd int, src []float32, lds int) {
	if cpu.AVX2FMA {
		transpose8AVX2(dst, ldd, src, lds)
		return
	}
	transpose8Generic(dst, ldd, src, lds)
}

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

func pack(z, x []complex64, rev4 []int32, half bool) {
	if cpu.AVX2FMA && len(z) >= 16 {
		packAVX2(z, x, rev4, half)
		return
	}
	packGeneric(z, x, rev4, half)
}
