//go:build amd64 && !noasm

package simd

import "github.com/hungry-ssm/hungry/tensor/internal/cpu"

func corrRows(y, u, k []float32, rows, h, taps int) { corrRowsOn(cpu.Active, y, u, k, rows, h, taps) }

func corrSumRows(dst, a, b []float32, n, stride, width, taps int) {
	corrSumRowsOn(cpu.Active, dst, a, b, n, stride, width, taps)
}

// corrBlockCols is the channel block of family f's assembly: two registers.
func corrBlockCols(f cpu.Family) int {
	if f == cpu.AVX512 {
		return 32
	}
	return 16
}

// corrRowsOn runs CorrRows on family f: whole blocks of 4 rows and two registers of
// channels in assembly, the edges in Go.
func corrRowsOn(f cpu.Family, y, u, k []float32, rows, h, taps int) {
	if f == cpu.Generic {
		corrRowsGeneric(y, u, k, h, taps, 0, rows, 0, h)
		return
	}
	rows4, cols := rows&^3, h/corrBlockCols(f)*corrBlockCols(f)
	if rows4 > 0 && cols > 0 {
		if f == cpu.AVX512 {
			corrRowsAVX512(y, u, k, rows4, h, cols, taps)
		} else {
			corrRowsAVX2(y, u, k, rows4, h, cols, taps)
		}
	}
	corrRowsGeneric(y, u, k, h, taps, 0, rows4, cols, h)
	corrRowsGeneric(y, u, k, h, taps, rows4, rows, 0, h)
}

func corrSumRowsOn(f cpu.Family, dst, a, b []float32, n, stride, width, taps int) {
	if f == cpu.Generic {
		corrSumRowsGeneric(dst, a, b, n, stride, width, 0, taps, 0, width)
		return
	}
	taps4, cols := taps&^3, width/corrBlockCols(f)*corrBlockCols(f)
	if taps4 > 0 && cols > 0 {
		if f == cpu.AVX512 {
			corrSumRowsAVX512(dst, a, b, n, stride, width, cols, taps4)
		} else {
			corrSumRowsAVX2(dst, a, b, n, stride, width, cols, taps4)
		}
	}
	corrSumRowsGeneric(dst, a, b, n, stride, width, 0, taps4, cols, width)
	corrSumRowsGeneric(dst, a, b, n, stride, width, taps4, taps, 0, width)
}
