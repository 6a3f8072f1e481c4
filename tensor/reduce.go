package tensor

// ReduceKernels sum over axes.
type ReduceKernels interface{}
