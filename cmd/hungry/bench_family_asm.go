//go:build amd64 && !noasm

package main

// asmBuild says the tensor package was built with its assembly kernels.
const asmBuild = true
