package gpu

import (
	"github.com/hungry-ssm/hungry/ptx/kernels"
	"github.com/hungry-ssm/hungry/tensor"
)

// The elementwise kernels take a scalar path for views that start off a 16-byte boundary,
// so any view can be passed.

// binaryLaunch is the launcher of one broadcasting binary kernel.
type binaryLaunch = func(l kernels.Launcher, out, a, b kernels.Ptr, n, nb uint32) error

// binaryBwdB is the launcher of one binary kernel's gradient with respect to b.
type binaryBwdB = func(l kernels.Launcher, out, dout, a, b kernels.Ptr, reps, nb, chunk uint32, accumulate bool) error

// binaryKernels are the forward, the gradient in a and the gradient in b of each op.
var binaryKernels = map[tensor.BinaryOp]struct {
	fwd, bwdA binaryLaunch
	bwdB      binaryBwdB
}{
	tensor.OpAdd: {kernels.BinaryAddF32, kernels.BinaryBwdAAddF32, kernels.BinaryBwdBAddF32},
	tensor.OpSub: {kernels.BinarySubF32, kernels.BinaryBwdASubF32, kernels.BinaryBwdBSubF32},
	tensor.OpMul: {kernels.BinaryMulF32, kernels.BinaryBwdAMulF32, kernels.BinaryBwdBMulF32},
	tensor.OpDiv: {kernels.BinaryDivF32, kernels.BinaryBwdADivF32, kernels.BinaryBwdBDivF32},
}

func binaryOf(op tensor.BinaryOp) (fwd, bwdA binaryLaunch, bwdB binaryBwdB) {
	k, ok := binaryKernels[op]
	if !ok {
		panic("gpu: unknown " + op.String())
	}
	return k.fwd, k.bwdA, k.bwdB
}

// Binary implements tensor.ElementwiseKernels with the broadcasting binary kernels.
func (d *Device) Binary(op tensor.BinaryOp, out, a, b *tensor.Tensor) {
	n, nb := a.Numel(), b.Numel()
	if n == 0 {
		return
	}
	fwd, _, _ := binaryOf(op)
	d.run(fwd(d, d.p(out), d.p(a), d.p(b), u32(n), u32(nb)))
}

// BinaryBackward implements tensor.ElementwiseKernels. db sums over b's repeats in a
// fixed order (in chunks for many repeats).
func (d *Device) BinaryBackward(op tensor.BinaryOp, da, db, dout, a, b *tensor.Tensor) {
	n, nb := a.Numel(), b.Numel()
	if n == 0 {
		return
	}
	_, bwdA, bwdB := binaryOf(op)
	if da != nil {
		d.run(bwdA(d, d.p(da), d.p(dout), d.p(b), u32(n), u32(nb)))
	}
	if db == nil {
		return
	}
	reps := n / nb
	chunk, chunks := chunking(reps, nb)
	if chunks == 1 {
		d.run(bwdB(d, d.p(db), d.p(dout), d.p(a), d.p(b), u32(reps), u32(nb), u32(chunk), true))
		return
	}
	scratch := d.empty(chunks * nb)
	d.run(bwdB(d, d.p(scratch), d.p(dout), d.p(a), d.p(b), u32(reps), u32(nb), u32(chunk), false))
	d.columnSum(db, scratch, 1, chunks, nb, 1, true)
}

// unaryKernels are the forward and backward launchers of each op.
var unaryKernels = map[tensor.UnaryOp]struct {
	fwd func(l kernels.Launcher, out, x kernels.Ptr, n uint32) error
	bwd func(l kernels.Launcher, dx, dout, x, y kernels.Ptr, n uint32) error
}{
	tensor.OpGELU:    {kernels.UnaryGeluF32, kernels.UnaryBwdGeluF32},
	tensor.OpReLU:    {kernels.UnaryReluF32, kernels.UnaryBwdReluF32},
	tensor.OpSiLU:    {kernels.UnarySiluF32, kernels.UnaryBwdSiluF32},
	tensor.OpSigmoid: {kernels.UnarySigmoidF32, kernels.UnaryBwdSigmoidF32},
	tensor.OpTanh:    {kernels.UnaryTanhF32, kernels.UnaryBwdTanhF32},
	tensor.OpExp:     {kernels.UnaryExpF32, kernels.UnaryBwdExpF32},
}

func unaryOf(op tensor.UnaryOp) (fwd func(kernels.Launcher, kernels.Ptr, kernels.Ptr, uint32) error,
	bwd func(kernels.Launcher, kernels.Ptr, kernels.Ptr, kernels.Ptr, kernels.Ptr, uint32) error) {
	k, ok := unaryKernels[op]
	if !ok {
		panic("gpu: unknown " + op.String())
	}
	return k.fwd, k.bwd
}

// Unary implements tensor.ElementwiseKernels.
func (d *Device) Unary(op tensor.UnaryOp, out, x *tensor.Tensor) {
	n := x.Numel()
	if n == 0 {
		return
	}
	fwd, _ := unaryOf(op)
	d.run(fwd(d, d.p(out), d.p(x), u32(n)))
}

// UnaryBackward implements tensor.ElementwiseKernels.
func (d *Device) UnaryBackward(op tensor.UnaryOp, dx, dout, x, y *tensor.Tensor) {
	n := x.Numel()
	if n == 0 {
		return
	}
	_, bwd := unaryOf(op)
	d.run(bwd(d, d.p(dx), d.p(dout), d.p(x), d.p(y), u32(n)))
}

// Scale implements tensor.ElementwiseKernels.
func (d *Device) Scale(out, x *tensor.Tensor, alpha float32) {
	if n := x.Numel(); n > 0 {
		d.run(kernels.ScaleF32(d, d.p(out), d.p(x), alpha, u32(n)))
	}
}

// Axpy implements tensor.ElementwiseKernels.
func (d *Device) Axpy(alpha float32, x, y *tensor.Tensor) {
	if x.Numel() != y.Numel() {
		panic(&tensor.ShapeError{Op: "Axpy", Shapes: [][]int{x.Shape(), y.Shape()}, Msg: "element counts differ"})
	}
	if n := x.Numel(); n > 0 {
		d.run(kernels.AxpyF32(d, d.p(y), d.p(x), alpha, u32(n)))
	}
}

// add computes out = a + b over a's elements (b has as many).
func (d *Device) add(out, a, b *tensor.Tensor) {
	if n := a.Numel(); n > 0 {
		d.run(kernels.AddF32(d, d.p(out), d.p(a), d.p(b), u32(n)))
	}
}

// maxPermuteRank is the rank the permute kernel takes.
const maxPermuteRank = 6

// Permute implements tensor.ElementwiseKernels.
func (d *Device) Permute(out, x *tensor.Tensor, perm []int, accumulate bool) {
	shape := x.Shape()
	outShape := tensor.PermuteShape(shape, perm)
	n := x.Numel()
	if n == 0 {
		return
	}
	rank := len(shape)
	if rank > maxPermuteRank {
		d.onHost("Permute(rank>6)", []*tensor.Tensor{out, x}, []int{0}, func(c *tensor.CPU, h []*tensor.Tensor) {
			c.Permute(h[0], h[1], perm, accumulate)
		})
		return
	}
	if r, c, ok := swapsLastTwo(shape, perm); ok {
		d.transpose(out, x, n/(r*c), r, c, accumulate)
		return
	}
	stride := make([]int, rank)
	s := 1
	for i := rank - 1; i >= 0; i-- {
		stride[i] = s
		s *= shape[i]
	}
	// A rank-r permutation fills the leading axes with length 1, stride 0.
	var dims, strides [maxPermuteRank]uint32
	for a := 0; a < maxPermuteRank; a++ {
		dims[a] = 1
	}
	for a := 0; a < rank; a++ {
		dims[maxPermuteRank-rank+a] = u32(outShape[a])
		strides[maxPermuteRank-rank+a] = u32(stride[perm[a]])
	}
	d.run(kernels.PermuteF32(d, d.p(out), d.p(x), u32(n), dims[0], dims[1], dims[2], dims[3], dims[4], dims[5],
		strides[0], strides[1], strides[2], strides[3], strides[4], strides[5], accumulate))
}

// swapsLastTwo reports whether perm keeps every axis but the last two, which it swaps,
// and returns their lengths.
func swapsLastTwo(shape, perm []int) (r, c int, ok bool) {
	rank := len(perm)
	if rank < 2 || perm[rank-2] != rank-1 || perm[rank-1] != rank-2 {
		return 0, 0, false
	}
	for i := 0; i < rank-2; i++ {
		if perm[i] != i {
			return 0, 0, false
		}
	}
	return shape[rank-2], shape[rank-1], true
}

// transpose writes (or adds) the batch of (r, c) matrices of x transposed into out, with
// the tiled kernel that reads and writes whole rows of tiles, the batch in grid.z.
func (d *Device) transpose(out, x *tensor.Tensor, batch, r, c int, accumulate bool) {
	po, px := d.p(out), d.p(x)
	for b0 := 0; b0 < batch; b0 += kernels.MaxGridYZ {
		nb := min(kernels.MaxGridYZ, batch-b0)
		off := 4 * b0 * r * c
		d.run(kernels.TransposeF32(d, po.Offset(off), px.Offset(off), u32(nb), u32(r), u32(c), accumulate))
	}
}
