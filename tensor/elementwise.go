package tensor

// ElementwiseKernels are pointwise maps and their gradients.
type ElementwiseKernels interface{}
