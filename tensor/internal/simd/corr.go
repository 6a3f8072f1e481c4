package simd

// CorrRows adds a sliding window of rows to y, channel by channel:
//
//	y[r·h+c] += Σ_{s<taps} k[s·h+c]·u[(r+s)·h+c]   for r < rows, c < h.
//
// Rows are h contiguous channels; u holds rows+taps−1 rows and k taps rows. A causal
// depthwise convolution is this with its taps in reverse order over input with taps−1
// leading zero rows, and its input gradient is this with the taps in order over output
// gradients with taps−1 trailing zero rows. The assembly keeps blocks of 4 rows × 16
// channels in registers across all taps, instead of loading and storing y once per tap.
// Each sum runs over s in order in float32, with fused multiply-adds in the assembly and
// separate roundings in the generic twin, and is then added to y.
func CorrRows(y, u, k []float32, rows, h, taps int) {
	if rows <= 0 || h <= 0 || taps <= 0 {
		return
	}
	fit(y, rows*h)
	fit(u, (rows+taps-1)*h)
	fit(k, taps*h)
	corrRows(y, u, k, rows, h, taps)
}

// accCols is the widest channel range the generic twins accumulate at once.
const accCols = 64

// corrRowsGeneric computes CorrRows for rows [r0, r1) and channels [c0, c1).
func corrRowsGeneric(y, u, k []float32, h, taps, r0, r1, c0, c1 int) {
	// Channels are independent, so wide ranges go in blocks of accCols: the accumulator
	// row then fits a fixed array on the stack instead of a new slice per call, and every
	// element sums the same products in the same order.
	for ; c1-c0 > accCols; c0 += accCols {
		corrRowsGeneric(y, u, k, h, taps, r0, r1, c0, c0+accCols)
	}
	w := c1 - c0
	if w <= 0 {
		return
	}
	var small [accCols]float32
	acc := small[:w]
	for r := r0; r < r1; r++ {
		clear(acc)
		for s := 0; s < taps; s++ {
			kr, ur := k[s*h+c0:s*h+c1], u[(r+s)*h+c0:(r+s)*h+c1]
			for j := range acc {
				acc[j] += kr[j] * ur[j]
			}
		}
		yr := y[r*h+c0 : r*h+c1]
		for j := range yr {
			yr[j] += acc[j]
		}
	}
}

// CorrSumRows adds to dst the correlations of a with b shifted by j rows, channel by
// channel, for j < taps and c < width:
//
//	dst[j·width+c] += Σ_{t<n} a[t·stride+c]·b[(t+j)·stride+c].
//
// a and b are rows of stride elements of which the first width are used; b holds
// n+taps−1 of them. This is the kernel gradient of a depthwise convolution. Each sum runs
// over t in order in float32 (fused multiply-adds in the assembly, separate roundings in
// the generic twin), then is added to dst. The assembly keeps blocks of 4 shifts × 16
// channels in registers across all rows.
func CorrSumRows(dst, a, b []float32, n, stride, width, taps int) {
	if n <= 0 || width <= 0 || taps <= 0 {
		return
	}
	if width > stride {
		panic("simd: CorrSumRows width exceeds the row stride")
	}
	fit(dst, taps*width)
	fit(a, (n-1)*stride+width)
	fit(b, (n+taps-2)*stride+width)
	corrSumRows(dst, a, b, n, stride, width, taps)
}

// corrSumRowsGeneric computes CorrSumRows for shifts [j0, j1) and channels [c0, c1).
func corrSumRowsGeneric(dst, a, b []float32, n, stride, width, j0, j1, c0, c1 int) {
	// In blocks of accCols channels, as in corrRowsGeneric.
	for ; c1-c0 > accCols; c0 += accCols {
		corrSumRowsGeneric(dst, a, b, n, stride, width, j0, j1, c0, c0+accCols)
	}
	if c1 <= c0 {
		return
	}
	var small [accCols]float32
	acc := small[:c1-c0]
	for j := j0; j < j1; j++ {
		clear(acc)
		for t := 0; t < n; t++ {
			ar, br := a[t*stride+c0:t*stride+c1], b[(t+j)*stride+c0:(t+j)*stride+c1]
			for i := range acc {
				acc[i] += ar[i] * br[i]
			}
		}
		d := dst[j*width+c0 : j*width+c1]
		for i := range d {
			d[i] += acc[i]
		}
	}
}
