//go:build amd64 && !noasm

#include "textflag.h"

// GELU and its gradient, 8 lanes at a time, as x/(1+e^t) with t = −2√(2/π)(xc+0.044715xc³)
// and xc = x clamped to [−10, 10], as the generic twin computes them. e^t is Cephes' expf
// without its range checks: |t| ≤ 87.31 < 126·ln2 after the clamp, so 2ⁿ is built from
// its exponent bits without overflow or subnormals. The constants are stored 8-wide so
// the FMAs can take them straight from memory.

// −2·√(2/π)
DATA geluConsts<>+0(SB)/8, $0xbfcc422abfcc422a
DATA geluConsts<>+8(SB)/8, $0xbfcc422abfcc422a
DATA geluConsts<>+16(SB)/8, $0xbfcc422abfcc422a
DATA geluConsts<>+24(SB)/8, $0xbfcc422abfcc422a
#define M2C 0(R8)
// −2·√(2/π)·0.044715
DATA geluConsts<>+32(SB)/8, $0xbd922279bd922279
DATA geluConsts<>+40(SB)/8, $0xbd922279bd922279
DATA geluConsts<>+48(SB)/8, $0xbd922279bd922279
DATA geluConsts<>+56(SB)/8, $0xbd922279bd922279
#define M2CA 32(R8)
// 2·√(2/π)
DATA geluConsts<>+64(SB)/8, $0x3fcc422a3fcc422a
DATA geluConsts<>+72(SB)/8, $0x3fcc422a3fcc422a
DATA geluConsts<>+80(SB)/8, $0x3fcc422a3fcc422a
DATA geluConsts<>+88(SB)/8, $0x3fcc422a3fcc422a
#define TWOC 64(R8)
// 6·√(2/π)·0.044715
DATA geluConsts<>+96(SB)/8, $0x3e5b33b63e5b33b6
DATA geluConsts<>+104(SB)/8, $0x3e5b33b63e5b33b6
DATA geluConsts<>+112(SB)/8, $0x3e5b33b63e5b33b6
DATA geluConsts<>+120(SB)/8, $0x3e5b33b63e5b33b6
#define SIXCA 96(R8)
// 1
DATA geluConsts<>+128(SB)/8, $0x3f8000003f800000
DATA geluConsts<>+136(SB)/8, $0x3f8000003f800000
DATA geluConsts<>+144(SB)/8, $0x3f8000003f800000
DATA geluConsts<>+152(SB)/8, $0x3f8000003f800000
#define ONE 128(R8)
// −10 and 10 bound the x that enters u: beyond them σ(2u) is 0 or 1 to float32 precision,
// |t| stays below 126·ln2 and x³ cannot overflow
DATA geluConsts<>+160(SB)/8, $0xc1200000c1200000
DATA geluConsts<>+168(SB)/8, $0xc1200000c1200000
DATA geluConsts<>+176(SB)/8, $0xc1200000c1200000
DATA geluConsts<>+184(SB)/8, $0xc1200000c1200000
#define XMIN 160(R8)
// 10
DATA geluConsts<>+192(SB)/8, $0x4120000041200000
DATA geluConsts<>+200(SB)/8, $0x4120000041200000
DATA geluConsts<>+208(SB)/8, $0x4120000041200000
DATA geluConsts<>+216(SB)/8, $0x4120000041200000
#define XMAX 192(R8)
// log₂e
DATA geluConsts<>+224(SB)/8, $0x3fb8aa3b3fb8aa3b
DATA geluConsts<>+232(SB)/8, $0x3fb8aa3b3fb8aa3b
DATA geluConsts<>+240(SB)/8, $0x3fb8aa3b3fb8aa3b
DATA geluConsts<>+248(SB)/8, $0x3fb8aa3b3fb8aa3b
#define LOG2E 224(R8)
// ln 2, high part (exact products with n)
DATA geluConsts<>+256(SB)/8, $0x3f3180003f318000
DATA geluConsts<>+264(SB)/8, $0x3f3180003f318000
DATA geluConsts<>+272(SB)/8, $0x3f3180003f318000
DATA geluConsts<>+280(SB)/8, $0x3f3180003f318000
#define LN2HI 256(R8)
// ln 2, low part
DATA geluConsts<>+288(SB)/8, $0xb95e8083b95e8083
DATA geluConsts<>+296(SB)/8, $0xb95e8083b95e8083
DATA geluConsts<>+304(SB)/8, $0xb95e8083b95e8083
DATA geluConsts<>+312(SB)/8, $0xb95e8083b95e8083
#define LN2LO 288(R8)
DATA geluConsts<>+320(SB)/8, $0x3950696739506967
DATA geluConsts<>+328(SB)/8, $0x3950696739506967
DATA geluConsts<>+336(SB)/8, $0x3950696739506967
DATA geluConsts<>+344(SB)/8, $0x3950696739506967
#define P0 320(R8)
DATA geluConsts<>+352(SB)/8, $0x3ab743ce3ab743ce
DATA geluConsts<>+360(SB)/8, $0x3ab743ce3ab743ce
DATA geluConsts<>+368(SB)/8, $0x3ab743ce3ab743ce
DATA geluConsts<>+376(SB)/8, $0x3ab743ce3ab743ce
#define P1 352(R8)
DATA geluConsts<>+384(SB)/8, $0x3c0889083c088908
DATA geluConsts<>+392(SB)/8, $0x3c0889083c088908
DATA geluConsts<>+400(SB)/8, $0x3c0889083c088908
DATA geluConsts<>+408(SB)/8, $0x3c0889083c088908
#define P2 384(R8)
DATA geluConsts<>+416(SB)/8, $0x3d2aa9c13d2aa9c1
DATA geluConsts<>+424(SB)/8, $0x3d2aa9c13d2aa9c1
DATA geluConsts<>+432(SB)/8, $0x3d2aa9c13d2aa9c1
DATA geluConsts<>+440(SB)/8, $0x3d2aa9c13d2aa9c1
#define P3 416(R8)
DATA geluConsts<>+448(SB)/8, $0x3e2aaaaa3e2aaaaa
DATA geluConsts<>+456(SB)/8, $0x3e2aaaaa3e2aaaaa
DATA geluConsts<>+464(SB)/8, $0x3e2aaaaa3e2aaaaa
DATA geluConsts<>+472(SB)/8, $0x3e2aaaaa3e2aaaaa
#define P4 448(R8)
// Cephes expf polynomial, highest degree first
DATA geluConsts<>+480(SB)/8, $0x3f0000003f000000
DATA geluConsts<>+488(SB)/8, $0x3f0000003f000000
DATA geluConsts<>+496(SB)/8, $0x3f0000003f000000
DATA geluConsts<>+504(SB)/8, $0x3f0000003f000000
#define P5 480(R8)
// 127, the float32 exponent bias, in each 32-bit lane
DATA geluConsts<>+512(SB)/8, $0x0000007f0000007f
DATA geluConsts<>+520(SB)/8, $0x0000007f0000007f
DATA geluConsts<>+528(SB)/8, $0x0000007f0000007f
DATA geluConsts<>+536(SB)/8, $0x0000007f0000007f
#define BIAS 512(R8)
// −126·ln2 and 127·ln2 (rounded up by 2e-6): the range of exponents t for which 2^round(t/ln2)
// is a normal, finite float32; ExpShift clamps its arguments to it
DATA geluConsts<>+544(SB)/8, $0xc2aeac4fc2aeac4f
DATA geluConsts<>+552(SB)/8, $0xc2aeac4fc2aeac4f
DATA geluConsts<>+560(SB)/8, $0xc2aeac4fc2aeac4f
DATA geluConsts<>+568(SB)/8, $0xc2aeac4fc2aeac4f
#define TLO 544(R8)
DATA geluConsts<>+576(SB)/8, $0x42b00f3442b00f34
DATA geluConsts<>+584(SB)/8, $0x42b00f3442b00f34
DATA geluConsts<>+592(SB)/8, $0x42b00f3442b00f34
DATA geluConsts<>+600(SB)/8, $0x42b00f3442b00f34
#define THI 576(R8)
GLOBL geluConsts<>(SB), RODATA|NOPTR, $608

// EXPT sets p = e^t, clobbering t, kf and z. Y15 holds 1.0 and R8 the constants.
#define EXPT(t, kf, p, z) \
	VMULPS       LOG2E, t, kf  \
	VROUNDPS     $0, kf, kf    \
	VFNMADD231PS LN2HI, kf, t  \
	VFNMADD231PS LN2LO, kf, t  \
	VMOVUPS      P0, p         \
	VFMADD213PS  P1, t, p      \
	VFMADD213PS  P2, t, p      \
	VFMADD213PS  P3, t, p      \
	VFMADD213PS  P4, t, p      \
	VFMADD213PS  P5, t, p      \
	VMULPS       t, t, z       \
	VADDPS       Y15, t, t     \
	VFMADD213PS  t, z, p       \
	VCVTPS2DQ    kf, kf        \
	VPADDD       BIAS, kf, kf  \
	VPSLLD       $23, kf, kf   \
	VMULPS       kf, p, p

// ARGT sets xc = x clamped to [−10, 10], x2 = xc² and t = −2√(2/π)(xc+0.044715xc³).
// The min and max take x as their second source, the one they return when either is
// NaN, so a NaN x stays NaN.
#define ARGT(x, xc, x2, t) \
	VMOVUPS     XMAX, xc    \
	VMINPS      x, xc, xc   \
	VMOVUPS     XMIN, t     \
	VMAXPS      xc, t, xc   \
	VMULPS      xc, xc, x2  \
	VMOVUPS     M2CA, t     \
	VFMADD213PS M2C, x2, t  \
	VMULPS      xc, t, t

// func geluAVX2(dst, x []float32)
TEXT ·geluAVX2(SB), NOSPLIT, $0-48
	MOVQ dst_base+0(FP), DI
	MOVQ dst_len+8(FP), CX
	MOVQ x_base+24(FP), SI
	LEAQ geluConsts<>(SB), R8
	VMOVUPS ONE, Y15
	CMPQ CX, $16
	JLT  gelu8

gelu16:
	VMOVUPS 0(SI), Y0
	VMOVUPS 32(SI), Y8
	ARGT(Y0, Y6, Y1, Y2)
	ARGT(Y8, Y14, Y9, Y10)
	EXPT(Y2, Y3, Y4, Y5)
	EXPT(Y10, Y11, Y12, Y13)
	VADDPS  Y15, Y4, Y4
	VADDPS  Y15, Y12, Y12
	VDIVPS  Y4, Y0, Y0
	VDIVPS  Y12, Y8, Y8
	VMOVUPS Y0, 0(DI)
	VMOVUPS Y8, 32(DI)
	ADDQ    $64, SI
	ADDQ    $64, DI
	SUBQ    $16, CX
	CMPQ    CX, $16
	JGE     gelu16

gelu8:
	CMPQ CX, $8
	JLT  geluDone
	VMOVUPS 0(SI), Y0
	ARGT(Y0, Y6, Y1, Y2)
	EXPT(Y2, Y3, Y4, Y5)
	VADDPS  Y15, Y4, Y4
	VDIVPS  Y4, Y0, Y0
	VMOVUPS Y0, 0(DI)

geluDone:
	VZEROUPPER
	RET

// GRADT adds g·GELU'(x) to the 8 floats at dst, with GELU'(x) = s + s(1−s)·xc(2√(2/π) +
// 6√(2/π)·0.044715xc²) and s = 1/(1+e^t). It clobbers Y0–Y7.
#define GRADT(dst, g, x) \
	VMOVUPS      x, Y7         \
	ARGT(Y7, Y0, Y1, Y2)       \
	EXPT(Y2, Y3, Y4, Y5)       \
	VADDPS       Y15, Y4, Y4   \
	VDIVPS       Y4, Y15, Y4   \
	VMOVAPS      Y4, Y5        \
	VFNMADD231PS Y4, Y4, Y5    \
	VMOVUPS      SIXCA, Y6     \
	VFMADD213PS  TWOC, Y1, Y6  \
	VMULPS       Y0, Y6, Y6    \
	VFMADD231PS  Y6, Y5, Y4    \
	VMOVUPS      dst, Y7       \
	VFMADD231PS  g, Y4, Y7     \
	VMOVUPS      Y7, dst

// func geluBackwardAVX2(dst, g, x []float32)
TEXT ·geluBackwardAVX2(SB), NOSPLIT, $0-72
	MOVQ dst_base+0(FP), DI
	MOVQ dst_len+8(FP), CX
	MOVQ g_base+24(FP), DX
	MOVQ x_base+48(FP), SI
	LEAQ geluConsts<>(SB), R8
	VMOVUPS ONE, Y15
	SHRQ $3, CX
	JZ   geluBackDone

geluBack8:
	GRADT(0(DI), 0(DX), 0(SI))
	ADDQ $32, SI
	ADDQ $32, DX
	ADDQ $32, DI
	DECQ CX
	JNZ  geluBack8

geluBackDone:
	VZEROUPPER
	RET

// func expShiftAVX2(dst, x []float32, shift float32)
TEXT ·expShiftAVX2(SB), NOSPLIT, $0-52
	MOVQ         dst_base+0(FP), DI
	MOVQ         dst_len+8(FP), CX
	MOVQ         x_base+24(FP), SI
	VBROADCASTSS shift+48(FP), Y14
	LEAQ         geluConsts<>(SB), R8
	VMOVUPS      ONE, Y15
	SHRQ         $3, CX
	JZ           expShiftDone

expShift8:
	VMOVUPS 0(SI), Y0
	VSUBPS  Y14, Y0, Y2
	// Clamp with t as the second source, which min and max return for a NaN.
	VMOVUPS THI, Y6
	VMINPS  Y2, Y6, Y2
	VMOVUPS TLO, Y6
	VMAXPS  Y2, Y6, Y2
	EXPT(Y2, Y3, Y4, Y5)
	VMOVUPS Y4, 0(DI)
	ADDQ    $32, SI
	ADDQ    $32, DI
	DECQ    CX
	JNZ     expShift8

expShiftDone:
	VZEROUPPER
	RET
