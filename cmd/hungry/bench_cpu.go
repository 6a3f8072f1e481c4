package main

import (
	"runtime"
	"strings"

	"github.com/klauspost/cpuid/v2"

	"github.com/hungry-ssm/hungry/tensor"
)

// cpuInfo is the machine a bench ran on, printed with every run so that no figure is
// quoted without its CPU.
type cpuInfo struct {
	Model    string `json:"cpu"`
	Family   int    `json:"cpu_family"`
	Cores    int    `json:"logical_cores"`
	Procs    int    `json:"gomaxprocs"`
	Features string `json:"features"`
	Kernels  string `json:"kernel_family"`
}

// benchFeatures are the extensions that decide which kernels can run.
var benchFeatures = []cpuid.FeatureID{cpuid.SSE4, cpuid.AVX, cpuid.AVX2, cpuid.FMA3, cpuid.F16C,
	cpuid.AVX512F, cpuid.AVX512BW, cpuid.AVX512DQ, cpuid.AVX512VL, cpuid.AVX512VNNI, cpuid.AVX512BF16,
	cpuid.ASIMD}

func thisCPU() cpuInfo {
	var fs []string
	for _, f := range benchFeatures {
		if cpuid.CPU.Supports(f) {
			fs = append(fs, strings.ToLower(f.String()))
		}
	}
	return cpuInfo{Model: cpuid.CPU.BrandName, Family: cpuid.CPU.Family, Cores: runtime.NumCPU(),
		Procs: runtime.GOMAXPROCS(0), Features: strings.Join(fs, " "), Kernels: kernelFamily()}
}

// kernelFamily names the CPU kernel family in use, with the reason when HUNGRY_CPU asked
// for one that cannot run, so that a figure is never read as another family's.
func kernelFamily() string {
	if note := tensor.KernelFamilyNote(); note != "" {
		return tensor.KernelFamily() + " (" + note + ")"
	}
	return tensor.KernelFamily()
}
