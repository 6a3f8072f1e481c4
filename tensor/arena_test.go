package tensor

import "testing"

// TestArenaReuse checks that an arena lends zeroed tensors of the requested shapes, that
// after Reset the same sizes get the same storage back (zeroed again, whatever the last
// step wrote), and that it grows only for sizes it has not held.
func TestArenaReuse(t *testing.T) {
	cpu := NewCPU(1)
	a := NewArena(cpu)
	if a.Serves(DefaultCPU()) && DefaultCPU() != cpu || !a.Serves(cpu) {
		t.Fatal("an arena serves its own CPU and no other")
	}
	shapes := [][]int{{7}, {3, 5}, {1000}, {7}, {2, 0, 3}}
	step := func(fill float32) []*Tensor {
		var ts []*Tensor
		for _, s := range shapes {
			x := a.Zeros(s...)
			if !SameShape(x.Shape(), s) || x.Device() != Device(cpu) {
				t.Fatalf("Zeros(%v) gave %v on %s", s, x.Shape(), x.Device().Name())
			}
			for i, v := range x.Data() {
				if v != 0 {
					t.Fatalf("Zeros(%v)[%d] = %v, want 0", s, i, v)
				}
			}
			cpu.Fill(x, fill)
			ts = append(ts, x)
		}
		return ts
	}
	first := step(3)
	grown := a.Bytes()
	if want := 4 * (7 + 15 + 1000 + 7); grown != want {
		t.Fatalf("arena holds %d bytes, want %d", grown, want)
	}
	a.Reset()
	second := step(5)
	if a.Bytes() != grown {
		t.Fatalf("second step grew the arena from %d to %d bytes", grown, a.Bytes())
	}
	// The two tensors of 7 elements may trade buffers; both must be the first step's.
	same := map[*float32]bool{}
	for _, x := range first {
		if x.Numel() > 0 {
			same[&x.Data()[0]] = true
		}
	}
	for _, x := range second {
		if x.Numel() > 0 && !same[&x.Data()[0]] {
			t.Fatalf("tensor %v did not reuse a buffer of the first step", x.Shape())
		}
	}
	a.Reset()
	a.Zeros(8)
	if a.Bytes() != grown+32 {
		t.Fatalf("a new size should grow the arena by 32 bytes: %d -> %d", grown, a.Bytes())
	}
}

// TestScratchReuse checks that the CPU's work buffers come back zeroed and are reused.
func TestScratchReuse(t *testing.T) {
	cpu := NewCPU(1)
	b := cpu.f32(13)
	for i := range b {
		b[i] = float32(i + 1)
	}
	cpu.putF32(b)
	b2 := cpu.f32(13)
	if &b2[0] != &b[0] {
		t.Fatal("a returned buffer of the same size was not reused")
	}
	for i, v := range b2 {
		if v != 0 {
			t.Fatalf("reused buffer [%d] = %v, want 0", i, v)
		}
	}
	if c := cpu.c64(5); len(c) != 5 || c[4] != 0 {
		t.Fatal("c64 gave a wrong buffer")
	}
	if f := cpu.f64(1); len(f) != 1 || f[0] != 0 {
		t.Fatal("f64 gave a wrong buffer")
	}
}
