package tensor

// OptimKernels update parameters from their gradients.
type OptimKernels interface{}
