package main

import (
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hungry-ssm/hungry/autograd"
	"github.com/hungry-ssm/hungry/ptx/gpu"
	"github.com/hungry-ssm/hungry/tensor"
)

// benchResult is one line of `hungry bench`. The first four fields are the original
// schema (scripts read them); the others were added beside them and are left out where
// they do not apply.
type benchResult struct {
	Name string `json:"name"`
	// Seconds is the fastest repetition: the one least disturbed by whatever else shares
	// the machine. Value is derived from it.
	Seconds float64 `json:"seconds"`
	Value   float64 `json:"value"`
	Unit    string  `json:"unit"`
	// MedianSeconds is the median repetition, Reps how many were timed.
	MedianSeconds float64 `json:"median_seconds,omitempty"`
	Reps          int     `json:"reps,omitempty"`
	Params        int     `json:"params,omitempty"`
	Note          string  `json:"note,omitempty"`

	// Rows of --device sim (counted in the PTX interpreter, not timed; Value is the
	// traffic over MinBytes): kernel launches plus device-side memsets and copies, the
	// distinct global-memory bytes they read and wrote, the least any implementation
	// must move, and the H100 roofline times of ours and of PyTorch's FFT convolution.
	Launches           int         `json:"launches,omitempty"`
	KernelLaunches     int         `json:"kernel_launches,omitempty"` // launches less the memsets and device copies
	BytesRead          int64       `json:"bytes_read,omitempty"`
	BytesWritten       int64       `json:"bytes_written,omitempty"`
	MinBytes           int64       `json:"min_bytes,omitempty"`
	H100Seconds        float64     `json:"h100_roofline_seconds,omitempty"`
	TorchBytes         int64       `json:"torch_bytes,omitempty"`
	TorchH100Seconds   float64     `json:"torch_h100_roofline_seconds,omitempty"`
	MaxThreadsPerBlock int         `json:"max_threads_per_block,omitempty"`
	MaxSharedBytes     int         `json:"max_shared_bytes,omitempty"`
	Ops                []opTraffic `json:"ops,omitempty"`
}

// benchReport is the --json output.
type benchReport struct {
	Device string `json:"device"`
	cpuInfo
	MinReps   int           `json:"min_reps"`
	MinTimeS  float64       `json:"min_time_seconds"`
	Results   []benchResult `json:"results"`
	GoVersion string        `json:"go_version"`
}

// bencher times rows on one device and collects them.
type bencher struct {
	dev     tensor.Device
	out     io.Writer
	asJSON  bool
	minReps int
	minTime time.Duration
	maxTime time.Duration
	results []benchResult
}

// benchTiming is what measure found.
type benchTiming struct {
	min, median time.Duration
	reps        int
}

// measure times f. It runs f once untimed (first-use costs: JIT compilation, caches,
// lazily made constants, page faults) and then repeatedly, each time after a garbage
// collection so that no repetition pays for an earlier one's garbage, and after waiting
// for the device so that queued GPU work is inside the time. It stops once it has at
// least b.minReps repetitions and b.minTime of them, or maxReps, or b.maxTime with at
// least 3 (slow rows).
func (b *bencher) measure(maxReps int, f func() error) (benchTiming, error) {
	if err := b.timed(f, nil); err != nil {
		return benchTiming{}, err
	}
	var times []time.Duration
	start := time.Now()
	for {
		el := time.Since(start)
		n := len(times)
		if n >= maxReps || (n >= b.minReps && el >= b.minTime) || (n >= 3 && el >= b.maxTime) {
			break
		}
		var d time.Duration
		if err := b.timed(f, &d); err != nil {
			return benchTiming{}, err
		}
		times = append(times, d)
	}
	slices.Sort(times)
	return benchTiming{min: times[0], median: times[len(times)/2], reps: len(times)}, nil
}

// timed runs f once after a collection, synchronizing the device before the clock stops.
func (b *bencher) timed(f func() error, d *time.Duration) error {
	runtime.GC()
	t0 := time.Now()
	err := catchDevice(f)
	if err == nil {
		err = syncDevice(b.dev)
	}
	if d != nil {
		*d = time.Since(t0)
	}
	return err
}

// syncDevice waits for a GPU's queued work (kernel launches return once queued).
func syncDevice(dev tensor.Device) error {
	if s, ok := dev.(interface{ Synchronize() error }); ok {
		return s.Synchronize()
	}
	return nil
}

// add records a timed row; per converts the fastest time into the row's value.
func (b *bencher) add(name string, t benchTiming, per float64, unit string, extra func(*benchResult)) {
	sec := t.min.Seconds()
	r := benchResult{Name: name, Seconds: sec, Value: per / sec, Unit: unit, MedianSeconds: t.median.Seconds(), Reps: t.reps}
	if extra != nil {
		extra(&r)
	}
	b.results = append(b.results, r)
	if !b.asJSON {
		fmt.Fprintf(b.out, "%-52s %10.3f ms (median %10.3f, %3d reps) %12.2f %s\n", name, sec*1e3,
			r.MedianSeconds*1e3, t.reps, r.Value, unit)
	}
}

// addOnce records a row measured by one run (too long to repeat): value is already
// per that run.
func (b *bencher) addOnce(name string, sec, value float64, unit string) {
	b.results = append(b.results, benchResult{Name: name, Seconds: sec, Value: value, Unit: unit, MedianSeconds: sec, Reps: 1})
	if !b.asJSON {
		fmt.Fprintf(b.out, "%-52s %10.3f ms (one run)                   %12.2f %s\n", name, sec*1e3, value, unit)
	}
}

// note prints (and records) a row that did not run, with the reason.
func (b *bencher) note(name, why string) {
	b.results = append(b.results, benchResult{Name: name, Note: why})
	if !b.asJSON {
		fmt.Fprintf(b.out, "%-52s skipped: %s\n", name, why)
	}
}

func runBench(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bench", "[flags]", stderr)
	asJSON := fs.Bool("json", false, "print JSON")
	device := fs.String("device", "auto", "auto, cpu, cuda, or sim (count the H3 convolution's GPU memory traffic in the PTX interpreter)")
	reps := fs.Int("reps", 5, "least number of timed repetitions per row (the fastest and the median are reported)")
	minTime := fs.Duration("min-time", 300*time.Millisecond, "least total time of a row's repetitions")
	maxTime := fs.Duration("max-time", 4*time.Second, "a row stops after this long once it has 3 repetitions")
	quick := fs.Bool("quick", false, "small sizes only (a smoke test)")
	long := fs.Bool("long", false, "family training rows at L = 1024, 4096 and 16384 (minutes; the 16K Transformer needs about 13 GiB)")
	lengths := fs.String("lengths", "1024", "comma-separated sequence lengths of the family training rows (--long: 1024,4096,16384)")
	gpuShapes := fs.Bool("gpu-shapes", false, "H3-convolution rows at the GPU benchmark shapes (B=8 H=1024 L=256..8K, B=64 H=768 L=1K..8K) on any device; on by default on a GPU")
	only := fs.String("only", "", `"h3conv": only the H3-convolution rows (at the GPU shapes on a GPU; scripts/gpu-check.sh uses it)`)
	longContext := fs.Bool("long-context", false, "also evaluation at 64K, 256K and 1M tokens a chunk at a time, and single-shot beside it at 8K, 64K and 256K, with peak heap (minutes)")
	if err := fs.parse(args); err != nil {
		return err
	}
	familyLengths, err := parseLengths(*lengths)
	if err != nil {
		return err
	}
	if *long {
		familyLengths = []int{1024, 4096, 16384}
	}
	if *only != "" && *only != "h3conv" {
		return usagef("--only takes h3conv, got %q", *only)
	}
	if *reps < 1 {
		return usagef("--reps must be at least 1, got %d", *reps)
	}
	if *minTime < 0 || *maxTime <= 0 {
		return usagef("--min-time must not be negative and --max-time must be positive")
	}
	report := benchReport{cpuInfo: thisCPU(), MinReps: *reps, MinTimeS: minTime.Seconds(), GoVersion: runtime.Version()}
	if *device == "sim" {
		dev := gpu.NewInterpreted()
		report.Device = dev.Name()
		shapes := simH3ConvShapes
		if *quick {
			shapes = [][3]int{{1, 3, 300}} // L ≥ 256 takes the FFT path
		}
		if !*asJSON {
			printBenchHeader(stdout, report)
			fmt.Fprintln(stdout, "global-memory traffic counted by the PTX interpreter (nothing is timed); bytes are distinct words per launch")
		}
		results, err := benchSimH3Conv(dev, shapes, stdout, *asJSON)
		if err != nil {
			return err
		}
		report.Results = results
		if *asJSON {
			return json.NewEncoder(stdout).Encode(report)
		}
		return nil
	}
	dev, err := pickDevice(*device, stderr)
	if err != nil {
		return err
	}
	report.Device = dev.Name()
	if !*asJSON {
		printBenchHeader(stdout, report)
	}
	b := &bencher{dev: dev, out: stdout, asJSON: *asJSON, minReps: *reps, minTime: *minTime, maxTime: *maxTime}
	_, onGPU := dev.(*gpu.Device)
	rows := []func(*bencher, bool) error{benchSgemm, benchFFTConv, benchH3Conv, benchTrainStep, benchGenerate}
	gpuRows := *gpuShapes || onGPU && !*quick
	if *only == "h3conv" {
		rows = nil
		if !gpuRows {
			rows = append(rows, benchH3Conv)
		}
	}
	for _, row := range rows {
		if err := row(b, *quick); err != nil {
			return err
		}
	}
	if gpuRows {
		if err := benchH3ConvShapes(b, gpuH3ConvShapes); err != nil {
			return err
		}
	}
	if *only == "" {
		if err := benchFamilies(b, *quick, familyLengths); err != nil {
			return err
		}
	}
	if *longContext {
		if *only != "" {
			return usagef("--long-context and --only cannot be combined")
		}
		if err := benchLong(b, *quick); err != nil {
			return err
		}
	}
	report.Results = b.results
	if *asJSON {
		return json.NewEncoder(stdout).Encode(report)
	}
	return nil
}

// parseLengths reads a comma-separated list of positive sequence lengths.
func parseLengths(s string) ([]int, error) {
	var ls []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, usagef("--lengths wants positive integers separated by commas, got %q", s)
		}
		ls = append(ls, n)
	}
	return ls, nil
}

func printBenchHeader(w io.Writer, r benchReport) {
	fmt.Fprintf(w, "device %s; CPU %s (family %d, %d logical cores, GOMAXPROCS %d); features: %s; CPU kernels: %s; %s\n",
		r.Device, r.Model, r.Family, r.Cores, r.Procs, r.Features, r.Kernels, r.GoVersion)
	if r.Device != "ptxsim" {
		fmt.Fprintf(w, "each row: one warm-up, then ≥ %d repetitions and ≥ %v, GC before each; fastest and median\n",
			r.MinReps, time.Duration(r.MinTimeS*float64(time.Second)))
	}
}

func benchSgemm(b *bencher, quick bool) error {
	dev, rng := b.dev, tensor.NewRNG(1)
	sizes := []int{256, 512, 1024}
	if quick {
		sizes = []int{64, 128}
	}
	for _, n := range sizes {
		x, y, c := tensor.RandNormal(dev, rng, 1, n, n), tensor.RandNormal(dev, rng, 1, n, n), dev.Zeros(n, n)
		t, err := b.measure(1000, func() error { dev.MatMul(c, x, y, false, false, false); return nil })
		if err != nil {
			return err
		}
		b.add(fmt.Sprintf("sgemm %d³", n), t, 2*float64(n*n*n)/1e9, "GFLOP/s", nil)
	}
	return nil
}

func benchFFTConv(b *bencher, quick bool) error {
	dev, rng := b.dev, tensor.NewRNG(2)
	convB, convH, convLs := 8, 256, []int{1024, 8192}
	if quick {
		convB, convH, convLs = 2, 16, []int{64}
	}
	for _, l := range convLs {
		u := autograd.NewParam("u", tensor.RandNormal(dev, rng, 1, convB, l, convH))
		k := autograd.NewParam("k", tensor.RandNormal(dev, rng, 0.1, convH, l))
		d := autograd.NewParam("d", tensor.RandNormal(dev, rng, 1, convH))
		t, err := b.measure(1000, func() error {
			g := autograd.NewGraph()
			y := autograd.CausalConv(g, u, k, d)
			return g.BackwardWith(y, y.Value)
		})
		if err != nil {
			return err
		}
		b.add(fmt.Sprintf("fftconv fwd+bwd B=%d H=%d L=%d", convB, convH, l), t, float64(convB*convH*l)/1e6, "Melem/s", nil)
	}
	return nil
}

// benchH3Conv times the H3 convolution (h3Conv) at the shape of the CPU FFT-conv row.
func benchH3Conv(b *bencher, quick bool) error {
	shape := [3]int{8, 256, 1024}
	if quick {
		shape = [3]int{2, 16, 64}
	}
	return benchH3ConvShapes(b, [][3]int{shape})
}

// gpuH3ConvShapes are the H3-convolution benchmark shapes of issue 12 for a GPU: the
// paper's Figure 2 (B=8, H=1024) and FlashFFTConv's table (B=64, H=768).
var gpuH3ConvShapes = [][3]int{
	{8, 1024, 256}, {8, 1024, 1024}, {8, 1024, 2048}, {8, 1024, 4096}, {8, 1024, 8192},
	{64, 768, 1024}, {64, 768, 4096}, {64, 768, 8192},
}

func benchH3ConvShapes(b *bencher, shapes [][3]int) error {
	rng := tensor.NewRNG(3)
	for _, s := range shapes {
		bb, h, l := s[0], s[1], s[2]
		in := newH3ConvInputs(b.dev, rng, bb, h, l)
		for _, backward := range []bool{false, true} {
			t, err := b.measure(1000, func() error { return in.run(backward) })
			if err != nil {
				return fmt.Errorf("%s: %w", h3ConvName(backward, bb, h, l), err)
			}
			b.add(h3ConvName(backward, bb, h, l), t, float64(bb*h*l)/1e6, "Melem/s", nil)
		}
	}
	return nil
}
