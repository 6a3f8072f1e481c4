package main

import (
	"bytes"
	"encoding/json"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hungry-ssm/hungry/autograd"
	"github.com/hungry-ssm/hungry/layers"
	"github.com/hungry-ssm/hungry/tensor"
)

// benchJSON runs hungry bench with args and decodes its JSON.
func benchJSON(t *testing.T, args ...string) map[string]any {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if code := run(append([]string{"bench", "--json"}, args...), &stdout, &stderr); code != 0 {
		t.Fatalf("hungry bench %v: exit %d: %s", args, code, stderr.String())
	}
	var report map[string]any
	dec := json.NewDecoder(&stdout)
	dec.UseNumber()
	if err := dec.Decode(&report); err != nil {
		t.Fatalf("bench output is not JSON: %v\n%s", err, stdout.String())
	}
	return report
}

func keys(m map[string]any) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func num(t *testing.T, r map[string]any, key string) float64 {
	t.Helper()
	n, ok := r[key].(json.Number)
	if !ok {
		t.Fatalf("row %v: %q is %T, want a number", r["name"], key, r[key])
	}
	f, err := n.Float64()
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// The schema scripts rely on (scripts/torch-compare reads it): top-level device and CPU
// description, and rows whose original fields name, seconds, value and unit keep their
// names and meaning; timed rows add median_seconds and reps. A field renamed or dropped
// fails here.
func TestBenchJSONSchema(t *testing.T) {
	report := benchJSON(t, "--device", "cpu", "--quick", "--reps", "2", "--min-time", "0")
	for _, k := range []string{"device", "cpu", "cpu_family", "features", "kernel_family", "logical_cores", "gomaxprocs",
		"min_reps", "min_time_seconds", "go_version", "results"} {
		if _, ok := report[k]; !ok {
			t.Errorf("top level lacks %q (has %v)", k, keys(report))
		}
	}
	if report["device"] != "cpu" {
		t.Errorf("device %v, want cpu", report["device"])
	}
	rows, _ := report["results"].([]any)
	var names []string
	allowed := []string{"name", "seconds", "value", "unit", "median_seconds", "reps", "params"}
	for _, row := range rows {
		r := row.(map[string]any)
		name, _ := r["name"].(string)
		names = append(names, name)
		for _, k := range keys(r) {
			if !slices.Contains(allowed, k) {
				t.Errorf("row %q has unexpected field %q", name, k)
			}
		}
		sec, med, value := num(t, r, "seconds"), num(t, r, "median_seconds"), num(t, r, "value")
		if !(sec > 0 && med >= sec && value > 0) || num(t, r, "reps") < 2 {
			t.Errorf("row %q: seconds %g, median %g, value %g, reps %v", name, sec, med, value, r["reps"])
		}
		if u, _ := r["unit"].(string); u == "" {
			t.Errorf("row %q has no unit", name)
		}
	}
	for _, want := range []string{"sgemm 64³", "fftconv fwd+bwd B=2 H=16 L=64", "h3conv fwd B=2 H=16 L=64",
		"h3conv fwd+bwd B=2 H=16 L=64", "train step h3 d=32 L=32 B=2", "generate h3 d=32 (recurrent step)",
		"generate h3 d=32 prompt=64 (recurrent step)", "generate transformer d=32 prompt=64 (KV cache)",
		"prefill transformer d=32 L=64", "train step h3 d=32 L=64 B=1", "train step hybrid d=32 L=64 B=1",
		"train step transformer d=32 L=64 B=1"} {
		if !slices.Contains(names, want) {
			t.Errorf("no row %q in %q", want, names)
		}
	}
}

// --device sim reports, per H3-convolution row, the counted traffic (issue 12 item 4).
func TestBenchSimJSON(t *testing.T) {
	report := benchJSON(t, "--device", "sim", "--quick")
	if report["device"] != "ptxsim" {
		t.Errorf("device %v, want ptxsim", report["device"])
	}
	rows, _ := report["results"].([]any)
	if len(rows) != 2 {
		t.Fatalf("%d rows, want forward and forward+backward", len(rows))
	}
	for i, row := range rows {
		r := row.(map[string]any)
		want := []string{"h3conv fwd B=1 H=3 L=300", "h3conv fwd+bwd B=1 H=3 L=300"}[i]
		if r["name"] != want {
			t.Errorf("row %d is %v, want %q", i, r["name"], want)
		}
		read, written, minBytes := num(t, r, "bytes_read"), num(t, r, "bytes_written"), num(t, r, "min_bytes")
		if num(t, r, "launches") < num(t, r, "kernel_launches") || num(t, r, "kernel_launches") < 1 || read+written < minBytes || minBytes != float64(h3ConvMinBytes(i == 1, 1, 3, 300)) {
			t.Errorf("row %v: launches %v, %g read + %g written vs min %g", r["name"], r["launches"], read, written, minBytes)
		}
		if got, want := num(t, r, "h100_roofline_seconds"), (read+written)/h100Bandwidth; math.Abs(got-want) > 1e-9*want {
			t.Errorf("row %v: roofline %g s, want %g", r["name"], got, want)
		}
		if num(t, r, "torch_bytes") != float64(torchFFTConvBytes(i == 1, 1, 3, 300)) {
			t.Errorf("row %v: torch bytes %v", r["name"], r["torch_bytes"])
		}
		if ops, _ := r["ops"].([]any); len(ops) == 0 {
			t.Errorf("row %v has no per-op breakdown", r["name"])
		}
	}
}

func TestBenchRejectsBadFlags(t *testing.T) {
	for _, args := range [][]string{{"--reps", "0"}, {"--max-time", "0s"}, {"--lengths", "1024,x"}, {"--lengths", "0"}, {"--only", "sgemm"}, {"--device", "tpu"}, {"stray"}} {
		var stdout, stderr bytes.Buffer
		if code := run(append([]string{"bench"}, args...), &stdout, &stderr); code != 2 || strings.Count(stderr.String(), "\n") != 1 {
			t.Errorf("bench %v: exit %d, stderr %q; want 2 and one line", args, code, stderr.String())
		}
	}
}

// The byte models, evaluated by hand at B = H = L = 1 (F = 2 one-sided bins).
func TestBenchByteModels(t *testing.T) {
	// Forward minimum: q, k̃, v, kernel, D in, y out: 6 floats.
	if got := h3ConvMinBytes(false, 1, 1, 1); got != 24 {
		t.Errorf("forward min bytes %d, want 24", got)
	}
	// Backward adds q, k̃, v, kernel, D, dy in and five gradients out: 11 floats.
	if got := h3ConvMinBytes(true, 1, 1, 1); got != 24+44 {
		t.Errorf("fwd+bwd min bytes %d, want 68", got)
	}
	// u 12; k_f 12+24+32; u_f 12+24; p 48; irfft 32+24; +u·D 12+12; q·y 12.
	if got := torchFFTConvBytes(false, 1, 1, 1); got != 256 {
		t.Errorf("torch forward bytes %d, want 256", got)
	}
	// Both models are affine in the batch at fixed H and L.
	for _, bwd := range []bool{false, true} {
		d1 := torchFFTConvBytes(bwd, 2, 4, 64) - torchFFTConvBytes(bwd, 1, 4, 64)
		d2 := torchFFTConvBytes(bwd, 3, 4, 64) - torchFFTConvBytes(bwd, 2, 4, 64)
		if d1 != d2 || d1 <= 0 {
			t.Errorf("torch bytes not affine in B (backward %v): %d, %d", bwd, d1, d2)
		}
	}
}

// h3Conv computes the H3 mixer's gated convolution: compared with a float64 direct
// evaluation of q·(Σ_s kernel[s]·(k̃v)[t−s] + D·(k̃v)[t]) on random inputs. Tolerance 1e-4
// relative to the output's scale: the FFT path rounds in float32 over O(log L) stages.
func TestH3ConvIsTheGatedConvolution(t *testing.T) {
	const b, h, l = 2, 3, 300
	dev := tensor.DefaultCPU()
	in := newH3ConvInputs(dev, tensor.NewRNG(9), b, h, l)
	g := autograd.NewGraph()
	y := h3Conv(g, in.q, in.kt, in.v, in.kernel, in.d).Value.Host()
	q, kt, v, k, d := in.q.Value.Host(), in.kt.Value.Host(), in.v.Value.Host(), in.kernel.Value.Host(), in.d.Value.Host()
	var worst, scale float64
	for bi := 0; bi < b; bi++ {
		for c := 0; c < h; c++ {
			at := func(x []float32, i int) float64 { return float64(x[(bi*l+i)*h+c]) }
			for i := 0; i < l; i++ {
				s := float64(d[c]) * at(kt, i) * at(v, i)
				for j := 0; j <= i; j++ {
					s += float64(k[c*l+j]) * at(kt, i-j) * at(v, i-j)
				}
				want := at(q, i) * s
				worst = max(worst, math.Abs(at(y, i)-want))
				scale = max(scale, math.Abs(want))
			}
		}
	}
	if worst > 1e-4*scale {
		t.Errorf("max error %g at output scale %g", worst, scale)
	}
}

// slowSync is a device whose queued work takes 20 ms to finish: a timer that stopped
// before synchronizing would measure the enqueue time only.
type slowSync struct {
	tensor.Device
	syncs int
}

func (s *slowSync) Synchronize() error {
	s.syncs++
	time.Sleep(20 * time.Millisecond)
	return nil
}

func TestBenchTimerWaitsForTheDevice(t *testing.T) {
	dev := &slowSync{Device: tensor.DefaultCPU()}
	b := &bencher{dev: dev, minReps: 3, minTime: 0, maxTime: time.Minute}
	runs := 0
	tm, err := b.measure(100, func() error { runs++; return nil })
	if err != nil {
		t.Fatal(err)
	}
	if tm.reps != 3 || runs != 4 || dev.syncs != 4 {
		t.Errorf("%d reps, %d runs, %d synchronizations; want 3 timed after 1 warm-up, each synchronized", tm.reps, runs, dev.syncs)
	}
	if tm.min < 20*time.Millisecond || tm.median < tm.min {
		t.Errorf("fastest %v, median %v: the wait for the device is not inside the time", tm.min, tm.median)
	}
	// maxReps bounds a row however short its runs.
	b = &bencher{dev: tensor.DefaultCPU(), minReps: 50, minTime: time.Hour, maxTime: time.Hour}
	if tm, err := b.measure(7, func() error { return nil }); err != nil || tm.reps != 7 {
		t.Errorf("maxReps 7: %d reps, %v", tm.reps, err)
	}
}

// h3Conv is the convolution the H3 mixer runs: rebuilding layers.H3's forward pass (head_dim
// 1) around it gives the mixer's output. When the mixer's convolution changes (a fused
// Device op), this test is where h3Conv must follow it; the tolerance is float32 rounding
// of an O(L log L) FFT path, 1e-5 of the output's scale.
func TestH3ConvIsTheMixersConvolution(t *testing.T) {
	const b, l, d = 2, 300, 6
	dev := tensor.DefaultCPU()
	rng := tensor.NewRNG(11)
	m, err := layers.NewH3(dev, rng, "m", layers.H3Config{Dim: d, DState: 4, HeadDim: 1, Disc: tensor.ZOH}, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	x := autograd.Constant(tensor.RandNormal(dev, rng, 1, b, l, d))
	g := autograd.NoGrad()
	want := m.Forward(g, x).Value.Host()
	q, k, v := m.QProj.Forward(g, x), m.KProj.Forward(g, x), m.VProj.Forward(g, x)
	got := m.OutputLinear.Forward(g, h3Conv(g, q, m.Shift.Forward(g, k), v, m.Diag.Kernel(g, l), m.Diag.D)).Value.Host()
	var worst, scale float64
	for i := range want {
		worst = max(worst, math.Abs(float64(got[i]-want[i])))
		scale = max(scale, math.Abs(float64(want[i])))
	}
	if worst > 1e-5*scale {
		t.Errorf("h3Conv inside the mixer differs from layers.H3 by %g (output scale %g)", worst, scale)
	}
}
