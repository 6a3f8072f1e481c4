package cpu

import (
	"strings"
	"testing"
)

func TestChoose(t *testing.T) {
	best := Generic
	for _, f := range Families {
		if Supported(f) {
			best = f
		}
	}
	t.Logf("families supported here: best %s; active %s", best, Active)
	if !Supported(Active) {
		t.Fatalf("active family %s is not supported", Active)
	}
	for _, f := range Families {
		got, note := choose(" " + strings.ToUpper(f.String()))
		if Supported(f) && (got != f || note != "") {
			t.Errorf("choose(%s) = %s, %q; want %s and no note", f, got, note, f)
		}
		if !Supported(f) && (got != best || note == "") {
			t.Errorf("choose(%s) on a processor without it = %s, %q; want %s and a note", f, got, note, best)
		}
	}
	if got, note := choose(""); got != best || note != "" {
		t.Errorf("choose(\"\") = %s, %q; want %s", got, note, best)
	}
	if got, note := choose("avx9"); got != best || !strings.Contains(note, "avx9") {
		t.Errorf("choose(avx9) = %s, %q; want %s and a note naming the value", got, note, best)
	}
	if AVX2FMA != (Active >= AVX2) {
		t.Errorf("AVX2FMA = %v with active family %s", AVX2FMA, Active)
	}
}
