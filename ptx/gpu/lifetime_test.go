package gpu

import (
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/hungry-ssm/hungry/ptx/driver"
	"github.com/hungry-ssm/hungry/ptx/kernels"
	"github.com/hungry-ssm/hungry/tensor"
)

// collectAndWait runs the garbage collector and waits for the cleanups it queued, which
// run on their own goroutine: a sentinel's cleanup, queued in the same cycle, says when.
func collectAndWait() {
	done := make(chan struct{})
	sentinel := new([64]byte)
	runtime.AddCleanup(sentinel, func(c chan struct{}) { close(c) }, done)
	runtime.KeepAlive(sentinel)
	runtime.GC()
	select {
	case <-done:
	case <-time.After(time.Second):
	}
	runtime.Gosched()
}

// gcStressDevice is the interpreter behind the GPU device's caching allocator, collecting
// garbage (and running the cleanups that free unreachable buffers) before every
// allocation: a buffer whose last reference is a kernel argument still being assembled is
// freed and its block handed to the next allocation at once, as on a GPU short of memory.
func gcStressDevice() *Device {
	b := newInterp()
	d := newDevice(b, driver.NewAllocator(b))
	d.gcEvery = 1 // bytes: every allocation of a word or more
	d.collect = collectAndWait
	return d
}

// TestKernelArgumentsSurviveCollections runs every Device op with a collection before
// every allocation and compares with the CPU. An argument whose buffer were freed before
// its launch would alias the allocations made after it (ScatterAdd's three index uploads
// would all land in one block) and give wrong results.
func TestKernelArgumentsSurviveCollections(t *testing.T) {
	if testing.Short() {
		t.Skip("a collection per allocation")
	}
	dev := gcStressDevice()
	t.Run("MatMul", func(t *testing.T) { testMatMul(t, dev, 37, 70, 33) })
	t.Run("SquaredNorm", func(t *testing.T) { testSquaredNorm(t, dev, 1, 31, 4097) })
	for _, g := range []struct {
		name  string
		cases []kernelCase
	}{{"elementwise", elementwiseCases()}, {"reduce", reduceCases()}, {"nn", nnCases()}, {"conv", convCases()},
		{"ssm", ssmCases()}, {"optim", optimCases()}, {"CopyBlocks", copyBlocksCases()}} {
		t.Run(g.name, func(t *testing.T) { runCases(t, dev, g.cases) })
	}
	t.Run("H3Step", func(t *testing.T) {
		for _, headDim := range []int{1, 3} {
			r := randomRecurrence(tensor.NewRNG(7), 6, headDim, 64, 32)
			want := runH3Steps(tensor.DefaultCPU(), r, 2, 5, 4, 9)
			closeTo(t, "o", runH3Steps(dev, r, 2, 5, 4, 9), want, nil, rtolH3Step)
		}
	})
	if s := dev.mem.(*driver.Allocator).Stats(); s.Hits == 0 {
		t.Errorf("allocator stats %+v: no block was reused, so nothing was tested", s)
	}
}

// smallShared is the interpreter describing a device that lets a block opt into only
// 64 KiB of shared memory.
type smallShared struct{ *interp }

func (s smallShared) Info() driver.Info {
	i := s.interp.Info()
	i.MaxSharedPerBlockOptin = 64 << 10
	return i
}

// TestLaunchChecksSharedMemoryOptIn: the fused convolution of L = 5000 (N = 8192) needs
// 128 KiB + 8 bytes of dynamic shared memory (the sequence's and the filter's spectra),
// which the device is asked for only if it can give it; otherwise the launch fails with a
// message naming the kernel and both sizes, before reaching it.
func TestLaunchChecksSharedMemoryOptIn(t *testing.T) {
	b := newInterp()
	dev := newDevice(smallShared{b}, exact{b})
	const l, lk = 5000, 300 // FFT path, N = 8192
	in := newInputs(dev, 1)
	u, k, y := in.t(1, l, 1), in.t(1, lk), dev.Zeros(1, l, 1)
	defer func() {
		e, ok := recover().(*Error)
		if !ok || !strings.Contains(e.Error(), "131080 bytes of dynamic shared memory") || !strings.Contains(e.Error(), "65536") {
			t.Fatalf("panic %v, want a *gpu.Error about 131080 bytes of shared memory and the 65536 allowed", e)
		}
		if dev.Launches()[kernels.H3ConvFwdF32Kernel.Name] != 0 {
			t.Error("the oversized FFT reached the backend")
		}
	}()
	dev.CausalConv(y, u, k, nil)
}

// TestMultiHeadOuterProductsAreOneLaunch: multi-head H3's per-head outer products k·vᵀ
// (rows of (dh, 1)·(1, dh)) run as one strided-batched SGEMM launch, and match the CPU.
func TestMultiHeadOuterProductsAreOneLaunch(t *testing.T) {
	const rows, dh = 37, 5
	run := func(dev tensor.Device, in *inputs) *tensor.Tensor {
		k, v := in.t(rows, dh, 1), in.t(rows, 1, dh)
		z := dev.Zeros(rows, dh, dh)
		dev.MatMul(z, k, v, false, false, false)
		return z
	}
	cpu := tensor.DefaultCPU()
	want := run(cpu, newInputs(cpu, 1))
	dev := NewInterpreted()
	got := run(dev, newInputs(dev, 1))
	closeTo(t, "k·vᵀ", got.Host(), want.Host(), nil, rtolTF32)
	if n := dev.Launches()[kernels.SgemmNnKernel.Name]; n != 1 {
		t.Errorf("%d SGEMM launches for %d outer products, want 1", n, rows)
	}
}
