package tensor

import "testing"

func TestKernelFamilyIsKnown(t *testing.T) {
	switch f := KernelFamily(); f {
	case "avx512", "avx2", "generic":
		t.Logf("CPU kernel family: %s %s", f, KernelFamilyNote())
	default:
		t.Fatalf("KernelFamily() = %q, not avx512, avx2 or generic", f)
	}
}
