//go:build !amd64 || noasm

package simd

// implementations lists every kernel family this build can run: the generic twins only.
func implementations() []impl { return []impl{genericImpl} }
