package tensor

// NNKernels are the neural-network kernels: softmax, normalisation, embeddings, losses.
type NNKernels interface{}
