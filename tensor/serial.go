package tensor

// serial reports whether c.For(n, grain, …) would run the whole loop on the calling
// goroutine. Hot small ops test it to call their body directly: a closure handed to For
// escapes to the heap, so building one only to run it inline costs an allocation.
func (c *CPU) serial(n, grain int) bool {
	return c.pool.Workers() <= 1 || n <= max(grain, 1)
}

// forArgs is For for a body that takes what it needs as a value instead of capturing it.
// A loop that runs inline calls body directly and allocates nothing; only a loop split
// between workers builds the closure For needs. body should capture nothing, so that it
// is a static function value.
func forArgs[T any](c *CPU, n, grain int, args T, body func(a T, lo, hi int)) {
	if c.serial(n, grain) {
		body(args, 0, n)
		return
	}
	// A copy declared here, not the parameter, is what the closure captures: a captured
	// variable moves to the heap where it is declared, and this one only on this path.
	a := args
	c.For(n, grain, func(lo, hi int) { body(a, lo, hi) })
}
