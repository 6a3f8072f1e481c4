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

// corrRowsGeneric computes CorrRows for rows [r0, r1) and channels [c0, c1).
func corrRowsGeneric(y, u, k []float32, h, taps, r0, r1, c0, c1 int) {
	w := c1 - c0
	if w <= 0 {
		return
	}
	acc := make([]float32, w)
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
