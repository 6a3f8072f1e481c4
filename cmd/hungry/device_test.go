package main

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"github.com/hungry-ssm/hungry/ptx/gpu"
	"github.com/hungry-ssm/hungry/tensor"
)

func TestPickDeviceWithoutGPU(t *testing.T) {
	if dev, err := gpu.Open(0); err == nil {
		dev.Close()
		t.Skip("a GPU is present; this test covers machines without one")
	}
	var stderr bytes.Buffer
	dev, err := pickDevice("auto", &stderr)
	if err != nil || dev != tensor.Device(tensor.DefaultCPU()) {
		t.Fatalf("auto: %v, %v; want the CPU", dev, err)
	}
	// No GPU was asked for: the CPU is no news, unless -v asks for it.
	if msg := stderr.String(); msg != "" {
		t.Errorf("auto without -v said %q", msg)
	}
	if _, err := pickDeviceOpts("auto", 0, true, &stderr); err != nil {
		t.Fatal(err)
	}
	if msg := stderr.String(); strings.Count(msg, "\n") != 1 || !strings.Contains(msg, "running on the CPU") {
		t.Errorf("auto -v said %q; want one line about the CPU fallback", msg)
	}
	stderr.Reset()
	if _, err := pickDevice("cuda", &stderr); err == nil || strings.Contains(err.Error(), "\n") {
		t.Errorf("cuda without a GPU: %v; want a one-line error", err)
	}
	if dev, err := pickDevice("cpu", &stderr); err != nil || dev != tensor.Device(tensor.DefaultCPU()) || stderr.Len() != 0 {
		t.Errorf("cpu: %v, %v, %q", dev, err, stderr.String())
	}
	if _, err := pickDevice("tpu", &stderr); err == nil {
		t.Error("an unknown device was accepted")
	}
}

// TestThreadsSetsTheCPUWorkers checks that --threads reaches the device the model is
// built on, whether the CPU was asked for or fallen back to.
func TestThreadsSetsTheCPUWorkers(t *testing.T) {
	for _, name := range []string{"cpu", "auto"} {
		dev, err := pickDeviceOpts(name, 3, false, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		cpu, ok := dev.(*tensor.CPU)
		if !ok {
			t.Skipf("%s picked %s", name, dev.Name())
		}
		if cpu.Workers() != 3 {
			t.Errorf("--device %s --threads 3: %d workers", name, cpu.Workers())
		}
	}
	if _, err := pickDeviceOpts("cpu", -1, false, io.Discard); err == nil {
		t.Error("--threads -1 was accepted")
	}
}
