package main

import (
	"math"
	"strings"
	"testing"

	"github.com/hungry-ssm/hungry/tensor"
)

// TestBenchLongQuick runs the long-context rows at their smoke-test size: every row is
// reported, and the chunked and single-shot evaluations agree.
func TestBenchLongQuick(t *testing.T) {
	var names []string
	err := benchLong(tensor.DefaultCPU(), true, func(name string, sec, value float64, unit string) {
		names = append(names, name)
		if strings.Contains(name, "NLL") {
			if !(math.Abs(value) <= 1) {
				t.Errorf("%s: %g %s", name, value, unit)
			}
			return
		}
		if !(sec > 0) || !(value >= 0) {
			t.Errorf("%s: %g s, %g %s", name, sec, value, unit)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	// Chunked at one length, single-shot and chunked at one, two rows each, and the
	// difference of their NLLs.
	if len(names) != 7 {
		t.Errorf("rows %q", names)
	}
}
