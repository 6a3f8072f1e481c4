package simd

var genericGemmKernels = gemmKernels{
	mr: mr, nr: nr, kc: kc, mc: mc, nc: nc,
	micro: sgemmKernelGeneric, dots: dots4x3Generic, gemvN: gemvNGeneric, gemvT: gemvTGeneric,
	packARows: packA6RowsGeneric, packBRows: packB16RowsGeneric, packBCols: packB16ColsGeneric,
}

// sgemmKernelGeneric is the Go twin of the 6×16 micro-kernel (see microKernel). It builds
// the tile a row at a time; the Go compiler does not vectorise, so it runs at scalar speed
// (about 4 GFLOP/s on one core here, against 75 for the assembly).
func sgemmKernelGeneric(k int, a, b, c []float32, ldc int, alpha, beta float32) {
	a = a[:k*mr]
	b = b[:k*nr]
	for i := range mr {
		var acc [nr]float32
		for p := range k {
			ai := a[p*mr+i]
			bp := (*[nr]float32)(b[p*nr : p*nr+nr])
			for j := range nr {
				acc[j] += ai * bp[j]
			}
		}
		row := (*[nr]float32)(c[i*ldc : i*ldc+nr])
		if beta == 0 {
			for j := range nr {
				row[j] = alpha * acc[j]
			}
		} else {
			for j := range nr {
				row[j] = alpha*acc[j] + beta*row[j]
			}
		}
	}
}

// packA6RowsGeneric interleaves 6 stored rows of A, lda apart, into one packed sliver:
// dst[p·6+r] = src[r·lda+p] for p < kb.
func packA6RowsGeneric(dst, src []float32, kb, lda int) {
	if kb == 0 {
		return
	}
	r0 := src[0:kb]
	r1 := src[lda : lda+kb]
	r2 := src[2*lda : 2*lda+kb]
	r3 := src[3*lda : 3*lda+kb]
	r4 := src[4*lda : 4*lda+kb]
	r5 := src[5*lda : 5*lda+kb]
	dst = dst[:kb*mr]
	for p := range kb {
		o := (*[mr]float32)(dst[p*mr:])
		o[0], o[1], o[2], o[3], o[4], o[5] = r0[p], r1[p], r2[p], r3[p], r4[p], r5[p]
	}
}

// packB16RowsGeneric copies 16 columns of kb stored rows of B, ldb apart:
// dst[p·16+j] = src[p·ldb+j].
func packB16RowsGeneric(dst, src []float32, kb, ldb int) {
	for p := range kb {
		copy(dst[p*nr:p*nr+nr], src[p*ldb:p*ldb+nr])
	}
}

// packB16ColsGeneric turns 16 stored rows of B, ldb apart, into the columns of a packed
// sliver: dst[p·16+j] = src[j·ldb+p] for p < kb.
func packB16ColsGeneric(dst, src []float32, kb, ldb int) {
	if kb == 0 {
		return
	}
	dst = dst[:kb*nr]
	for j := range nr {
		row := src[j*ldb : j*ldb+kb]
		for p, v := range row {
			dst[p*nr+j] = v
		}
	}
}

// dots4x3Generic is the Go twin of the 4×3 dot-product kernel (see gemmKernels.dots).
func dots4x3Generic(k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, alpha, beta float32) {
	b0, b1, b2 := b[:k], b[ldb:ldb+k], b[2*ldb:2*ldb+k]
	for i := range 4 {
		var s0, s1, s2 float32
		for p, v := range a[i*lda : i*lda+k] {
			s0 += v * b0[p]
			s1 += v * b1[p]
			s2 += v * b2[p]
		}
		row := (*[3]float32)(c[i*ldc : i*ldc+3])
		if beta == 0 {
			row[0], row[1], row[2] = alpha*s0, alpha*s1, alpha*s2
		} else {
			row[0], row[1], row[2] = alpha*s0+beta*row[0], alpha*s1+beta*row[1], alpha*s2+beta*row[2]
		}
	}
}

// gemvNGeneric is the Go twin of the row-sum kernel (see gemmKernels.gemvN).
func gemvNGeneric(k int, x, a []float32, lda int, y []float32) {
	for p, xp := range x[:k] {
		axpyGeneric(xp, a[p*lda:p*lda+len(y)], y)
	}
}

// gemvTGeneric is the Go twin of the row-dot kernel (see gemmKernels.gemvT).
func gemvTGeneric(k int, x, a []float32, lda int, y []float32) {
	for j := range y {
		y[j] = dotGeneric(x[:k], a[j*lda:j*lda+k])
	}
}

// packARowsGeneric interleaves rows stored rows of A, lda apart, into one packed sliver:
// dst[p·rows+r] = src[r·lda+p] for p < kb. It finishes what the wider families' assembly
// leaves (the last kb mod 8 values of p).
func packARowsGeneric(dst, src []float32, kb, lda, rows int) {
	if kb == 0 {
		return
	}
	dst = dst[:kb*rows]
	for r := range rows {
		for p, v := range src[r*lda : r*lda+kb] {
			dst[p*rows+r] = v
		}
	}
}

// packBColsGeneric turns cols stored rows of B, ldb apart, into the columns of a packed
// sliver: dst[p·cols+j] = src[j·ldb+p] for p < kb.
func packBColsGeneric(dst, src []float32, kb, ldb, cols int) {
	if kb == 0 {
		return
	}
	dst = dst[:kb*cols]
	for j := range cols {
		for p, v := range src[j*ldb : j*ldb+kb] {
			dst[p*cols+j] = v
		}
	}
}
