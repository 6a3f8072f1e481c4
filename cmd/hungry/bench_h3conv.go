package main

import (
	"fmt"
	"io"
	"sort"

	"github.com/hungry-ssm/hungry/autograd"
	"github.com/hungry-ssm/hungry/ptx/gpu"
	"github.com/hungry-ssm/hungry/tensor"
)

// h3Conv is the H3 mixer's long convolution with its gating, head_dim 1, as
// layers.H3.LongConv runs it: y = q ⊙ (causal_conv(k̃ ⊙ v, kernel) + D ⊙ (k̃ ⊙ v)), with
// the diagonal SSM's kernel (H, L) in the time domain. Every H3-convolution row of
// `hungry bench` (timed and counted) goes through this one function, so everything from
// the kernel to y is inside, the kernel's spectrum included.
func h3Conv(g *autograd.Graph, q, kt, v, kernel, d *autograd.Var) *autograd.Var {
	l := kt.Shape()[1]
	return autograd.H3Conv(g, kt, v, q, d, autograd.H3Spectrum(g, kernel, l), 1)
}

// catchDevice runs fn, turning the panics of a device (a shape mistake, a failed launch)
// into errors.
func catchDevice(fn func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			switch e := r.(type) {
			case *tensor.ShapeError:
				err = e
			case *gpu.Error:
				err = e
			default:
				panic(r)
			}
		}
	}()
	return fn()
}

// h3ConvInputs are h3Conv's operands for a (B, L, H) problem, drawn from rng.
type h3ConvInputs struct {
	q, kt, v, kernel, d *autograd.Var
	dy                  *tensor.Tensor
}

func newH3ConvInputs(dev tensor.Device, rng *tensor.RNG, b, h, l int) h3ConvInputs {
	return h3ConvInputs{
		q:      autograd.NewParam("q", tensor.RandNormal(dev, rng, 1, b, l, h)),
		kt:     autograd.NewParam("kt", tensor.RandNormal(dev, rng, 1, b, l, h)),
		v:      autograd.NewParam("v", tensor.RandNormal(dev, rng, 1, b, l, h)),
		kernel: autograd.NewParam("kernel", tensor.RandNormal(dev, rng, 0.1, h, l)),
		d:      autograd.NewParam("d", tensor.RandNormal(dev, rng, 1, h)),
		dy:     tensor.RandNormal(dev, rng, 1, b, l, h),
	}
}

// run runs h3Conv forward and, with backward, its backward pass from dy.
func (in h3ConvInputs) run(backward bool) error {
	g := autograd.NewGraph()
	y := h3Conv(g, in.q, in.kt, in.v, in.kernel, in.d)
	if !backward {
		return nil
	}
	for _, p := range []*autograd.Var{in.q, in.kt, in.v, in.kernel, in.d} {
		p.ZeroGrad()
	}
	return g.BackwardWith(y, in.dy)
}

func h3ConvName(backward bool, b, h, l int) string {
	pass := "fwd"
	if backward {
		pass = "fwd+bwd"
	}
	return fmt.Sprintf("h3conv %s B=%d H=%d L=%d", pass, b, h, l)
}

// h3ConvMinBytes is the global-memory traffic of an H3 convolution that reads each input
// once and writes each output once (fp32). Forward: q, k̃, v (B·L·H each), the kernel
// (H·L) and D (H) in, y out. The backward pass is a second pass over the same inputs and
// dy, writing dq, dk̃, dv, dkernel and dD; fwd+bwd is the sum of both minima.
func h3ConvMinBytes(backward bool, b, h, l int) int64 {
	n, hl, hh := int64(b*l*h), int64(h*l), int64(h)
	fwd := 4 * (3*n + hl + hh + n)
	if !backward {
		return fwd
	}
	bwd := 4 * (4*n + hl + hh + 3*n + hl + hh)
	return fwd + bwd
}

// torchFFTConvBytes counts the global-memory bytes of the H3 reference convolution in
// PyTorch (fftconv_ref of the official H3 code, head_dim 1, fp32, (B, H, L) layout) on a
// GPU, from its chain of aten ops: each op is one pass that reads its inputs and writes
// its outputs once at their logical sizes (views, conj and slicing are free; no op's
// output is found in cache by the next). With N = B·H rows and F = L+1 one-sided bins
// (8 bytes each):
//
//	forward
//	  u = k̃*v                      R 8NL      W 4NL
//	  k_f = rfft(k, n=2L)          pad R 4HL W 8HL; r2c R 8HL W 8HF
//	  k_f /= 2L                    R 8HF      W 8HF
//	  u_f = rfft(u, n=2L)          pad R 4NL W 8NL; r2c R 8NL W 8NF
//	  p = u_f*k_f                  R 8NF+8HF  W 8NF
//	  irfft(p, n=2L)               clone (cuFFT's c2r overwrites its input) R 8NF W 8NF; c2r R 8NF W 8NL
//	  u*D, y[:L] + u*D             R 4NL+4H W 4NL; R 8NL W 4NL
//	  q*y                          R 8NL      W 4NL
//	backward (autograd's formulas)
//	  dq = g*y, dy = g*q           R 16NL     W 8NL
//	  du₁ = dy*D; dD = Σ dy*u      R 4NL+4H W 4NL; R 8NL W 4NL; sum R 4NL W 4H
//	  slice backward               zeros W 8NL; copy R 4NL W 4NL
//	  irfft backward = rfft, ×2    r2c R 8NL W 8NF; mul_ R 8N(L−1) W 8N(L−1)
//	  dp·conj(k_f), dp·conj(u_f)   R 8NF+8HF W 8NF; R 16NF W 8NF; Σ_b R 8NF W 8HF
//	  rfft backward (u), (k)       zeros W 16NL; copy R 8NF W 8NF; c2c R 16NL W 16NL (same with H rows)
//	  k_f/2L backward              R 8HF      W 8HF
//	  du = du₁ + du₂               R 8NL      W 4NL
//	  dk̃ = du*v, dv = du*k̃         R 16NL     W 8NL
//	  dk accumulated (contiguous)  R 4HL      W 4HL
//
// This is a model, not a measurement: cuFFT may split a transform into several kernels
// (more traffic) and L2 may hold a small operand between ops (less).
func torchFFTConvBytes(backward bool, b, h, l int) int64 {
	N, H, L := int64(b*h), int64(h), int64(l)
	F := L + 1
	fwd := (8*N*L + 4*N*L) + // u = k̃*v
		(4*H*L + 8*H*L) + (8*H*L + 8*H*F) + (8*H*F + 8*H*F) + // k_f
		(4*N*L + 8*N*L) + (8*N*L + 8*N*F) + // u_f
		(8*N*F + 8*H*F + 8*N*F) + // p
		(8*N*F + 8*N*F) + (8*N*F + 8*N*L) + // irfft
		(4*N*L + 4*H + 4*N*L) + (8*N*L + 4*N*L) + // + u*D
		(8*N*L + 4*N*L) // q*y
	if !backward {
		return fwd
	}
	rfftBack := func(rows int64) int64 { return 16*rows*L + (8*rows*F + 8*rows*F) + (16*rows*L + 16*rows*L) }
	bwd := (16*N*L + 8*N*L) +
		(4*N*L + 4*H + 4*N*L) + (8*N*L + 4*N*L) + (4*N*L + 4*H) +
		8*N*L + (4*N*L + 4*N*L) +
		(8*N*L + 8*N*F) + (8*N*(L-1) + 8*N*(L-1)) +
		(8*N*F + 8*H*F + 8*N*F) + (16*N*F + 8*N*F) + (8*N*F + 8*H*F) +
		rfftBack(N) + rfftBack(H) +
		(8*H*F + 8*H*F) +
		(8*N*L + 4*N*L) +
		(16*N*L + 8*N*L) +
		(4*H*L + 4*H*L)
	return fwd + bwd
}

// h100Bandwidth is an H100 SXM's HBM3 bandwidth in bytes per second: the roofline time
// of a memory-bound kernel is its bytes over this.
const h100Bandwidth = 3.35e12

// opTraffic is the traffic of one kernel under one Device op within a bench row.
type opTraffic struct {
	Op           string `json:"op"`
	Kernel       string `json:"kernel"`
	Launches     int    `json:"launches"`
	BytesRead    int64  `json:"bytes_read"`
	BytesWritten int64  `json:"bytes_written"`
	Threads      int    `json:"threads_per_block"`
	SharedBytes  int    `json:"shared_bytes"`
}

// simH3ConvShapes are the interpreter's H3-convolution problems (issue 12, item 4).
var simH3ConvShapes = [][3]int{{2, 8, 1024}, {2, 8, 4096}}

// benchSimH3Conv runs the H3 convolution, forward and forward+backward, on the PTX
// interpreter and reports what each did to global memory: launches, distinct bytes read
// and written (ptxsim.LaunchStats), the minimum, the H100 roofline time of both and
// PyTorch's modelled bytes. Nothing here is timed: the interpreter's speed says nothing
// about a GPU's.
func benchSimH3Conv(dev *gpu.Device, shapes [][3]int, stdout io.Writer, asJSON bool) ([]benchResult, error) {
	var results []benchResult
	rng := tensor.NewRNG(1)
	for _, s := range shapes {
		b, h, l := s[0], s[1], s[2]
		in := newH3ConvInputs(dev, rng, b, h, l)
		for _, backward := range []bool{false, true} {
			dev.ResetCounters()
			if err := catchDevice(func() error { return in.run(backward) }); err != nil {
				return nil, fmt.Errorf("%s: %w", h3ConvName(backward, b, h, l), err)
			}
			r := simResult(h3ConvName(backward, b, h, l), dev.Records(), h3ConvMinBytes(backward, b, h, l),
				torchFFTConvBytes(backward, b, h, l))
			if fb := dev.HostFallbacks(); len(fb) > 0 {
				return nil, fmt.Errorf("%s ran on the host (%v): its traffic would not be the GPU's", r.Name, fb)
			}
			results = append(results, r)
			if !asJSON {
				printSimResult(stdout, r)
			}
		}
	}
	return results, nil
}

// simResult sums a row's launch records.
func simResult(name string, recs []gpu.LaunchRecord, minBytes, torchBytes int64) benchResult {
	r := benchResult{Name: name, Unit: "x min_bytes", MinBytes: minBytes, TorchBytes: torchBytes}
	byKey := map[[2]string]*opTraffic{}
	for _, rec := range recs {
		r.Launches++
		if rec.Kernel != "memset" && rec.Kernel != "copy DtoD" {
			r.KernelLaunches++
		}
		r.BytesRead += rec.BytesRead
		r.BytesWritten += rec.BytesWritten
		r.MaxThreadsPerBlock = max(r.MaxThreadsPerBlock, rec.Threads)
		r.MaxSharedBytes = max(r.MaxSharedBytes, rec.SharedBytes)
		key := [2]string{rec.Op, rec.Kernel}
		t := byKey[key]
		if t == nil {
			t = &opTraffic{Op: rec.Op, Kernel: rec.Kernel, Threads: rec.Threads, SharedBytes: rec.SharedBytes}
			byKey[key] = t
		}
		t.Launches++
		t.BytesRead += rec.BytesRead
		t.BytesWritten += rec.BytesWritten
		t.Threads = max(t.Threads, rec.Threads)
		t.SharedBytes = max(t.SharedBytes, rec.SharedBytes)
	}
	for _, t := range byKey {
		r.Ops = append(r.Ops, *t)
	}
	sort.Slice(r.Ops, func(i, j int) bool {
		a, b := r.Ops[i], r.Ops[j]
		if a.BytesRead+a.BytesWritten != b.BytesRead+b.BytesWritten {
			return a.BytesRead+a.BytesWritten > b.BytesRead+b.BytesWritten
		}
		return a.Op+a.Kernel < b.Op+b.Kernel
	})
	total := r.BytesRead + r.BytesWritten
	r.Value = float64(total) / float64(minBytes)
	r.H100Seconds = float64(total) / h100Bandwidth
	r.TorchH100Seconds = float64(torchBytes) / h100Bandwidth
	return r
}

func printSimResult(w io.Writer, r benchResult) {
	total := r.BytesRead + r.BytesWritten
	fmt.Fprintf(w, "%-34s %3d launches (%2d kernels) %11d B read %11d B written = %5.2f x min %d B; H100 roofline %7.2f µs (torch %d B, %7.2f µs)\n",
		r.Name, r.Launches, r.KernelLaunches, r.BytesRead, r.BytesWritten, float64(total)/float64(r.MinBytes), r.MinBytes,
		r.H100Seconds*1e6, r.TorchBytes, r.TorchH100Seconds*1e6)
	for _, t := range r.Ops {
		fmt.Fprintf(w, "    %-20s %-24s %3d× %11d B read %11d B written  %4d threads %6d B shared\n",
			t.Op, t.Kernel, t.Launches, t.BytesRead, t.BytesWritten, t.Threads, t.SharedBytes)
	}
}
