package tensor

// SSMKernels turn state-space parameters into convolution kernels and step the recurrence.
type SSMKernels interface{}
