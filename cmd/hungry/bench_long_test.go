package main

import (
	"io"
	"math"
	"strings"
	"testing"

	"github.com/hungry-ssm/hungry/tensor"
)

// TestBenchLongQuick runs the long-context rows at their smoke-test size: every row is
// reported, and the chunked and single-shot evaluations agree.
func TestBenchLongQuick(t *testing.T) {
	b := &bencher{dev: tensor.DefaultCPU(), out: io.Discard, asJSON: true}
	if err := benchLong(b, true); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range b.results {
		names = append(names, r.Name)
		if strings.Contains(r.Name, "NLL") {
			if !(math.Abs(r.Value) <= 1) {
				t.Errorf("%s: %g %s", r.Name, r.Value, r.Unit)
			}
			continue
		}
		if !(r.Seconds > 0) || !(r.Value >= 0) {
			t.Errorf("%s: %g s, %g %s", r.Name, r.Seconds, r.Value, r.Unit)
		}
	}
	// Chunked at one length, single-shot and chunked at one, two rows each, and the
	// difference of their NLLs.
	if len(names) != 7 {
		t.Errorf("rows %q", names)
	}
}
