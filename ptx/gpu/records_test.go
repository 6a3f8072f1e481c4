package gpu

import (
	"testing"

	"github.com/hungry-ssm/hungry/tensor"
)

// The records name the Device method that issued each launch and count each operand's
// bytes once: an elementwise add of n floats reads 2n and writes n of them.
func TestRecordsCountOpsAndBytes(t *testing.T) {
	dev := NewInterpreted()
	rng := tensor.NewRNG(3)
	const n = 1000
	a, b := tensor.RandNormal(dev, rng, 1, n), tensor.RandNormal(dev, rng, 1, n)
	out := dev.Zeros(n)
	dev.ResetCounters()
	dev.Binary(tensor.OpAdd, out, a, b)
	dev.Fill(out, 2)
	rs := dev.Records()
	if len(rs) != 2 {
		t.Fatalf("%d records, want 2 (the add and the fill): %+v", len(rs), rs)
	}
	add, fill := rs[0], rs[1]
	if add.Op != "Binary" || add.BytesRead != 8*n || add.BytesWritten != 4*n || add.Threads == 0 || add.Blocks() == 0 {
		t.Errorf("add: %+v; want op Binary, %d bytes read, %d written", add, 8*n, 4*n)
	}
	if fill.Op != "Fill" || fill.Kernel != "memset" || fill.BytesWritten != 4*n || fill.BytesRead != 0 {
		t.Errorf("fill: %+v; want a memset of %d bytes by Fill", fill, 4*n)
	}
	if got := dev.Launches()[add.Kernel]; got != 1 {
		t.Errorf("Launches()[%s] = %d, want 1", add.Kernel, got)
	}
	dev.ResetCounters()
	if rs := dev.Records(); len(rs) != 0 {
		t.Errorf("ResetCounters left %d records", len(rs))
	}
}

// An FFT causal convolution is one Device op however many kernels it runs, and each of
// its launches reads and writes at least something.
func TestRecordsAttributeHelpersToTheirOp(t *testing.T) {
	dev := NewInterpreted()
	rng := tensor.NewRNG(4)
	const b, l, h = 1, 300, 3
	u := tensor.RandNormal(dev, rng, 1, b, l, h)
	k := tensor.RandNormal(dev, rng, 0.1, h, l)
	d := tensor.RandNormal(dev, rng, 1, h)
	y := dev.Zeros(b, l, h)
	dev.ResetCounters()
	dev.CausalConv(y, u, k, d)
	rs := dev.Records()
	if len(rs) < 2 {
		t.Fatalf("%d records for an FFT convolution, want several", len(rs))
	}
	for _, r := range rs {
		if r.Op != "CausalConv" {
			t.Errorf("launch of %s attributed to %q, want CausalConv", r.Kernel, r.Op)
		}
		if r.BytesWritten == 0 || r.AccessWritten < r.BytesWritten || r.AccessRead < r.BytesRead {
			t.Errorf("launch of %s: %+v", r.Kernel, r.LaunchStats)
		}
	}
}

// A GPU device counts no bytes: Records is nil there.
func TestRecordsNilWithoutInterpreter(t *testing.T) {
	if (&Device{}).Records() != nil {
		t.Error("a device without the interpreter returned records")
	}
}
