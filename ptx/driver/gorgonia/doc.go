// Package gorgonia implements driver.Backend over gorgonia.org/cu, the cgo binding of the
// CUDA driver API, as an alternative to the purego binding of package driver.
//
// It is built only with -tags gorgonia, and needs cuda.h and libcuda.so at build time
// (scripts/cuda-stub.sh compile-checks it against the CUDA 11.8 headers and link stub).
// It is never the default: gorgonia.org/cu calls cuInit in its package initializer and
// exits the process when that fails, so a binary built with it cannot start on a machine
// without a GPU, whereas package driver reports ErrNoDriver and lets the caller fall back.
package gorgonia
