package main

import (
	"bytes"
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
	if msg := stderr.String(); strings.Count(msg, "\n") != 1 || !strings.Contains(msg, "running on the CPU") {
		t.Errorf("auto said %q; want one line about the CPU fallback", msg)
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
