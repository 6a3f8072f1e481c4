//go:build amd64 && !noasm

package simd

import "github.com/hungry-ssm/hungry/tensor/internal/cpu"

func corrRows(y, u, k []float32, rows, h, taps int) {
	if !cpu.AVX2FMA {
		corrRowsGeneric(y, u, k, h, taps, 0, rows, 0, h)
		return
	}
	rows4, cols16 := rows&^3, h&^15
	if rows4 > 0 && cols16 > 0 {
		corrRowsAVX2(y, u, k, rows4, h, cols16, taps)
	}
	corrRowsGeneric(y, u, k, h, taps, 0, rows4, cols16, h)
	corrRowsGeneric(y, u, k, h, taps, rows4, rows, 0, h)
}

func corrSumRows(dst, a, b []float32, n, stride, width, taps int) {
	if !cpu.AVX2FMA {
		corrSumRowsGeneric(dst, a, b, n, stride, width, 0, taps, 0, width)
		return
	}
	taps4, cols16 := taps&^3, width&^15
	if taps4 > 0 && cols16 > 0 {
		corrSumRowsAVX2(dst, a, b, n, stride, width, cols16, taps4)
	}
	corrSumRowsGeneric(dst, a, b, n, stride, width, 0, taps4, cols16, width)
	corrSumRowsGeneric(dst, a, b, n, stride, width, taps4, taps, 0, width)
}
