package autograd

import "github.com/hungry-ssm/hungry/tensor"

// CausalConv returns y (B, L, H) with y[b,t,h] = Σ_{s≤t} k[h,s]·u[b,t−s,h] + d[h]·u[b,t,h]
// for u (B, L, H), a kernel k (H, Lk) with Lk ≤ L and a skip weight d (H), which may be
// nil. It runs on FFTs of length 2·next_pow2(L), so its cost does not depend on Lk: use it
// for the long kernels of the diagonal SSM.
func CausalConv(g *Graph, u, k, d *Var) *Var { return conv(g, "CausalConv", u, k, d, false) }

// ShortConv is CausalConv computed directly in O(L·Lk) per channel, faster for short
// kernels such as the shift SSM's (Lk ≤ 64).
func ShortConv(g *Graph, u, k, d *Var) *Var { return conv(g, "ShortConv", u, k, d, true) }

// conv is both ops: they differ only in the device kernels they run.
func conv(g *Graph, op string, u, k, d *Var, direct bool) *Var {
	var dv *tensor.Tensor
	if d != nil {
		dv = d.Value
	}
	tensor.ConvShapes(op, nil, u.Value, k.Value, dv)
	dev := u.Device()
	out := g.Result(g.Zeros(dev, u.Shape()...), u, k, d)
	if direct {
		dev.ShortConv(out.Value, u.Value, k.Value, dv)
	} else {
		dev.CausalConv(out.Value, u.Value, k.Value, dv)
	}
	g.OnBackward(out, func() {
		var dd *tensor.Tensor
		if d != nil {
			dd = g.gradOrNil(d)
		}
		du, dk := g.gradOrNil(u), g.gradOrNil(k)
		if direct {
			dev.ShortConvBackward(du, dk, dd, out.Grad, u.Value, k.Value, dv)
		} else {
			dev.CausalConvBackward(du, dk, dd, out.Grad, u.Value, k.Value, dv)
		}
	})
	return out
}
