package fft

// Generic Go twins of the assembly kernels. They define the kernels' contracts, run when
// the processor lacks AVX2+FMA or the build has the noasm tag, and are the reference the
// assembly is tested against.

// radix2Generic runs one radix-2 decimation-in-time stage of half-size h = len(w) on every
// block of 2h values of x: (a, b) → (a + w·b, a − w·b). len(x) is a multiple of 2h.
func radix2Generic(x, w []complex64) {
	h := len(w)
	for k := 0; k+2*h <= len(x); k += 2 * h {
		a, b := x[k:k+h:k+h], x[k+h:k+2*h:k+2*h]
		for j, wj := range w {
			t := wj * b[j]
			b[j] = a[j] - t
			a[j] += t
		}
	}
}

// radix4Generic runs two radix-2 stages, half-sizes h = len(w1) and 2h, on every block of
// 4h values of x. w1 = exp(-2πi·j/(2h)) and w2 = exp(-2πi·j/(4h)) for j < h; the second
// stage's twiddles for j ≥ h are −i·w2[j−h], so they need no table.
func radix4Generic(x, w1, w2 []complex64) {
	h := len(w1)
	for k := 0; k+4*h <= len(x); k += 4 * h {
		a := x[k : k+h : k+h]
		b := x[k+h : k+2*h : k+2*h]
		c := x[k+2*h : k+3*h : k+3*h]
		d := x[k+3*h : k+4*h : k+4*h]
		for j := 0; j < h; j++ {
			wa, wb := w1[j], w2[j]
			tb, td := wa*b[j], wa*d[j]
			a1, b1 := a[j]+tb, a[j]-tb
			c1, d1 := c[j]+td, c[j]-td
			tc, t := wb*c1, wb*d1
			t = complex(imag(t), -real(t)) // −i·t
			a[j], c[j] = a1+tc, a1-tc
			b[j], d[j] = b1+t, b1-t
		}
	}
}

// mulSpectraGeneric sets dst = a·b, or conj(a)·b when conjA, element by element.
func mulSpectraGeneric(dst, a, b []complex64, conjA bool) {
	a, b = a[:len(dst)], b[:len(dst)]
	if conjA {
		for i := range dst {
			ar, ai, br, bi := real(a[i]), imag(a[i]), real(b[i]), imag(b[i])
			dst[i] = complex(ar*br+ai*bi, ar*bi-ai*br)
		}
		return
	}
	for i := range dst {
		dst[i] = a[i] * b[i]
	}
}

// mulAddSpectraGeneric adds a·b, or conj(a)·b when conjA, to dst element by element.
func mulAddSpectraGeneric(dst, a, b []complex64, conjA bool) {
	a, b = a[:len(dst)], b[:len(dst)]
	if conjA {
		for i := range dst {
			ar, ai, br, bi := real(a[i]), imag(a[i]), real(b[i]), imag(b[i])
			dst[i] += complex(ar*br+ai*bi, ar*bi-ai*br)
		}
		return
	}
	for i := range dst {
		dst[i] += a[i] * b[i]
	}
}

// splitPair turns Z[k] and Z[m−k] (0 < k ≤ m/2, m = len(z)−1) into the bins X[k] and
// X[m−k] of the real transform, in place. E and O are the spectra of the even and odd
// samples at bin k: E = (Z[k] + conj Z[m−k])/2, O = −i/2·(Z[k] − conj Z[m−k]), and
// X[k] = E + W^k·O, X[m−k] = conj(E − W^k·O), with W^k = w[k].
func splitPair(z, w []complex64, k int) {
	m := len(z) - 1
	zk, zmk := z[k], z[m-k]
	er := 0.5 * (real(zk) + real(zmk))
	ei := 0.5 * (imag(zk) - imag(zmk))
	or := 0.5 * (imag(zk) + imag(zmk))
	oi := -0.5 * (real(zk) - real(zmk))
	wr, wi := real(w[k]), imag(w[k])
	tr := wr*or - wi*oi
	ti := wr*oi + wi*or
	z[k] = complex(er+tr, ei+ti)
	z[m-k] = complex(er-tr, ti-ei)
}

// splitGeneric runs splitPair for k = 1 … 4·blocks; see pairBlocks.
func splitGeneric(z, w []complex64, blocks int) {
	for k := 1; k <= 4*blocks; k++ {
		splitPair(z, w, k)
	}
}

// joinPair stores swap(Z[k]) and swap(Z[m−k]) in s (m = len(s), 0 < k ≤ m/2), where
// Z[k] = 2(E[k] + i·O[k]) packs the spectra of the even and odd samples that the real
// spectrum x holds: with A = x[k] and B = conj x[m−k], 2E = A + B and
// 2O = conj(W^k)·(A − B), and Z[m−k] = conj(2E − 2i·O). swap exchanges the real and
// imaginary parts (see Plan.Inverse).
func joinPair(s, x, w []complex64, k int) {
	m := len(s)
	a, b := x[k], x[m-k]
	sr, si := real(a)+real(b), imag(a)-imag(b)
	dr, di := real(a)-real(b), imag(a)+imag(b)
	wr, wi := real(w[k]), -imag(w[k])
	cr := wr*dr - wi*di
	ci := wr*di + wi*dr
	// T = i·(cr + i·ci)
	tr, ti := -ci, cr
	s[k] = complex(si+ti, sr+tr)
	s[m-k] = complex(ti-si, sr-tr)
}

// joinGeneric runs joinPair for k = 1 … 4·blocks; see pairBlocks.
func joinGeneric(s, x, w []complex64, blocks int) {
	for k := 1; k <= 4*blocks; k++ {
		joinPair(s, x, w, k)
	}
}

// swapScaleGeneric exchanges the real and imaginary parts of every value of z and
// multiplies them by scale.
func swapScaleGeneric(z []complex64, scale float32) {
	for i, v := range z {
		z[i] = complex(imag(v)*scale, real(v)*scale)
	}
}

// packGeneric stores x in z in bit-reversed order and runs the two trivial radix-2
// stages (twiddles 1 and −i) on the way: block t of z (m = len(z) values, m/4 blocks)
// receives x[j], x[j+m/2], x[j+m/4] and x[j+3m/4] for j = rev4[t]. When half is set, x
// holds only its first m/2 values and the rest are zero.
func packGeneric(z, x []complex64, rev4 []int32, half bool) {
	m := len(z)
	q1, q2, q3 := m/2, m/4, 3*m/4
	if half {
		x = x[:m/2]
		for t, j0 := range rev4 {
			j := int(j0)
			a, c := x[j], x[j+q2]
			mc := complex(imag(c), -real(c)) // −i·c
			out := z[4*t : 4*t+4 : 4*t+4]
			out[0], out[1], out[2], out[3] = a+c, a+mc, a-c, a-mc
		}
		return
	}
	x = x[:m]
	for t, j0 := range rev4 {
		j := int(j0)
		butterfly4(z[4*t:4*t+4:4*t+4], x[j], x[j+q1], x[j+q2], x[j+q3])
	}
}
