package gpu

import "sync"

// Transfers counts the copies between host and device memory, each way, and their
// bytes: what a test checks to see that work stays on the device (a generated token
// should move only its ids and the logits read back).
type Transfers struct {
	ToDevice, ToHost           int
	BytesToDevice, BytesToHost int64
}

// Transfers returns the copies made since the device was made or ResetCounters.
func (d *Device) Transfers() Transfers {
	d.transfers.mu.Lock()
	defer d.transfers.mu.Unlock()
	return d.transfers.t
}

type transferCounter struct {
	mu sync.Mutex
	t  Transfers
}

func (c *transferCounter) add(toDevice bool, words int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if toDevice {
		c.t.ToDevice++
		c.t.BytesToDevice += 4 * int64(words)
	} else {
		c.t.ToHost++
		c.t.BytesToHost += 4 * int64(words)
	}
}

func (c *transferCounter) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = Transfers{}
}
