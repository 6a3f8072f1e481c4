package model

import (
	"archive/zip"
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hungry-ssm/hungry/tensor"
	"github.com/hungry-ssm/hungry/torchfile"
)

// writeTorchCheckpoint saves m's parameters under their official names as torch.save
// writes a state dict (zip format, one float32 storage per tensor), so large checkpoints
// can be made at test time instead of being committed.
func writeTorchCheckpoint(path string, m *LM) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	bw := bufio.NewWriterSize(f, 1<<20)
	zw := zip.NewWriter(bw)
	var pkl bytes.Buffer
	op := func(b ...byte) { pkl.Write(b) }
	str := func(s string) {
		op('X')
		binary.Write(&pkl, binary.LittleEndian, uint32(len(s)))
		pkl.WriteString(s)
	}
	integer := func(n int) {
		op('J')
		binary.Write(&pkl, binary.LittleEndian, int32(n))
	}
	global := func(mod, name string) { op('c'); pkl.WriteString(mod + "\n" + name + "\n") }
	op(0x80, 2)
	global("collections", "OrderedDict")
	op(')', 'R', '(')
	params := m.Params()
	for i, p := range params {
		shape := p.Shape()
		str(p.Name)
		global("torch._utils", "_rebuild_tensor_v2")
		op('(', '(')
		str("storage")
		global("torch", "FloatStorage")
		str(strconv.Itoa(i))
		str("cpu")
		integer(p.Value.Numel())
		op('t', 'Q')
		integer(0)
		op('(')
		for _, d := range shape {
			integer(d)
		}
		op('t', '(')
		stride := 1
		strides := make([]int, len(shape))
		for j := len(shape) - 1; j >= 0; j-- {
			strides[j] = stride
			stride *= shape[j]
		}
		for _, s := range strides {
			integer(s)
		}
		op('t', 0x89)
		global("collections", "OrderedDict")
		op(')', 'R', 't', 'R')
	}
	op('u', '.')
	entry := func(name string, data []byte) error {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: "archive/" + name, Method: zip.Store})
		if err != nil {
			return err
		}
		_, err = w.Write(data)
		return err
	}
	if err := entry("data.pkl", pkl.Bytes()); err != nil {
		return err
	}
	if err := entry("byteorder", []byte("little")); err != nil {
		return err
	}
	buf := make([]byte, 1<<20)
	for i, p := range params {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: fmt.Sprintf("archive/data/%d", i), Method: zip.Store})
		if err != nil {
			return err
		}
		data := p.Value.Host()
		for len(data) > 0 {
			n := min(len(data), len(buf)/4)
			for j, x := range data[:n] {
				binary.LittleEndian.PutUint32(buf[4*j:], math.Float32bits(x))
			}
			if _, err := w.Write(buf[:4*n]); err != nil {
				return err
			}
			data = data[n:]
		}
	}
	if err := entry("version", []byte("3\n")); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return bw.Flush()
}

// importPT runs what hungry import does, minus the tokenizer.
func importPT(tb testing.TB, pt, dir string, base *Config) *Imported {
	tb.Helper()
	f, err := torchfile.Open(pt)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	sd, err := torchfile.StateDict(f.Root)
	if err != nil {
		tb.Fatal(err)
	}
	imp, err := ImportStateDict(sd, base)
	if err != nil {
		tb.Fatal(err)
	}
	if err := SaveImported(dir, imp); err != nil {
		tb.Fatal(err)
	}
	return imp
}

// A model saved as a torch checkpoint and imported back computes bit for bit the same
// logits: nothing is lost or reordered on the way, for any layer kind.
func TestTorchCheckpointRoundTrip(t *testing.T) {
	cfg := importConfig(4)
	cfg.HeadDim, cfg.AttnLayerIdx, cfg.TieWordEmbeddings = 8, []int{0, 2}, false
	m, err := New(cfg, tensor.DefaultCPU(), 9)
	if err != nil {
		t.Fatal(err)
	}
	pt := filepath.Join(t.TempDir(), "model.pt")
	if err := writeTorchCheckpoint(pt, m); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	importPT(t, pt, dir, &cfg)
	back, err := Load(dir, tensor.DefaultCPU())
	if err != nil {
		t.Fatal(err)
	}
	ids := []int32{5, 200, 17, 3, 99, 263, 0, 42, 42, 7, 1}
	want, _ := m.Logits(ids, 1, len(ids))
	got, err := back.Logits(ids, 1, len(ids))
	if err != nil {
		t.Fatal(err)
	}
	for i, w := range want.Host() {
		if math.Float32bits(got.Host()[i]) != math.Float32bits(w) {
			t.Fatalf("logit %d: %g after the round trip, %g before", i, got.Host()[i], w)
		}
	}
}

// peakRSS returns the process's peak resident set (VmHWM) in bytes and resets it, so that
// each phase of the benchmark is measured on its own (Linux only; 0 elsewhere).
func peakRSS() int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	var kb int64
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ = strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
		}
	}
	os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
	return kb << 10
}

func settle() {
	runtime.GC()
	debug.FreeOSMemory()
	peakRSS()
}

// BenchmarkImport125M makes a checkpoint with the shapes of the released H3-125M (random
// weights, float32, 500 MB in a temporary folder), imports it, loads it and generates 32
// greedy tokens after a 16-token prompt with the recurrent mode. It reports each phase's
// time and peak resident memory; run it once (-benchtime 1x): it takes about a minute.
func BenchmarkImport125M(b *testing.B) {
	p, _ := FindOfficialPreset("h3-125m")
	cfg := p.Config()
	cfg.Tokenizer = "byte" // the benchmark does not need GPT-2's files
	dev := tensor.DefaultCPU()
	for range b.N {
		pt := filepath.Join(b.TempDir(), "model.pt")
		m, err := New(cfg, dev, 1)
		if err != nil {
			b.Fatal(err)
		}
		if err := writeTorchCheckpoint(pt, m); err != nil {
			b.Fatal(err)
		}
		m = nil
		settle()

		dir := filepath.Join(b.TempDir(), "model")
		start := time.Now()
		importPT(b, pt, dir, &cfg)
		importTime, importRSS := time.Since(start), peakRSS()
		settle()

		start = time.Now()
		lm, err := Load(dir, dev)
		if err != nil {
			b.Fatal(err)
		}
		loadTime, loadRSS := time.Since(start), peakRSS()
		settle()

		st, err := lm.NewState(1)
		if err != nil {
			b.Fatal(err)
		}
		prompt := []int32{464, 3290, 7586, 2068, 318, 257, 649, 3303, 2746, 326, 1, 2, 3, 4, 5, 6}
		start = time.Now()
		logits, err := st.Prefill(prompt, len(prompt))
		if err != nil {
			b.Fatal(err)
		}
		prefill := time.Since(start)
		last := logits.Host()[(len(prompt)-1)*cfg.VocabSize:]
		const n = 32
		start = time.Now()
		for range n {
			l, err := st.Step([]int32{int32(argmax(last))})
			if err != nil {
				b.Fatal(err)
			}
			last = l.Host()
		}
		gen := time.Since(start)
		genRSS := peakRSS()
		b.ReportMetric(importTime.Seconds(), "import-s")
		b.ReportMetric(float64(importRSS)/1e6, "import-peak-MB")
		b.ReportMetric(loadTime.Seconds(), "load-s")
		b.ReportMetric(float64(loadRSS)/1e6, "load-peak-MB")
		b.ReportMetric(prefill.Seconds(), "prefill16-s")
		b.ReportMetric(n/gen.Seconds(), "tokens/s")
		b.ReportMetric(float64(genRSS)/1e6, "generate-peak-MB")
		runtime.KeepAlive(lm)
	}
}
