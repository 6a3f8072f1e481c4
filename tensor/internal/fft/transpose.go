package fft

import "fmt"

// Transpose writes the transpose of the rows×cols matrix src (row stride lds) to dst (row
// stride ldd): dst[j·ldd+i] = src[i·lds+j]. FFT convolutions of channels-last data use it
// to turn each channel into a contiguous sequence and back. The matrices must not overlap.
func Transpose(dst []float32, ldd int, src []float32, lds int, rows, cols int) {
	if rows <= 0 || cols <= 0 {
		return
	}
	if ldd < rows || lds < cols || len(src) < (rows-1)*lds+cols || len(dst) < (cols-1)*ldd+rows {
		panic(fmt.Sprintf("fft: Transpose of %d×%d with strides %d, %d does not fit slices of %d and %d",
			rows, cols, lds, ldd, len(src), len(dst)))
	}
	// 8×8 blocks go through the kernel; the ragged right and bottom edges, scalar.
	r8, c8 := rows&^7, cols&^7
	for i := 0; i < r8; i += 8 {
		for j := 0; j < c8; j += 8 {
			transpose8(dst[j*ldd+i:], ldd, src[i*lds+j:], lds)
		}
	}
	transposeScalar(dst, ldd, src, lds, 0, r8, c8, cols)
	transposeScalar(dst, ldd, src, lds, r8, rows, 0, cols)
}

// transposeScalar transposes the block of rows [i0, i1) and columns [j0, j1).
func transposeScalar(dst []float32, ldd int, src []float32, lds int, i0, i1, j0, j1 int) {
	for i := i0; i < i1; i++ {
		for j, v := range src[i*lds+j0 : i*lds+j1] {
			dst[(j0+j)*ldd+i] = v
		}
	}
}

// transpose8Generic transposes the 8×8 block at the start of src into dst.
func transpose8Generic(dst []float32, ldd int, src []float32, lds int) {
	for i := 0; i < 8; i++ {
		row := src[i*lds : i*lds+8]
		for j, v := range row {
			dst[j*ldd+i] = v
		}
	}
}
