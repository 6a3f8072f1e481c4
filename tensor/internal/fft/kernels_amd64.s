//go:build amd64 && !noasm

#include "textflag.h"

// AVX2+FMA kernels; the contracts are the generic twins' in generic.go. Complex values are
// interleaved (re, im) float32 pairs, four per ymm register. A product x·w is
//   fmaddsub(x, re(w) re(w), swap(x) · im(w) im(w))
// = (xr·wr − xi·wi, xi·wr + xr·wi), one permute, one multiply and one fused op.

// negodd flips the sign of the imaginary lanes: conj(x) = x XOR negodd, and
// −i·x = swap(x) XOR negodd.
DATA negodd<>+0(SB)/4, $0x00000000
DATA negodd<>+4(SB)/4, $0x80000000
DATA negodd<>+8(SB)/4, $0x00000000
DATA negodd<>+12(SB)/4, $0x80000000
DATA negodd<>+16(SB)/4, $0x00000000
DATA negodd<>+20(SB)/4, $0x80000000
DATA negodd<>+24(SB)/4, $0x00000000
DATA negodd<>+28(SB)/4, $0x80000000
GLOBL negodd<>(SB), RODATA|NOPTR, $32

// negeven flips the sign of the real lanes: i·x = swap(x) XOR negeven.
DATA negeven<>+0(SB)/4, $0x80000000
DATA negeven<>+4(SB)/4, $0x00000000
DATA negeven<>+8(SB)/4, $0x80000000
DATA negeven<>+12(SB)/4, $0x00000000
DATA negeven<>+16(SB)/4, $0x80000000
DATA negeven<>+20(SB)/4, $0x00000000
DATA negeven<>+24(SB)/4, $0x80000000
DATA negeven<>+28(SB)/4, $0x00000000
GLOBL negeven<>(SB), RODATA|NOPTR, $32

DATA half<>+0(SB)/4, $0x3f000000
GLOBL half<>(SB), RODATA|NOPTR, $4

// CMUL sets T = X·W, where WR and WI hold W's real and imaginary parts duplicated into
// both lanes of each complex value. X is preserved.
#define CMUL(X, WR, WI, T) \
	VPERMILPS      $0xB1, X, T \
	VMULPS         WI, T, T    \
	VFMADDSUB231PS WR, X, T

// func radix2AVX2(x, w []complex64)
TEXT ·radix2AVX2(SB), NOSPLIT, $0-48
	MOVQ x_base+0(FP), SI
	MOVQ x_len+8(FP), CX
	MOVQ w_base+24(FP), R12
	MOVQ w_len+32(FP), R8
	TESTQ R8, R8
	JZ    r2_done
	SHLQ $3, R8          // half block, bytes
	SHLQ $3, CX
	ADDQ SI, CX          // end of x
	LEAQ (R8)(R8*1), R11 // block, bytes

r2_block:
	LEAQ (SI)(R11*1), AX
	CMPQ AX, CX
	JGT  r2_done
	LEAQ (SI)(R8*1), DI
	XORQ DX, DX

r2_inner:
	VMOVSLDUP (R12)(DX*1), Y8
	VMOVSHDUP (R12)(DX*1), Y9
	VMOVUPS   (DI)(DX*1), Y1
	CMUL(Y1, Y8, Y9, Y2)
	VMOVUPS   (SI)(DX*1), Y0
	VADDPS    Y2, Y0, Y3
	VSUBPS    Y2, Y0, Y4
	VMOVUPS   Y3, (SI)(DX*1)
	VMOVUPS   Y4, (DI)(DX*1)
	ADDQ      $32, DX
	CMPQ      DX, R8
	JLT       r2_inner
	MOVQ      AX, SI
	JMP       r2_block

r2_done:
	VZEROUPPER
	RET

// func radix4AVX2(x, w1, w2 []complex64)
TEXT ·radix4AVX2(SB), NOSPLIT, $0-72
	MOVQ x_base+0(FP), SI
	MOVQ x_len+8(FP), CX
	MOVQ w1_base+24(FP), R12
	MOVQ w1_len+32(FP), R8
	MOVQ w2_base+48(FP), R13
	TESTQ R8, R8
	JZ    r4_done
	VMOVUPS negodd<>(SB), Y15
	SHLQ $3, R8          // quarter block, bytes
	SHLQ $3, CX
	ADDQ SI, CX          // end of x
	LEAQ (R8)(R8*1), R14
	ADDQ R14, R14        // block, bytes

r4_block:
	LEAQ (SI)(R14*1), AX
	CMPQ AX, CX
	JGT  r4_done
	LEAQ (SI)(R8*1), R9
	LEAQ (R9)(R8*1), R10
	LEAQ (R10)(R8*1), R11
	XORQ DX, DX

r4_inner:
	// First stage, half-size h: (a, b) and (c, d) with twiddle w1.
	VMOVSLDUP (R12)(DX*1), Y8
	VMOVSHDUP (R12)(DX*1), Y9
	VMOVUPS   (R9)(DX*1), Y1
	CMUL(Y1, Y8, Y9, Y12)
	VMOVUPS   (R11)(DX*1), Y3
	CMUL(Y3, Y8, Y9, Y13)
	VMOVUPS   (SI)(DX*1), Y0
	VMOVUPS   (R10)(DX*1), Y2
	VADDPS    Y12, Y0, Y4
	VSUBPS    Y12, Y0, Y5
	VADDPS    Y13, Y2, Y6
	VSUBPS    Y13, Y2, Y7

	// Second stage, half-size 2h: (a1, c1) with w2 and (b1, d1) with −i·w2.
	VMOVSLDUP (R13)(DX*1), Y10
	VMOVSHDUP (R13)(DX*1), Y11
	CMUL(Y6, Y10, Y11, Y12)
	CMUL(Y7, Y10, Y11, Y13)
	VPERMILPS $0xB1, Y13, Y13
	VXORPS    Y15, Y13, Y13
	VADDPS    Y12, Y4, Y0
	VSUBPS    Y12, Y4, Y2
	VADDPS    Y13, Y5, Y1
	VSUBPS    Y13, Y5, Y3
	VMOVUPS   Y0, (SI)(DX*1)
	VMOVUPS   Y1, (R9)(DX*1)
	VMOVUPS   Y2, (R10)(DX*1)
	VMOVUPS   Y3, (R11)(DX*1)
	ADDQ      $32, DX
	CMPQ      DX, R8
	JLT       r4_inner
	MOVQ      AX, SI
	JMP       r4_block

r4_done:
	VZEROUPPER
	RET

// The spectra kernels set Y15 to negodd when conjA, else to zero, so that XOR with Y15
// conjugates a or leaves it. They walk 4 values per ymm register, then 2 in an xmm
// register, then the last one, and never touch memory past the end of a slice.

// SPECTRUM_PRODUCT sets P = (A XOR MASK)·B for A loaded from (SI) and B from (DX) with MOV:
// MASK is zero or negodd, so the product is a·b or conj(a)·b. Given Y registers it does four
// values, X registers two (VMOVUPS) or one (VMOVQ).
#define SPECTRUM_PRODUCT(MOV, MASK, A, AR, AI, B, P) \
	MOV       (SI), A    \
	VXORPS    MASK, A, A \
	VMOVSLDUP A, AR      \
	VMOVSHDUP A, AI      \
	MOV       (DX), B    \
	CMUL(B, AR, AI, P)

// SPECTRA is the body shared by mulSpectraAVX2 and mulAddSpectraAVX2: CX values of a at SI
// and b at DX, conjA in AX, result in X4/Y4 handed to PUT4, PUT2 and PUT1, which write 4, 2
// and 1 value(s) at DI. Labels are scoped to one TEXT, so each kernel may expand it once.
#define SPECTRA(PUT4, PUT2, PUT1) \
	VXORPS  Y15, Y15, Y15 \
	TESTQ   AX, AX \
	JZ      start \
	VMOVUPS negodd<>(SB), Y15 \
start: \
	CMPQ CX, $4 \
	JLT  two \
four: \
	SPECTRUM_PRODUCT(VMOVUPS, Y15, Y0, Y1, Y2, Y3, Y4) \
	PUT4 \
	ADDQ $32, SI \
	ADDQ $32, DX \
	ADDQ $32, DI \
	SUBQ $4, CX \
	CMPQ CX, $4 \
	JGE  four \
two: \
	CMPQ CX, $2 \
	JLT  one \
	SPECTRUM_PRODUCT(VMOVUPS, X15, X0, X1, X2, X3, X4) \
	PUT2 \
	ADDQ $16, SI \
	ADDQ $16, DX \
	ADDQ $16, DI \
	SUBQ $2, CX \
one: \
	CMPQ CX, $1 \
	JLT  done \
	SPECTRUM_PRODUCT(VMOVQ, X15, X0, X1, X2, X3, X4) \
	PUT1 \
done: \
	VZEROUPPER \
	RET

// STORE_PRODUCT writes the product P to dst with MOV.
#define STORE_PRODUCT(MOV, P) \
	MOV P, (DI)

// ACCUMULATE_PRODUCT_Y adds the four products in Y4 to dst.
#define ACCUMULATE_PRODUCT_Y \
	VADDPS  (DI), Y4, Y4 \
	VMOVUPS Y4, (DI)

// ACCUMULATE_PRODUCT_X adds the product in X4 to dst, read and written with MOV. dst is
// loaded into X5 first because a VADDPS memory operand reads 16 bytes, past the end of dst
// when one value is left.
#define ACCUMULATE_PRODUCT_X(MOV) \
	MOV    (DI), X5     \
	VADDPS X5, X4, X4   \
	MOV    X4, (DI)

// func mulSpectraAVX2(dst, a, b []complex64, conjA bool)
TEXT ·mulSpectraAVX2(SB), NOSPLIT, $0-73
	MOVQ    dst_base+0(FP), DI
	MOVQ    dst_len+8(FP), CX
	MOVQ    a_base+24(FP), SI
	MOVQ    b_base+48(FP), DX
	MOVBLZX conjA+72(FP), AX
	SPECTRA(STORE_PRODUCT(VMOVUPS, Y4), STORE_PRODUCT(VMOVUPS, X4), STORE_PRODUCT(VMOVQ, X4))

// func mulAddSpectraAVX2(dst, a, b []complex64, conjA bool)
TEXT ·mulAddSpectraAVX2(SB), NOSPLIT, $0-73
	MOVQ    dst_base+0(FP), DI
	MOVQ    dst_len+8(FP), CX
	MOVQ    a_base+24(FP), SI
	MOVQ    b_base+48(FP), DX
	MOVBLZX conjA+72(FP), AX
	SPECTRA(ACCUMULATE_PRODUCT_Y, ACCUMULATE_PRODUCT_X(VMOVUPS), ACCUMULATE_PRODUCT_X(VMOVQ))

// func transpose8AVX2(dst []float32, ldd int, src []float32, lds int)
// The classic 8×8 transpose: interleave pairs of rows, then pairs of pairs, then swap
// 128-bit halves.
TEXT ·transpose8AVX2(SB), NOSPLIT, $0-64
	MOVQ dst_base+0(FP), DI
	MOVQ ldd+24(FP), R8
	MOVQ src_base+32(FP), SI
	MOVQ lds+56(FP), R9
	SHLQ $2, R8
	SHLQ $2, R9
	LEAQ (R9)(R9*2), R10 // 3·lds
	LEAQ (SI)(R9*4), R11 // row 4

	VMOVUPS (SI), Y0
	VMOVUPS (SI)(R9*1), Y1
	VMOVUPS (SI)(R9*2), Y2
	VMOVUPS (SI)(R10*1), Y3
	VMOVUPS (R11), Y4
	VMOVUPS (R11)(R9*1), Y5
	VMOVUPS (R11)(R9*2), Y6
	VMOVUPS (R11)(R10*1), Y7

	VUNPCKLPS Y1, Y0, Y8
	VUNPCKHPS Y1, Y0, Y9
	VUNPCKLPS Y3, Y2, Y10
	VUNPCKHPS Y3, Y2, Y11
	VUNPCKLPS Y5, Y4, Y12
	VUNPCKHPS Y5, Y4, Y13
	VUNPCKLPS Y7, Y6, Y14
	VUNPCKHPS Y7, Y6, Y15

	VSHUFPS $0x44, Y10, Y8, Y0
	VSHUFPS $0xEE, Y10, Y8, Y1
	VSHUFPS $0x44, Y11, Y9, Y2
	VSHUFPS $0xEE, Y11, Y9, Y3
	VSHUFPS $0x44, Y14, Y12, Y4
	VSHUFPS $0xEE, Y14, Y12, Y5
	VSHUFPS $0x44, Y15, Y13, Y6
	VSHUFPS $0xEE, Y15, Y13, Y7

	VPERM2F128 $0x20, Y4, Y0, Y8
	VPERM2F128 $0x20, Y5, Y1, Y9
	VPERM2F128 $0x20, Y6, Y2, Y10
	VPERM2F128 $0x20, Y7, Y3, Y11
	VPERM2F128 $0x31, Y4, Y0, Y12
	VPERM2F128 $0x31, Y5, Y1, Y13
	VPERM2F128 $0x31, Y6, Y2, Y14
	VPERM2F128 $0x31, Y7, Y3, Y15

	LEAQ    (R8)(R8*2), R10
	LEAQ    (DI)(R8*4), R11
	VMOVUPS Y8, (DI)
	VMOVUPS Y9, (DI)(R8*1)
	VMOVUPS Y10, (DI)(R8*2)
	VMOVUPS Y11, (DI)(R10*1)
	VMOVUPS Y12, (R11)
	VMOVUPS Y13, (R11)(R8*1)
	VMOVUPS Y14, (R11)(R8*2)
	VMOVUPS Y15, (R11)(R10*1)
	VZEROUPPER
	RET

// func splitAVX2(z, w []complex64, blocks int)
// With A = Z[k..k+3] and B = Z[m−k−3..m−k] reversed into the same order (VPERMPD $0x1B
// reverses the four complex values of a register): E' = A + conj B, O' = −i·(A − conj B),
// X[k] = (E' + W·O')/2 and X[m−k] = conj(E' − W·O')/2, stored back reversed.
TEXT ·splitAVX2(SB), NOSPLIT, $0-56
	MOVQ  z_base+0(FP), SI
	MOVQ  z_len+8(FP), CX
	MOVQ  w_base+24(FP), R12
	MOVQ  blocks+48(FP), BX
	TESTQ BX, BX
	JZ    split_done
	LEAQ  8(SI), DI          // &z[1]
	LEAQ  -40(SI)(CX*8), R8  // &z[m−4], len(z) = m+1
	ADDQ  $8, R12            // &w[1]
	VMOVUPS      negodd<>(SB), Y15
	VBROADCASTSS half<>(SB), Y14

split_loop:
	VMOVUPS   (DI), Y0
	VMOVUPS   (R8), Y1
	VPERMPD   $0x1B, Y1, Y1
	VXORPS    Y15, Y1, Y2
	VADDPS    Y2, Y0, Y3     // E'
	VSUBPS    Y2, Y0, Y4
	VPERMILPS $0xB1, Y4, Y4
	VXORPS    Y15, Y4, Y4    // O'
	VMOVSLDUP (R12), Y5
	VMOVSHDUP (R12), Y6
	CMUL(Y4, Y5, Y6, Y7)     // W·O'
	VADDPS    Y7, Y3, Y8
	VSUBPS    Y7, Y3, Y9
	VXORPS    Y15, Y9, Y9
	VMULPS    Y14, Y8, Y8
	VMULPS    Y14, Y9, Y9
	VPERMPD   $0x1B, Y9, Y9
	VMOVUPS   Y8, (DI)
	VMOVUPS   Y9, (R8)
	ADDQ      $32, DI
	SUBQ      $32, R8
	ADDQ      $32, R12
	DECQ      BX
	JNZ       split_loop

split_done:
	VZEROUPPER
	RET

// func joinAVX2(s, x, w []complex64, blocks int)
// With A = x[k..k+3] and B = conj x[m−k−3..m−k] reversed into the same order: S = A + B,
// T = i·conj(W)·(A − B), s[k] = swap(S + T) and s[m−k] = swap(conj(S − T)), the latter
// stored back reversed.
TEXT ·joinAVX2(SB), NOSPLIT, $0-80
	MOVQ  s_base+0(FP), DI
	MOVQ  s_len+8(FP), CX
	MOVQ  x_base+24(FP), SI
	MOVQ  w_base+48(FP), R12
	MOVQ  blocks+72(FP), BX
	TESTQ BX, BX
	JZ    join_done
	LEAQ  8(SI), R9          // &x[1]
	LEAQ  -32(SI)(CX*8), R10 // &x[m−4]
	LEAQ  8(DI), R11         // &s[1]
	LEAQ  -32(DI)(CX*8), R13 // &s[m−4]
	ADDQ  $8, R12            // &w[1]
	VMOVUPS negodd<>(SB), Y15
	VMOVUPS negeven<>(SB), Y14

join_loop:
	VMOVUPS   (R9), Y0
	VMOVUPS   (R10), Y1
	VPERMPD   $0x1B, Y1, Y1
	VXORPS    Y15, Y1, Y1
	VADDPS    Y1, Y0, Y2     // S
	VSUBPS    Y1, Y0, Y3     // A − B
	VMOVUPS   (R12), Y4
	VXORPS    Y15, Y4, Y4    // conj W
	VMOVSLDUP Y4, Y5
	VMOVSHDUP Y4, Y6
	CMUL(Y3, Y5, Y6, Y7)
	VPERMILPS $0xB1, Y7, Y7
	VXORPS    Y14, Y7, Y7    // T
	VADDPS    Y7, Y2, Y8
	VSUBPS    Y7, Y2, Y9
	VXORPS    Y15, Y9, Y9
	VPERMILPS $0xB1, Y8, Y8
	VPERMILPS $0xB1, Y9, Y9
	VPERMPD   $0x1B, Y9, Y9
	VMOVUPS   Y8, (R11)
	VMOVUPS   Y9, (R13)
	ADDQ      $32, R9
	SUBQ      $32, R10
	ADDQ      $32, R11
	SUBQ      $32, R13
	ADDQ      $32, R12
	DECQ      BX
	JNZ       join_loop

join_done:
	VZEROUPPER
	RET

// func swapScaleAVX2(z []complex64, scale float32)
TEXT ·swapScaleAVX2(SB), NOSPLIT, $0-28
	MOVQ         z_base+0(FP), DI
	MOVQ         z_len+8(FP), CX
	VBROADCASTSS scale+24(FP), Y14
	SHRQ         $2, CX
	JZ           swap_done

swap_loop:
	VPERMILPS $0xB1, (DI), Y0
	VMULPS    Y14, Y0, Y0
	VMOVUPS   Y0, (DI)
	ADDQ      $32, DI
	DECQ      CX
	JNZ       swap_loop

swap_done:
	VZEROUPPER
	RET

// PACK_STORE transposes the 4×4 block of complex values in Y8..Y11 (row r: output r of
// four consecutive j) and stores row r at z[4·rev4[j+r]]. DI is z, R12 points at rev4[j].
#define PACK_STORE \
	VUNPCKLPD  Y9, Y8, Y0      \
	VUNPCKHPD  Y9, Y8, Y1      \
	VUNPCKLPD  Y11, Y10, Y2    \
	VUNPCKHPD  Y11, Y10, Y3    \
	VPERM2F128 $0x20, Y2, Y0, Y4 \
	VPERM2F128 $0x20, Y3, Y1, Y5 \
	VPERM2F128 $0x31, Y2, Y0, Y6 \
	VPERM2F128 $0x31, Y3, Y1, Y7 \
	MOVL       (R12), R10      \
	SHLQ       $5, R10         \
	VMOVUPS    Y4, (DI)(R10*1) \
	MOVL       4(R12), R10     \
	SHLQ       $5, R10         \
	VMOVUPS    Y5, (DI)(R10*1) \
	MOVL       8(R12), R10     \
	SHLQ       $5, R10         \
	VMOVUPS    Y6, (DI)(R10*1) \
	MOVL       12(R12), R10    \
	SHLQ       $5, R10         \
	VMOVUPS    Y7, (DI)(R10*1)

// func packAVX2(z, x []complex64, rev4 []int32, half bool)
// Runs over j in steps of four: with A..D = x[j], x[j+m/4], x[j+m/2], x[j+3m/4] (C and D
// zero when half), block rev4[j] of z receives the first two radix-2 stages of the
// bit-reversed inputs (A, C, B, D), exactly as packGeneric computes them.
TEXT ·packAVX2(SB), NOSPLIT, $0-73
	MOVQ    z_base+0(FP), DI
	MOVQ    z_len+8(FP), CX
	MOVQ    x_base+24(FP), SI
	MOVQ    rev4_base+48(FP), R12
	MOVBLZX half+72(FP), AX
	VMOVUPS negodd<>(SB), Y15
	MOVQ    CX, R8
	SHLQ    $1, R8             // m/4 complex values, in bytes
	LEAQ    (SI)(R8*2), R9     // &x[m/2]
	SHRQ    $2, CX             // m/4 values of j
	TESTQ   CX, CX
	JZ      pack_done
	TESTQ   AX, AX
	JNZ     pack_half

pack_full:
	VMOVUPS   (SI), Y0
	VMOVUPS   (SI)(R8*1), Y1
	VMOVUPS   (R9), Y2
	VMOVUPS   (R9)(R8*1), Y3
	VADDPS    Y2, Y0, Y4       // a1 = A + C
	VSUBPS    Y2, Y0, Y5       // b1 = A − C
	VADDPS    Y3, Y1, Y6       // c1 = B + D
	VSUBPS    Y3, Y1, Y7       // d1 = B − D
	VPERMILPS $0xB1, Y7, Y7
	VXORPS    Y15, Y7, Y7      // −i·d1
	VADDPS    Y6, Y4, Y8
	VADDPS    Y7, Y5, Y9
	VSUBPS    Y6, Y4, Y10
	VSUBPS    Y7, Y5, Y11
	PACK_STORE
	ADDQ      $32, SI
	ADDQ      $32, R9
	ADDQ      $16, R12
	SUBQ      $4, CX
	JNZ       pack_full
	JMP       pack_done

pack_half:
	VMOVUPS   (SI), Y0
	VMOVUPS   (SI)(R8*1), Y1
	VPERMILPS $0xB1, Y1, Y7
	VXORPS    Y15, Y7, Y7      // −i·B
	VADDPS    Y1, Y0, Y8
	VADDPS    Y7, Y0, Y9
	VSUBPS    Y1, Y0, Y10
	VSUBPS    Y7, Y0, Y11
	PACK_STORE
	ADDQ      $32, SI
	ADDQ      $16, R12
	SUBQ      $4, CX
	JNZ       pack_half

pack_done:
	VZEROUPPER
	RET
