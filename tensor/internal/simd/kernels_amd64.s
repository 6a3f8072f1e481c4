//go:build amd64 && !noasm

#include "textflag.h"

// AVX2+FMA kernels. The Go declarations and their contracts are in dispatch_amd64.go and
// sgemm.go. Loops take 32 floats (four ymm registers) per trip so that loads, arithmetic
// and stores of independent registers overlap, then 8 at a time, then one at a time for
// the last 0-7 elements; no load or store ever reaches past the end of a slice.
//
// Every macro is defined before the first TEXT: go vet's asmdecl attributes each line to the
// TEXT above it and would check a macro's frame references against the wrong function.
// Frame loads stay written out in each TEXT so that vet still checks them.

// REDUCE_Y0 folds the eight lanes of Y0 into the low float of X0.
#define REDUCE_Y0 \
	VEXTRACTF128 $1, Y0, X1 \
	VADDPS       X1, X0, X0 \
	VMOVHLPS     X0, X0, X1 \
	VADDPS       X1, X0, X0 \
	VPSHUFD      $1, X0, X1 \
	VADDSS       X1, X0, X0

// ELEMENTWISE is the loop skeleton shared by the streaming kernels below: CX elements,
// SI and DI read, DX written. BODY32, BODY8 and BODY1 process 32, 8 and 1 element(s) at
// the current pointers; the skeleton advances all three pointers after each, so a
// kernel with only one input aliases DI to another pointer rather than special-casing
// the stride. Labels are scoped to one TEXT, so each kernel may expand it once.
#define ELEMENTWISE(BODY32, BODY8, BODY1) \
	CMPQ CX, $32 \
	JLT  tail8 \
loop32: \
	BODY32 \
	ADDQ $128, SI \
	ADDQ $128, DI \
	ADDQ $128, DX \
	SUBQ $32, CX \
	CMPQ CX, $32 \
	JGE  loop32 \
tail8: \
	CMPQ CX, $8 \
	JLT  tail1 \
loop8: \
	BODY8 \
	ADDQ $32, SI \
	ADDQ $32, DI \
	ADDQ $32, DX \
	SUBQ $8, CX \
	CMPQ CX, $8 \
	JGE  loop8 \
tail1: \
	TESTQ CX, CX \
	JEQ   done \
loop1: \
	BODY1 \
	ADDQ $4, SI \
	ADDQ $4, DI \
	ADDQ $4, DX \
	DECQ CX \
	JNE  loop1 \
done: \
	VZEROUPPER \
	RET

#define STORE_Y0_Y3 \
	VMOVUPS Y0, 0(DX) \
	VMOVUPS Y1, 32(DX) \
	VMOVUPS Y2, 64(DX) \
	VMOVUPS Y3, 96(DX)

// BINARY_* compute (DX) = (SI) op (DI) with the packed (ps) or scalar (ss) form of op.
#define BINARY_32(ps) \
	VMOVUPS 0(SI), Y0 \
	VMOVUPS 32(SI), Y1 \
	VMOVUPS 64(SI), Y2 \
	VMOVUPS 96(SI), Y3 \
	ps      0(DI), Y0, Y0 \
	ps      32(DI), Y1, Y1 \
	ps      64(DI), Y2, Y2 \
	ps      96(DI), Y3, Y3 \
	STORE_Y0_Y3

#define BINARY_8(ps) \
	VMOVUPS 0(SI), Y0 \
	ps      0(DI), Y0, Y0 \
	VMOVUPS Y0, 0(DX)

#define BINARY_1(ss) \
	VMOVSS (SI), X0 \
	ss     (DI), X0, X0 \
	VMOVSS X0, (DX)

// MULADD_* compute (DX) += (SI) * (DI); the dst and a loads are interleaved so the
// four FMAs can issue as soon as their operands arrive.
#define MULADD_32 \
	VMOVUPS     0(DX), Y0 \
	VMOVUPS     0(SI), Y4 \
	VMOVUPS     32(DX), Y1 \
	VMOVUPS     32(SI), Y5 \
	VMOVUPS     64(DX), Y2 \
	VMOVUPS     64(SI), Y6 \
	VMOVUPS     96(DX), Y3 \
	VMOVUPS     96(SI), Y7 \
	VFMADD231PS 0(DI), Y4, Y0 \
	VFMADD231PS 32(DI), Y5, Y1 \
	VFMADD231PS 64(DI), Y6, Y2 \
	VFMADD231PS 96(DI), Y7, Y3 \
	STORE_Y0_Y3

#define MULADD_8 \
	VMOVUPS     0(DX), Y0 \
	VMOVUPS     0(SI), Y4 \
	VFMADD231PS 0(DI), Y4, Y0 \
	VMOVUPS     Y0, 0(DX)

#define MULADD_1 \
	VMOVSS      (DX), X0 \
	VMOVSS      (SI), X4 \
	VFMADD231SS (DI), X4, X0 \
	VMOVSS      X0, (DX)

// AXPY_* compute (DX) += Y15 * (SI), Y15 holding alpha in every lane.
#define AXPY_32 \
	VMOVUPS     0(DX), Y0 \
	VMOVUPS     32(DX), Y1 \
	VMOVUPS     64(DX), Y2 \
	VMOVUPS     96(DX), Y3 \
	VFMADD231PS 0(SI), Y15, Y0 \
	VFMADD231PS 32(SI), Y15, Y1 \
	VFMADD231PS 64(SI), Y15, Y2 \
	VFMADD231PS 96(SI), Y15, Y3 \
	STORE_Y0_Y3

#define AXPY_8 \
	VMOVUPS     0(DX), Y0 \
	VFMADD231PS 0(SI), Y15, Y0 \
	VMOVUPS     Y0, 0(DX)

#define AXPY_1 \
	VMOVSS      (DX), X0 \
	VFMADD231SS (SI), X15, X0 \
	VMOVSS      X0, (DX)

// SCALE_* compute (DX) = Y15 * (SI), Y15 holding alpha in every lane.
#define SCALE_32 \
	VMULPS 0(SI), Y15, Y0 \
	VMULPS 32(SI), Y15, Y1 \
	VMULPS 64(SI), Y15, Y2 \
	VMULPS 96(SI), Y15, Y3 \
	STORE_Y0_Y3

#define SCALE_8 \
	VMULPS  0(SI), Y15, Y0 \
	VMOVUPS Y0, 0(DX)

#define SCALE_1 \
	VMULSS (SI), X15, X0 \
	VMOVSS X0, (DX)

// TRANSPOSE_8X8 turns rows Y0..Y7 into columns Y8..Y15 (Y8 holds element 0 of every
// row, and so on), clobbering Y0..Y7.
#define TRANSPOSE_8X8 \
	VUNPCKLPS  Y1, Y0, Y8        \
	VUNPCKHPS  Y1, Y0, Y9        \
	VUNPCKLPS  Y3, Y2, Y10       \
	VUNPCKHPS  Y3, Y2, Y11       \
	VUNPCKLPS  Y5, Y4, Y12       \
	VUNPCKHPS  Y5, Y4, Y13       \
	VUNPCKLPS  Y7, Y6, Y14       \
	VUNPCKHPS  Y7, Y6, Y15       \
	VSHUFPS    $0x44, Y10, Y8, Y0 \
	VSHUFPS    $0xEE, Y10, Y8, Y1 \
	VSHUFPS    $0x44, Y11, Y9, Y2 \
	VSHUFPS    $0xEE, Y11, Y9, Y3 \
	VSHUFPS    $0x44, Y14, Y12, Y4 \
	VSHUFPS    $0xEE, Y14, Y12, Y5 \
	VSHUFPS    $0x44, Y15, Y13, Y6 \
	VSHUFPS    $0xEE, Y15, Y13, Y7 \
	VPERM2F128 $0x20, Y4, Y0, Y8 \
	VPERM2F128 $0x20, Y5, Y1, Y9 \
	VPERM2F128 $0x20, Y6, Y2, Y10 \
	VPERM2F128 $0x20, Y7, Y3, Y11 \
	VPERM2F128 $0x31, Y4, Y0, Y12 \
	VPERM2F128 $0x31, Y5, Y1, Y13 \
	VPERM2F128 $0x31, Y6, Y2, Y14 \
	VPERM2F128 $0x31, Y7, Y3, Y15

// KERN_STEP is one step of p in sgemmKernelAVX2: the 16 floats of packed B at BOFF(DI)
// go to Y0 and Y1, the 6 of packed A at AOFF(SI) are broadcast a pair at a time into Y2
// and Y3, and the 6×16 products are added to the sums in Y4..Y15.
#define KERN_STEP(BOFF, AOFF) \
	VMOVUPS BOFF(DI), Y0 \
	VMOVUPS BOFF+32(DI), Y1 \
	KERN_PAIR(AOFF, AOFF+4, Y4, Y5, Y6, Y7) \
	KERN_PAIR(AOFF+8, AOFF+12, Y8, Y9, Y10, Y11) \
	KERN_PAIR(AOFF+16, AOFF+20, Y12, Y13, Y14, Y15)

#define KERN_PAIR(A0, A1, S0, S1, S2, S3) \
	VBROADCASTSS A0(SI), Y2 \
	VBROADCASTSS A1(SI), Y3 \
	VFMADD231PS  Y0, Y2, S0 \
	VFMADD231PS  Y1, Y2, S1 \
	VFMADD231PS  Y0, Y3, S2 \
	VFMADD231PS  Y1, Y3, S3

// DOTS_ROW and DOTS_ROW_MASKED load 8 values of one row of A (all 8, or those that the
// mask at (AX) selects) into Y15 and add their products with B's rows in Y12..Y14 to the
// row's three sums S0..S2; for dots4x3AVX2.
#define DOTS_ROW(ADDR, S0, S1, S2) \
	VMOVUPS     ADDR, Y15 \
	VFMADD231PS Y12, Y15, S0 \
	VFMADD231PS Y13, Y15, S1 \
	VFMADD231PS Y14, Y15, S2

#define DOTS_ROW_MASKED(ADDR, S0, S1, S2) \
	VMOVUPS     (AX), Y15 \
	VMASKMOVPS  ADDR, Y15, Y15 \
	VFMADD231PS Y12, Y15, S0 \
	VFMADD231PS Y13, Y15, S1 \
	VFMADD231PS Y14, Y15, S2

// FOLD_HIGH_HALF adds the high 128 bits of Y to its low half X, clobbering X13.
#define FOLD_HIGH_HALF(Y, X) \
	VEXTRACTF128 $1, Y, X13 \
	VADDPS       X13, X, X

// DOTS_SUM3 sets the low three lanes of X13 to alpha (X12) times the horizontal sums of
// A, B and C, clobbering X14.
#define DOTS_SUM3(A, B, C) \
	VHADDPS B, A, X13 \
	VHADDPS C, C, X14 \
	VHADDPS X14, X13, X13 \
	VMULPS  X12, X13, X13

// DOTS_ADD_BETA_C adds beta (X15) times the three floats at DX to X13.
#define DOTS_ADD_BETA_C \
	VMOVSD      (DX), X14 \
	VINSERTPS   $0x20, 8(DX), X14, X14 \
	VFMADD231PS X14, X15, X13

// DOTS_STORE3 writes the low three lanes of X13 to DX.
#define DOTS_STORE3 \
	VMOVSD     X13, (DX) \
	VEXTRACTPS $2, X13, 8(DX)

// GEMVN_ROWS walks the k (R9) rows of a for gemvNAVX2 from DI, with x from SI: for each
// row it broadcasts x[p] into Y8 and runs ADD, which adds x[p] times the row's columns at
// R10 to the sums; R10..R12 are the walk's cursors. LOOP and DONE name its labels, which
// must differ between the expansions in one TEXT.
#define GEMVN_ROWS(ADD, LOOP, DONE) \
	MOVQ  DI, R10 \
	MOVQ  SI, R11 \
	MOVQ  R9, R12 \
	TESTQ R12, R12 \
	JEQ   DONE \
LOOP: \
	VBROADCASTSS (R11), Y8 \
	ADD \
	ADDQ  $4, R11 \
	ADDQ  R8, R10 \
	DECQ  R12 \
	JNE   LOOP

#define GEMVN_ADD64 \
	VFMADD231PS 0(R10), Y8, Y0 \
	VFMADD231PS 32(R10), Y8, Y1 \
	VFMADD231PS 64(R10), Y8, Y2 \
	VFMADD231PS 96(R10), Y8, Y3 \
	VFMADD231PS 128(R10), Y8, Y4 \
	VFMADD231PS 160(R10), Y8, Y5 \
	VFMADD231PS 192(R10), Y8, Y6 \
	VFMADD231PS 224(R10), Y8, Y7

#define GEMVN_ADD8 \
	VFMADD231PS (R10), Y8, Y0

// GEMVN_ADD_MASKED reads only the columns that the mask in Y9 selects.
#define GEMVN_ADD_MASKED \
	VMASKMOVPS  (R10), Y9, Y10 \
	VFMADD231PS Y10, Y8, Y0

// func dotAVX2(x, y []float32) float32
TEXT ·dotAVX2(SB), NOSPLIT, $0-52
	MOVQ   x_base+0(FP), SI
	MOVQ   x_len+8(FP), CX
	MOVQ   y_base+24(FP), DI
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	CMPQ   CX, $32
	JLT    dot_8

dot_32:
	VMOVUPS     (SI), Y4
	VMOVUPS     32(SI), Y5
	VMOVUPS     64(SI), Y6
	VMOVUPS     96(SI), Y7
	VFMADD231PS (DI), Y4, Y0
	VFMADD231PS 32(DI), Y5, Y1
	VFMADD231PS 64(DI), Y6, Y2
	VFMADD231PS 96(DI), Y7, Y3
	ADDQ        $128, SI
	ADDQ        $128, DI
	SUBQ        $32, CX
	CMPQ        CX, $32
	JGE         dot_32

dot_8:
	CMPQ CX, $8
	JLT  dot_reduce

dot_8loop:
	VMOVUPS     (SI), Y4
	VFMADD231PS (DI), Y4, Y0
	ADDQ        $32, SI
	ADDQ        $32, DI
	SUBQ        $8, CX
	CMPQ        CX, $8
	JGE         dot_8loop

dot_reduce:
	VADDPS Y1, Y0, Y0
	VADDPS Y3, Y2, Y2
	VADDPS Y2, Y0, Y0
	REDUCE_Y0
	TESTQ  CX, CX
	JEQ    dot_done

dot_1:
	VMOVSS      (SI), X1
	VFMADD231SS (DI), X1, X0
	ADDQ        $4, SI
	ADDQ        $4, DI
	DECQ        CX
	JNE         dot_1

dot_done:
	VMOVSS X0, ret+48(FP)
	VZEROUPPER
	RET

// func sumAVX2(x []float32) float32
TEXT ·sumAVX2(SB), NOSPLIT, $0-28
	MOVQ   x_base+0(FP), SI
	MOVQ   x_len+8(FP), CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	CMPQ   CX, $32
	JLT    sum_8

sum_32:
	VADDPS (SI), Y0, Y0
	VADDPS 32(SI), Y1, Y1
	VADDPS 64(SI), Y2, Y2
	VADDPS 96(SI), Y3, Y3
	ADDQ   $128, SI
	SUBQ   $32, CX
	CMPQ   CX, $32
	JGE    sum_32

sum_8:
	CMPQ CX, $8
	JLT  sum_reduce

sum_8loop:
	VADDPS (SI), Y0, Y0
	ADDQ   $32, SI
	SUBQ   $8, CX
	CMPQ   CX, $8
	JGE    sum_8loop

sum_reduce:
	VADDPS Y1, Y0, Y0
	VADDPS Y3, Y2, Y2
	VADDPS Y2, Y0, Y0
	REDUCE_Y0
	TESTQ  CX, CX
	JEQ    sum_done

sum_1:
	VADDSS (SI), X0, X0
	ADDQ   $4, SI
	DECQ   CX
	JNE    sum_1

sum_done:
	VMOVSS X0, ret+24(FP)
	VZEROUPPER
	RET

// func addAVX2(dst, a, b []float32)
TEXT ·addAVX2(SB), NOSPLIT, $0-72
	MOVQ dst_base+0(FP), DX
	MOVQ dst_len+8(FP), CX
	MOVQ a_base+24(FP), SI
	MOVQ b_base+48(FP), DI
	ELEMENTWISE(BINARY_32(VADDPS), BINARY_8(VADDPS), BINARY_1(VADDSS))

// func subAVX2(dst, a, b []float32)
TEXT ·subAVX2(SB), NOSPLIT, $0-72
	MOVQ dst_base+0(FP), DX
	MOVQ dst_len+8(FP), CX
	MOVQ a_base+24(FP), SI
	MOVQ b_base+48(FP), DI
	ELEMENTWISE(BINARY_32(VSUBPS), BINARY_8(VSUBPS), BINARY_1(VSUBSS))

// func mulAVX2(dst, a, b []float32)
TEXT ·mulAVX2(SB), NOSPLIT, $0-72
	MOVQ dst_base+0(FP), DX
	MOVQ dst_len+8(FP), CX
	MOVQ a_base+24(FP), SI
	MOVQ b_base+48(FP), DI
	ELEMENTWISE(BINARY_32(VMULPS), BINARY_8(VMULPS), BINARY_1(VMULSS))

// func mulAddAVX2(dst, a, b []float32)
TEXT ·mulAddAVX2(SB), NOSPLIT, $0-72
	MOVQ dst_base+0(FP), DX
	MOVQ dst_len+8(FP), CX
	MOVQ a_base+24(FP), SI
	MOVQ b_base+48(FP), DI
	ELEMENTWISE(MULADD_32, MULADD_8, MULADD_1)

// func axpyAVX2(alpha float32, x, y []float32)
TEXT ·axpyAVX2(SB), NOSPLIT, $0-56
	VBROADCASTSS alpha+0(FP), Y15
	MOVQ         x_base+8(FP), SI
	MOVQ         x_len+16(FP), CX
	MOVQ         y_base+32(FP), DX
	MOVQ         DX, DI
	ELEMENTWISE(AXPY_32, AXPY_8, AXPY_1)

// func scaleAVX2(dst []float32, alpha float32, x []float32)
TEXT ·scaleAVX2(SB), NOSPLIT, $0-56
	MOVQ         dst_base+0(FP), DX
	MOVQ         dst_len+8(FP), CX
	VBROADCASTSS alpha+24(FP), Y15
	MOVQ         x_base+32(FP), SI
	MOVQ         SI, DI
	ELEMENTWISE(SCALE_32, SCALE_8, SCALE_1)

// func sgemmKernelAVX2(k int, a, b, c []float32, ldc int, alpha, beta float32)
//
// Y4..Y15 hold the 6×16 tile of sums (row r in Y(4+2r), Y(5+2r)); Y0, Y1 hold the 16
// values of packed B for one p, and Y2, Y3 broadcast two values of packed A. Each p costs
// 2 loads, 6 broadcasts and 12 FMAs, so the FMA ports, not the loads, set the pace.
TEXT ·sgemmKernelAVX2(SB), NOSPLIT, $0-96
	MOVQ k+0(FP), CX
	MOVQ a_base+8(FP), SI
	MOVQ b_base+32(FP), DI
	MOVQ c_base+56(FP), DX
	MOVQ ldc+80(FP), R8
	SHLQ $2, R8

	// Fetch the C tile early so its cache misses overlap the k loop.
	MOVQ       DX, R9
	PREFETCHT0 (R9)
	PREFETCHT0 60(R9)
	ADDQ       R8, R9
	PREFETCHT0 (R9)
	PREFETCHT0 60(R9)
	ADDQ       R8, R9
	PREFETCHT0 (R9)
	PREFETCHT0 60(R9)
	ADDQ       R8, R9
	PREFETCHT0 (R9)
	PREFETCHT0 60(R9)
	ADDQ       R8, R9
	PREFETCHT0 (R9)
	PREFETCHT0 60(R9)
	ADDQ       R8, R9
	PREFETCHT0 (R9)
	PREFETCHT0 60(R9)
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11
	VXORPS Y12, Y12, Y12
	VXORPS Y13, Y13, Y13
	VXORPS Y14, Y14, Y14
	VXORPS Y15, Y15, Y15

	MOVQ CX, R10
	SHRQ $2, R10
	JEQ  kern_tail

kern_loop4:
	KERN_STEP(0, 0)
	KERN_STEP(64, 24)
	KERN_STEP(128, 48)
	KERN_STEP(192, 72)
	ADDQ $96, SI
	ADDQ $256, DI
	DECQ R10
	JNE  kern_loop4

kern_tail:
	ANDQ $3, CX
	JEQ  kern_store

kern_loop1:
	KERN_STEP(0, 0)
	ADDQ $24, SI
	ADDQ $64, DI
	DECQ CX
	JNE  kern_loop1

kern_store:
	VBROADCASTSS alpha+88(FP), Y0
	VMULPS Y0, Y4, Y4
	VMULPS Y0, Y5, Y5
	VMULPS Y0, Y6, Y6
	VMULPS Y0, Y7, Y7
	VMULPS Y0, Y8, Y8
	VMULPS Y0, Y9, Y9
	VMULPS Y0, Y10, Y10
	VMULPS Y0, Y11, Y11
	VMULPS Y0, Y12, Y12
	VMULPS Y0, Y13, Y13
	VMULPS Y0, Y14, Y14
	VMULPS Y0, Y15, Y15

	// beta == 0 (either sign) must not read C, which may hold NaN or garbage.
	MOVL beta+92(FP), AX
	SHLL $1, AX
	JEQ  kern_overwrite
	VBROADCASTSS beta+92(FP), Y1
	VFMADD231PS (DX), Y1, Y4
	VFMADD231PS 32(DX), Y1, Y5
	VMOVUPS Y4, (DX)
	VMOVUPS Y5, 32(DX)
	ADDQ R8, DX
	VFMADD231PS (DX), Y1, Y6
	VFMADD231PS 32(DX), Y1, Y7
	VMOVUPS Y6, (DX)
	VMOVUPS Y7, 32(DX)
	ADDQ R8, DX
	VFMADD231PS (DX), Y1, Y8
	VFMADD231PS 32(DX), Y1, Y9
	VMOVUPS Y8, (DX)
	VMOVUPS Y9, 32(DX)
	ADDQ R8, DX
	VFMADD231PS (DX), Y1, Y10
	VFMADD231PS 32(DX), Y1, Y11
	VMOVUPS Y10, (DX)
	VMOVUPS Y11, 32(DX)
	ADDQ R8, DX
	VFMADD231PS (DX), Y1, Y12
	VFMADD231PS 32(DX), Y1, Y13
	VMOVUPS Y12, (DX)
	VMOVUPS Y13, 32(DX)
	ADDQ R8, DX
	VFMADD231PS (DX), Y1, Y14
	VFMADD231PS 32(DX), Y1, Y15
	VMOVUPS Y14, (DX)
	VMOVUPS Y15, 32(DX)
	VZEROUPPER
	RET

kern_overwrite:
	VMOVUPS Y4, (DX)
	VMOVUPS Y5, 32(DX)
	ADDQ R8, DX
	VMOVUPS Y6, (DX)
	VMOVUPS Y7, 32(DX)
	ADDQ R8, DX
	VMOVUPS Y8, (DX)
	VMOVUPS Y9, 32(DX)
	ADDQ R8, DX
	VMOVUPS Y10, (DX)
	VMOVUPS Y11, 32(DX)
	ADDQ R8, DX
	VMOVUPS Y12, (DX)
	VMOVUPS Y13, 32(DX)
	ADDQ R8, DX
	VMOVUPS Y14, (DX)
	VMOVUPS Y15, 32(DX)
	VZEROUPPER
	RET

// func packB16RowsAVX2(dst, src []float32, kb, ldb int)
//
// dst[p·16+j] = src[p·ldb+j] for p < kb, j < 16.
TEXT ·packB16RowsAVX2(SB), NOSPLIT, $0-64
	MOVQ dst_base+0(FP), DI
	MOVQ src_base+24(FP), SI
	MOVQ kb+48(FP), CX
	MOVQ ldb+56(FP), R8
	SHLQ $2, R8
	TESTQ CX, CX
	JEQ  pbr_done

pbr_loop:
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y1
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	ADDQ    R8, SI
	ADDQ    $64, DI
	DECQ    CX
	JNE     pbr_loop

pbr_done:
	VZEROUPPER
	RET

// func packB16ColsAVX2(dst, src []float32, kb, ldb int)
//
// dst[p·16+j] = src[j·ldb+p] for p < kb&^7, j < 16: two 8×8 transposes per 8 values of p.
TEXT ·packB16ColsAVX2(SB), NOSPLIT, $0-64
	MOVQ dst_base+0(FP), DI
	MOVQ src_base+24(FP), SI
	MOVQ kb+48(FP), CX
	MOVQ ldb+56(FP), R8
	SHLQ $2, R8
	SHRQ $3, CX
	JEQ  pbc_done
	LEAQ (R8)(R8*2), R9 // 3 rows

pbc_loop:
	// Rows 0-7 of the sliver's columns: src rows j = 0..7.
	MOVQ    SI, AX
	VMOVUPS (AX), Y0
	VMOVUPS (AX)(R8*1), Y1
	VMOVUPS (AX)(R8*2), Y2
	VMOVUPS (AX)(R9*1), Y3
	LEAQ    (AX)(R8*4), AX
	VMOVUPS (AX), Y4
	VMOVUPS (AX)(R8*1), Y5
	VMOVUPS (AX)(R8*2), Y6
	VMOVUPS (AX)(R9*1), Y7
	LEAQ    (AX)(R8*4), AX
	TRANSPOSE_8X8
	VMOVUPS Y8, (DI)
	VMOVUPS Y9, 64(DI)
	VMOVUPS Y10, 128(DI)
	VMOVUPS Y11, 192(DI)
	VMOVUPS Y12, 256(DI)
	VMOVUPS Y13, 320(DI)
	VMOVUPS Y14, 384(DI)
	VMOVUPS Y15, 448(DI)

	// src rows j = 8..15 fill the upper halves.
	VMOVUPS (AX), Y0
	VMOVUPS (AX)(R8*1), Y1
	VMOVUPS (AX)(R8*2), Y2
	VMOVUPS (AX)(R9*1), Y3
	LEAQ    (AX)(R8*4), AX
	VMOVUPS (AX), Y4
	VMOVUPS (AX)(R8*1), Y5
	VMOVUPS (AX)(R8*2), Y6
	VMOVUPS (AX)(R9*1), Y7
	TRANSPOSE_8X8
	VMOVUPS Y8, 32(DI)
	VMOVUPS Y9, 96(DI)
	VMOVUPS Y10, 160(DI)
	VMOVUPS Y11, 224(DI)
	VMOVUPS Y12, 288(DI)
	VMOVUPS Y13, 352(DI)
	VMOVUPS Y14, 416(DI)
	VMOVUPS Y15, 480(DI)

	ADDQ $32, SI
	ADDQ $512, DI
	DECQ CX
	JNE  pbc_loop

pbc_done:
	VZEROUPPER
	RET

// func packA6RowsAVX2(dst, src []float32, kb, lda int)
//
// dst[p·6+r] = src[r·lda+p] for p < kb&^7, r < 6. Each 8×8 transpose takes row 5 twice
// more as rows 6 and 7 and stores 8 values per p; the two extra values land where the
// next p's values go and are overwritten by them, so dst needs 2 floats of room past
// 6·(kb&^7).
TEXT ·packA6RowsAVX2(SB), NOSPLIT, $0-64
	MOVQ dst_base+0(FP), DI
	MOVQ src_base+24(FP), SI
	MOVQ kb+48(FP), CX
	MOVQ lda+56(FP), R8
	SHLQ $2, R8
	SHRQ $3, CX
	JEQ  pa_done
	LEAQ (R8)(R8*2), R9 // 3 rows

pa_loop:
	MOVQ    SI, AX
	VMOVUPS (AX), Y0
	VMOVUPS (AX)(R8*1), Y1
	VMOVUPS (AX)(R8*2), Y2
	VMOVUPS (AX)(R9*1), Y3
	LEAQ    (AX)(R8*4), AX
	VMOVUPS (AX), Y4
	VMOVUPS (AX)(R8*1), Y5
	VMOVAPS Y5, Y6
	VMOVAPS Y5, Y7
	TRANSPOSE_8X8
	VMOVUPS Y8, (DI)
	VMOVUPS Y9, 24(DI)
	VMOVUPS Y10, 48(DI)
	VMOVUPS Y11, 72(DI)
	VMOVUPS Y12, 96(DI)
	VMOVUPS Y13, 120(DI)
	VMOVUPS Y14, 144(DI)
	VMOVUPS Y15, 168(DI)
	ADDQ    $32, SI
	ADDQ    $192, DI
	DECQ    CX
	JNE     pa_loop

pa_done:
	VZEROUPPER
	RET

// Lanes 0..7 all ones, then 8 zero lanes: loading 8 lanes from float index 8-r gives a
// mask of the first r lanes.
DATA dotsMask<>+0(SB)/4, $0xffffffff
DATA dotsMask<>+4(SB)/4, $0xffffffff
DATA dotsMask<>+8(SB)/4, $0xffffffff
DATA dotsMask<>+12(SB)/4, $0xffffffff
DATA dotsMask<>+16(SB)/4, $0xffffffff
DATA dotsMask<>+20(SB)/4, $0xffffffff
DATA dotsMask<>+24(SB)/4, $0xffffffff
DATA dotsMask<>+28(SB)/4, $0xffffffff
DATA dotsMask<>+32(SB)/4, $0
DATA dotsMask<>+36(SB)/4, $0
DATA dotsMask<>+40(SB)/4, $0
DATA dotsMask<>+44(SB)/4, $0
DATA dotsMask<>+48(SB)/4, $0
DATA dotsMask<>+52(SB)/4, $0
DATA dotsMask<>+56(SB)/4, $0
DATA dotsMask<>+60(SB)/4, $0
GLOBL dotsMask<>(SB), RODATA|NOPTR, $64

// func dots4x3AVX2(k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, alpha, beta float32)
//
// C[i][j] = alpha·Σₚ a[i·lda+p]·b[j·ldb+p] + beta·C[i][j] for i < 4, j < 3. Y0..Y11 hold
// the 12 sums (row i in Y(3i)..Y(3i+2)); Y12..Y14 hold 8 values of the three rows of B
// and Y15 the same 8 of one row of A, so each 8 values of p cost 7 loads and 12 FMAs.
// The last k mod 8 values are read with masked loads, which never touch memory past the
// rows.
TEXT ·dots4x3AVX2(SB), NOSPLIT, $0-112
	MOVQ k+0(FP), CX
	MOVQ a_base+8(FP), SI
	MOVQ lda+32(FP), R8
	SHLQ $2, R8
	LEAQ (R8)(R8*2), R9
	MOVQ b_base+40(FP), DI
	MOVQ ldb+64(FP), R10
	SHLQ $2, R10
	MOVQ c_base+72(FP), DX
	MOVQ ldc+96(FP), R11
	SHLQ $2, R11
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11
	MOVQ CX, BX
	SHRQ $3, BX
	JEQ  dots_tail

dots_loop:
	VMOVUPS (DI), Y12
	VMOVUPS (DI)(R10*1), Y13
	VMOVUPS (DI)(R10*2), Y14
	DOTS_ROW((SI), Y0, Y1, Y2)
	DOTS_ROW((SI)(R8*1), Y3, Y4, Y5)
	DOTS_ROW((SI)(R8*2), Y6, Y7, Y8)
	DOTS_ROW((SI)(R9*1), Y9, Y10, Y11)
	ADDQ $32, SI
	ADDQ $32, DI
	DECQ BX
	JNE  dots_loop

dots_tail:
	ANDQ $7, CX
	JEQ  dots_reduce
	LEAQ dotsMask<>(SB), AX
	MOVQ $8, BX
	SUBQ CX, BX
	LEAQ (AX)(BX*4), AX
	VMOVUPS (AX), Y15
	VMASKMOVPS (DI), Y15, Y12
	VMASKMOVPS (DI)(R10*1), Y15, Y13
	VMASKMOVPS (DI)(R10*2), Y15, Y14
	DOTS_ROW_MASKED((SI), Y0, Y1, Y2)
	DOTS_ROW_MASKED((SI)(R8*1), Y3, Y4, Y5)
	DOTS_ROW_MASKED((SI)(R8*2), Y6, Y7, Y8)
	DOTS_ROW_MASKED((SI)(R9*1), Y9, Y10, Y11)

dots_reduce:
	// Fold each row's three sums into the low three lanes of X13.
	FOLD_HIGH_HALF(Y0, X0)
	FOLD_HIGH_HALF(Y1, X1)
	FOLD_HIGH_HALF(Y2, X2)
	FOLD_HIGH_HALF(Y3, X3)
	FOLD_HIGH_HALF(Y4, X4)
	FOLD_HIGH_HALF(Y5, X5)
	FOLD_HIGH_HALF(Y6, X6)
	FOLD_HIGH_HALF(Y7, X7)
	FOLD_HIGH_HALF(Y8, X8)
	FOLD_HIGH_HALF(Y9, X9)
	FOLD_HIGH_HALF(Y10, X10)
	FOLD_HIGH_HALF(Y11, X11)
	VBROADCASTSS alpha+104(FP), X12
	MOVL beta+108(FP), AX
	SHLL $1, AX
	JEQ  dots_overwrite
	VBROADCASTSS beta+108(FP), X15
	DOTS_SUM3(X0, X1, X2)
	DOTS_ADD_BETA_C
	DOTS_STORE3
	ADDQ R11, DX
	DOTS_SUM3(X3, X4, X5)
	DOTS_ADD_BETA_C
	DOTS_STORE3
	ADDQ R11, DX
	DOTS_SUM3(X6, X7, X8)
	DOTS_ADD_BETA_C
	DOTS_STORE3
	ADDQ R11, DX
	DOTS_SUM3(X9, X10, X11)
	DOTS_ADD_BETA_C
	DOTS_STORE3
	VZEROUPPER
	RET

dots_overwrite:
	DOTS_SUM3(X0, X1, X2)
	DOTS_STORE3
	ADDQ R11, DX
	DOTS_SUM3(X3, X4, X5)
	DOTS_STORE3
	ADDQ R11, DX
	DOTS_SUM3(X6, X7, X8)
	DOTS_STORE3
	ADDQ R11, DX
	DOTS_SUM3(X9, X10, X11)
	DOTS_STORE3
	VZEROUPPER
	RET

// func gemvNAVX2(k int, x []float32, a []float32, lda int, y []float32)
//
// y[j] += Σₚ x[p]·a[p·lda+j] for j < len(y), p < k: adds k scaled rows. Columns go 64 at a
// time with the sums in Y0..Y7 for the whole walk down the rows, so y is read and written
// once and every element of a is loaded once; then 8 at a time, then a masked remainder.
// Each column adds its terms in row order with one rounding each (FMA), whichever loop
// computes it.
TEXT ·gemvNAVX2(SB), NOSPLIT, $0-88
	MOVQ k+0(FP), R9
	MOVQ x_base+8(FP), SI
	MOVQ a_base+32(FP), DI
	MOVQ lda+56(FP), R8
	SHLQ $2, R8
	MOVQ y_base+64(FP), DX
	MOVQ y_len+72(FP), CX

gemvn_64:
	CMPQ CX, $64
	JLT  gemvn_8
	VMOVUPS 0(DX), Y0
	VMOVUPS 32(DX), Y1
	VMOVUPS 64(DX), Y2
	VMOVUPS 96(DX), Y3
	VMOVUPS 128(DX), Y4
	VMOVUPS 160(DX), Y5
	VMOVUPS 192(DX), Y6
	VMOVUPS 224(DX), Y7
	GEMVN_ROWS(GEMVN_ADD64, gemvn_64loop, gemvn_64store)

gemvn_64store:
	VMOVUPS Y0, 0(DX)
	VMOVUPS Y1, 32(DX)
	VMOVUPS Y2, 64(DX)
	VMOVUPS Y3, 96(DX)
	VMOVUPS Y4, 128(DX)
	VMOVUPS Y5, 160(DX)
	VMOVUPS Y6, 192(DX)
	VMOVUPS Y7, 224(DX)
	ADDQ $256, DI
	ADDQ $256, DX
	SUBQ $64, CX
	JMP  gemvn_64

gemvn_8:
	CMPQ CX, $8
	JLT  gemvn_tail
	VMOVUPS (DX), Y0
	GEMVN_ROWS(GEMVN_ADD8, gemvn_8loop, gemvn_8store)

gemvn_8store:
	VMOVUPS Y0, (DX)
	ADDQ    $32, DI
	ADDQ    $32, DX
	SUBQ    $8, CX
	JMP     gemvn_8

gemvn_tail:
	TESTQ CX, CX
	JEQ   gemvn_done
	LEAQ  dotsMask<>(SB), AX
	MOVQ  $8, BX
	SUBQ  CX, BX
	VMOVUPS (AX)(BX*4), Y9
	VMASKMOVPS (DX), Y9, Y0
	GEMVN_ROWS(GEMVN_ADD_MASKED, gemvn_tailloop, gemvn_tailstore)

gemvn_tailstore:
	VMASKMOVPS Y0, Y9, (DX)

gemvn_done:
	VZEROUPPER
	RET

// func gemvTAVX2(k int, x []float32, a []float32, lda int, y []float32)
//
// y[j] = Σₚ a[j·lda+p]·x[p] for j < len(y), p < k: one dot product per row of a. Rows go
// 4 at a time, sharing each load of x (5 loads per 4 FMAs) and with 4 independent sums;
// the last k mod 8 values come through masked loads. The remaining 0-3 rows go one at a
// time.
TEXT ·gemvTAVX2(SB), NOSPLIT, $0-88
	MOVQ k+0(FP), R9
	MOVQ x_base+8(FP), SI
	MOVQ a_base+32(FP), DI
	MOVQ lda+56(FP), R8
	SHLQ $2, R8
	LEAQ (R8)(R8*2), R13
	MOVQ y_base+64(FP), DX
	MOVQ y_len+72(FP), CX
	// Y9 masks the first k mod 8 lanes.
	LEAQ    dotsMask<>(SB), AX
	MOVQ    R9, BX
	ANDQ    $7, BX
	NEGQ    BX
	ADDQ    $8, BX
	VMOVUPS (AX)(BX*4), Y9

gemvt_4:
	CMPQ   CX, $4
	JLT    gemvt_1
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	MOVQ   DI, R10
	MOVQ   SI, R11
	MOVQ   R9, R12
	SHRQ   $3, R12
	JEQ    gemvt_4tail

gemvt_4loop:
	VMOVUPS     (R11), Y8
	VFMADD231PS (R10), Y8, Y0
	VFMADD231PS (R10)(R8*1), Y8, Y1
	VFMADD231PS (R10)(R8*2), Y8, Y2
	VFMADD231PS (R10)(R13*1), Y8, Y3
	ADDQ        $32, R11
	ADDQ        $32, R10
	DECQ        R12
	JNE         gemvt_4loop

gemvt_4tail:
	TESTQ $7, R9
	JEQ   gemvt_4reduce
	VMASKMOVPS  (R11), Y9, Y8
	VMASKMOVPS  (R10), Y9, Y10
	VFMADD231PS Y10, Y8, Y0
	VMASKMOVPS  (R10)(R8*1), Y9, Y10
	VFMADD231PS Y10, Y8, Y1
	VMASKMOVPS  (R10)(R8*2), Y9, Y10
	VFMADD231PS Y10, Y8, Y2
	VMASKMOVPS  (R10)(R13*1), Y9, Y10
	VFMADD231PS Y10, Y8, Y3

gemvt_4reduce:
	// Lane sums of Y0..Y3 into the four lanes of X0.
	VEXTRACTF128 $1, Y0, X4
	VADDPS       X4, X0, X0
	VEXTRACTF128 $1, Y1, X4
	VADDPS       X4, X1, X1
	VEXTRACTF128 $1, Y2, X4
	VADDPS       X4, X2, X2
	VEXTRACTF128 $1, Y3, X4
	VADDPS       X4, X3, X3
	VHADDPS      X1, X0, X0
	VHADDPS      X3, X2, X2
	VHADDPS      X2, X0, X0
	VMOVUPS      X0, (DX)
	LEAQ         (DI)(R8*4), DI
	ADDQ         $16, DX
	SUBQ         $4, CX
	JMP          gemvt_4

gemvt_1:
	TESTQ CX, CX
	JEQ   gemvt_done
	VXORPS Y0, Y0, Y0
	MOVQ   DI, R10
	MOVQ   SI, R11
	MOVQ   R9, R12
	SHRQ   $3, R12
	JEQ    gemvt_1tail

gemvt_1loop:
	VMOVUPS     (R11), Y8
	VFMADD231PS (R10), Y8, Y0
	ADDQ        $32, R11
	ADDQ        $32, R10
	DECQ        R12
	JNE         gemvt_1loop

gemvt_1tail:
	TESTQ $7, R9
	JEQ   gemvt_1reduce
	VMASKMOVPS  (R11), Y9, Y8
	VMASKMOVPS  (R10), Y9, Y10
	VFMADD231PS Y10, Y8, Y0

gemvt_1reduce:
	// The same additions, in the same order, as for a row of four.
	VEXTRACTF128 $1, Y0, X4
	VADDPS       X4, X0, X0
	VHADDPS      X0, X0, X0
	VHADDPS      X0, X0, X0
	VMOVSS       X0, (DX)
	ADDQ   R8, DI
	ADDQ   $4, DX
	DECQ   CX
	JMP    gemvt_1

gemvt_done:
	VZEROUPPER
	RET
