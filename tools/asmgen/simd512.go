package main

// The AVX-512 sgemm tile: 12 rows of C by 32 columns, two zmm registers a row.
const (
	mr512 = 12
	nr512 = 32
)

// simdKernels512 writes tensor/internal/simd/kernels_avx512_amd64.s: the AVX-512 family,
// the same kernels as simdKernels written again for Zmm where their code takes a Vec.
func simdKernels512() *File {
	a := NewFile("kernels_avx512_amd64.s")
	a.Doc(`AVX-512 (F, DQ, BW, VL) kernels, the zmm family beside the AVX2 one in
kernels_amd64.s; the same generator functions write both, given the register file.
Loops take 64 floats (four zmm registers) per trip, then 16 at a time, then one at a time
for the last 0-15 elements.`)
	v := Zmm
	dot(a, v)
	sum(a, v)
	for _, op := range []string{"add", "sub", "mul"} {
		binary(a, v, op)
	}
	mulAdd(a, v)
	axpy(a, v)
	scale(a, v)
	sgemmKernel(a, Zmm, mr512, nr512, `sgemmKernelAVX512 is the 12×32 register-blocked micro-kernel; see microKernel for
the contract. Z8..Z31 hold the 12×32 tile of sums (row r in Z(8+2r), Z(9+2r)); Z0, Z1
hold the 32 values of packed B for one p, and Z2..Z7 broadcast six values of packed A at a
time. Each p costs 2 loads, 12 broadcasts and 24 FMAs: twice the AVX2 kernel's work per
load of B, with 24 independent sums to cover the FMA latency on two 512-bit pipes.`)
	packBRows(a, Zmm, nr512)
	packBCols(a, "packB32ColsAVX512", nr512)
	packA12Rows(a)
	return a
}
