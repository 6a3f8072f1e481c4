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
