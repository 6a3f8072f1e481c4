package layers

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/hungry-ssm/hungry/autograd"
	"github.com/hungry-ssm/hungry/safetensors"
	"github.com/hungry-ssm/hungry/tensor"
)

// Parity tolerances against the PyTorch golden files (testdata/gen/h3_golden.py computes
// them in float64 from float32-rounded inputs). Errors are max|ours − theirs| divided by
// the max-abs of the golden tensor, since outputs and gradients cross zero. Our float32
// forward pass carries a few 1e-7 relative rounding per op (FFT convolutions of length
// 2L included), hence 1e-4; gradients chain twice as many float32 ops, hence 1e-3.
const (
	goldenOutTol  = 1e-4
	goldenGradTol = 1e-3
)

func readGolden(t *testing.T, path string) map[string]safetensors.Tensor {
	t.Helper()
	f, err := safetensors.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ts, err := f.Tensors()
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

func goldenF32(t *testing.T, ts map[string]safetensors.Tensor, name string) ([]float32, []int) {
	t.Helper()
	x, ok := ts[name]
	if !ok {
		t.Fatalf("golden file lacks %s", name)
	}
	v, err := x.F32()
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return v, x.Shape
}

func relErrF32(got, want []float32) float64 {
	w := make([]float64, len(want))
	for i, v := range want {
		w[i] = float64(v)
	}
	return maxRelErr(got, w)
}

func TestH3LayerGolden(t *testing.T) {
	dirs, _ := filepath.Glob(filepath.Join("..", "testdata", "golden", "h3_layer_*"))
	if len(dirs) == 0 {
		t.Fatal("no H3 layer golden files under testdata/golden")
	}
	dev := tensor.DefaultCPU()
	for _, dir := range dirs {
		var cfg struct {
			DModel  int    `json:"d_model"`
			DState  int    `json:"d_state"`
			HeadDim int    `json:"head_dim"`
			Disc    string `json:"ssm_discretization"`
		}
		raw, err := os.ReadFile(filepath.Join(dir, "config.json"))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(raw, &cfg); err != nil {
			t.Fatal(err)
		}
		disc, err := tensor.ParseDiscretization(cfg.Disc)
		if err != nil {
			t.Fatal(err)
		}
		m, err := NewH3(dev, tensor.NewRNG(0), "", H3Config{Dim: cfg.DModel, DState: cfg.DState, HeadDim: cfg.HeadDim, Disc: disc}, 0.02)
		if err != nil {
			t.Fatal(err)
		}
		params := readGolden(t, filepath.Join(dir, "model.safetensors"))
		if len(params) != len(m.Params()) {
			t.Errorf("%s: golden file has %d parameters, the layer %d", dir, len(params), len(m.Params()))
		}
		for _, p := range m.Params() {
			v, shape := goldenF32(t, params, p.Name)
			if !tensor.SameShape(shape, p.Shape()) {
				t.Fatalf("%s: %s has shape %v, want %v", dir, p.Name, shape, p.Shape())
			}
			copy(p.Value.Data(), v)
		}
		io := readGolden(t, filepath.Join(dir, "io.safetensors"))
		uData, uShape := goldenF32(t, io, "u")
		w, _ := goldenF32(t, io, "W")
		u := autograd.NewParam("u", dev.FromHost(uData, uShape...))
		g := autograd.NewGraph()
		out := m.Forward(g, u)
		want, _ := goldenF32(t, io, "out")
		name := filepath.Base(dir)
		e := relErrF32(out.Value.Data(), want)
		t.Logf("%s: output relative error %.2e", name, e)
		if e > goldenOutTol {
			t.Errorf("%s: output relative error %.3g > %g", name, e, goldenOutTol)
		}
		l := uShape[1]
		want, _ = goldenF32(t, io, "aux.diag_kernel")
		if e := relErrF32(m.Diag.Kernel(autograd.NoGrad(), l).Value.Data(), want); e > goldenOutTol {
			t.Errorf("%s: diagonal SSM kernel relative error %.3g", name, e)
		}
		// The golden shift kernel is zero-padded to L; ours stops at its last tap.
		taps := min(l, cfg.DState)
		ks := autograd.ShiftSSMKernel(autograd.NoGrad(), m.Shift.B, m.Shift.C, taps).Value.Data()
		want, _ = goldenF32(t, io, "aux.shift_kernel")
		padded := make([]float32, cfg.DModel*l)
		for c := 0; c < cfg.DModel; c++ {
			copy(padded[c*l:], ks[c*taps:(c+1)*taps])
		}
		if e := relErrF32(padded, want); e > goldenOutTol {
			t.Errorf("%s: shift SSM kernel relative error %.3g", name, e)
		}
		if err := g.BackwardWith(out, dev.FromHost(w, out.Shape()...)); err != nil {
			t.Fatal(err)
		}
		worst, worstName := 0.0, ""
		for _, p := range append(m.Params(), u) {
			want, _ := goldenF32(t, io, "grad."+p.Name)
			e := relErrF32(p.Grad.Host(), want)
			if e > worst {
				worst, worstName = e, p.Name
			}
			if e > goldenGradTol {
				t.Errorf("%s: gradient of %s: relative error %.3g > %g", name, p.Name, e, goldenGradTol)
			}
		}
		t.Logf("%s: worst gradient relative error %.2e (%s)", name, worst, worstName)
		if math.IsNaN(worst) {
			t.Errorf("%s: NaN gradient", name)
		}
	}
}
