package simd

var genericGemmKernels = gemmKernels{micro: sgemmKernelGeneric, dot: dotGeneric, axpy: axpyGeneric}

// sgemmKernelGeneric is the Go twin of the 6×16 micro-kernel (see microKernel). It keeps
// one row of sums in a local array so the compiler can hold it in registers where the
// architecture has enough of them (arm64 has 32).
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
