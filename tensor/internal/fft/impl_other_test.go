//go:build !amd64 || noasm

package fft

func implementations() []impl { return []impl{genericImpl} }
