package tensor

// ConvKernels are the causal convolutions along the sequence axis.
type ConvKernels interface{}
