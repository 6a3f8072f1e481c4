//go:build amd64 && !noasm

#include "textflag.h"

// ROWS4 does one tap for one block of 4 rows × 16 channels: Y8 and Y9 hold the tap's 16
// weights, AX points at the first row's inputs, R10 is the row stride and R15 three times
// it; Y0–Y7 accumulate rows 0–3, two vectors each.
#define ROWS4 \
	VFMADD231PS 0(AX), Y8, Y0         \
	VFMADD231PS 32(AX), Y9, Y1        \
	VFMADD231PS 0(AX)(R10*1), Y8, Y2  \
	VFMADD231PS 32(AX)(R10*1), Y9, Y3 \
	VFMADD231PS 0(AX)(R10*2), Y8, Y4  \
	VFMADD231PS 32(AX)(R10*2), Y9, Y5 \
	VFMADD231PS 0(AX)(R15*1), Y8, Y6  \
	VFMADD231PS 32(AX)(R15*1), Y9, Y7

// ROWS4_LOOP runs ROWS4 for CX ≥ 1 steps, taking each step's 16 weights from BX and moving
// AX and BX down one row (R10 bytes) per step. Labels are scoped to one TEXT, so each
// kernel may expand it once.
#define ROWS4_LOOP \
rows4Step: \
	VMOVUPS 0(BX), Y8 \
	VMOVUPS 32(BX), Y9 \
	ROWS4 \
	ADDQ    R10, AX \
	ADDQ    R10, BX \
	DECQ    CX \
	JNZ     rows4Step

#define ZERO_Y0_Y7 \
	VXORPS Y0, Y0, Y0 \
	VXORPS Y1, Y1, Y1 \
	VXORPS Y2, Y2, Y2 \
	VXORPS Y3, Y3, Y3 \
	VXORPS Y4, Y4, Y4 \
	VXORPS Y5, Y5, Y5 \
	VXORPS Y6, Y6, Y6 \
	VXORPS Y7, Y7, Y7

// ADDSTORE adds accumulator acc to the 8 floats at mem.
#define ADDSTORE(acc, mem) \
	VADDPS  mem, acc, acc \
	VMOVUPS acc, mem

// func corrRowsAVX2(y, u, k []float32, rows, h, cols, taps int)
TEXT ·corrRowsAVX2(SB), NOSPLIT, $0-104
	MOVQ y_base+0(FP), DI
	MOVQ u_base+24(FP), SI
	MOVQ k_base+48(FP), DX
	MOVQ rows+72(FP), R9
	MOVQ h+80(FP), R10
	MOVQ cols+88(FP), R14
	MOVQ taps+96(FP), R11
	SHLQ $2, R10             // row stride in bytes
	SHLQ $2, R14             // channel bytes done by the assembly
	LEAQ (R10)(R10*2), R15   // three row strides
	XORQ R12, R12            // first row of the block

rowBlock:
	CMPQ R12, R9
	JGE  done
	XORQ R13, R13            // channel byte offset of the block

colBlock:
	CMPQ R13, R14
	JGE  nextRows
	// AX: u at row R12, channel R13; BX: k at tap 0, channel R13; R8: y likewise.
	MOVQ   R12, AX
	IMULQ  R10, AX
	LEAQ   (DI)(AX*1), R8
	ADDQ   R13, R8
	ADDQ   SI, AX
	ADDQ   R13, AX
	LEAQ   (DX)(R13*1), BX
	ZERO_Y0_Y7
	MOVQ   R11, CX
	ROWS4_LOOP

	ADDSTORE(Y0, 0(R8))
	ADDSTORE(Y1, 32(R8))
	ADDSTORE(Y2, 0(R8)(R10*1))
	ADDSTORE(Y3, 32(R8)(R10*1))
	ADDSTORE(Y4, 0(R8)(R10*2))
	ADDSTORE(Y5, 32(R8)(R10*2))
	ADDSTORE(Y6, 0(R8)(R15*1))
	ADDSTORE(Y7, 32(R8)(R15*1))
	ADDQ $64, R13
	JMP  colBlock

nextRows:
	ADDQ $4, R12
	JMP  rowBlock

done:
	VZEROUPPER
	RET

// func corrSumRowsAVX2(dst, a, b []float32, n, stride, width, cols, taps int)
TEXT ·corrSumRowsAVX2(SB), NOSPLIT, $0-112
	MOVQ dst_base+0(FP), DI
	MOVQ a_base+24(FP), SI
	MOVQ b_base+48(FP), DX
	MOVQ n+72(FP), R9
	MOVQ stride+80(FP), R10
	MOVQ width+88(FP), R11
	MOVQ cols+96(FP), R14
	SHLQ $2, R10             // row stride of a and b in bytes
	SHLQ $2, R11             // row stride of dst in bytes
	SHLQ $2, R14             // channel bytes done by the assembly
	LEAQ (R10)(R10*2), R15   // three row strides
	XORQ R12, R12            // first shift of the block

shiftBlock:
	CMPQ R12, taps+104(FP)
	JGE  sumDone
	XORQ R13, R13            // channel byte offset of the block

chanBlock:
	CMPQ R13, R14
	JGE  nextShifts
	// AX: b at row R12, channel R13; BX: a at row 0, channel R13.
	MOVQ   R12, AX
	IMULQ  R10, AX
	ADDQ   DX, AX
	ADDQ   R13, AX
	LEAQ   (SI)(R13*1), BX
	ZERO_Y0_Y7
	MOVQ   R9, CX
	ROWS4_LOOP

	// R8: dst at shift R12, channel R13; shifts are R11 bytes apart.
	MOVQ R12, R8
	IMULQ R11, R8
	ADDQ DI, R8
	ADDQ R13, R8
	ADDSTORE(Y0, 0(R8))
	ADDSTORE(Y1, 32(R8))
	ADDQ R11, R8
	ADDSTORE(Y2, 0(R8))
	ADDSTORE(Y3, 32(R8))
	ADDQ R11, R8
	ADDSTORE(Y4, 0(R8))
	ADDSTORE(Y5, 32(R8))
	ADDQ R11, R8
	ADDSTORE(Y6, 0(R8))
	ADDSTORE(Y7, 32(R8))
	ADDQ $64, R13
	JMP  chanBlock

nextShifts:
	ADDQ $4, R12
	JMP  shiftBlock

sumDone:
	VZEROUPPER
	RET
