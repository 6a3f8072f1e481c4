package tensor

// serial reports whether c.For(n, grain, …) would run the whole loop on the calling
// goroutine. Hot small ops test it to call their body directly: a closure handed to For
// escapes to the heap, so building one only to run it inline costs an allocation.
func (c *CPU) serial(n, grain int) bool {
	return c.pool.Workers() <= 1 || n <= max(grain, 1)
}
