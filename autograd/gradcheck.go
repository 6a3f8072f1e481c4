package autograd

import (
	"fmt"
	"math"

	"github.com/hungry-ssm/hungry/tensor"
)

// GradCheckOptions tune CheckGrad. The zero value uses the defaults.
type GradCheckOptions struct {
	// Eps is the central-difference step (default 1e-2). Ops run in float32, so the step
	// must be large enough that the change in the loss rises well above rounding noise:
	// with loss values of order 1 and float32's 6e-8 relative precision, a step of 1e-2
	// keeps the rounding part of the estimate near 1e-5 while the O(eps²) truncation error
	// of a smooth op stays near 1e-4.
	Eps float64
	// Tol bounds |analytic − numeric| / max(|analytic|, |numeric|, floor) per element
	// (default 1e-2, a hundred times the expected error above), where floor is 1e-2 of
	// the largest numeric gradient of that input, so near-zero entries are judged against
	// the input's scale instead of their own.
	Tol float64
	// MaxPerInput caps how many elements of each input are perturbed (default 64; they are
	// spread evenly over the tensor) to keep tests fast for large inputs.
	MaxPerInput int
	// Seed fixes the random projection that turns the output into a scalar loss.
	Seed uint64
}

// CheckGrad compares the gradients that Backward computes for f with central finite
// differences. f builds an output from the inputs on the given graph; the scalar loss is
// Σ out ⊙ R for a fixed random R, so every output element matters. Losses are summed in
// float64. Inputs must be CPU tensors. It returns an error naming the first input and
// element that disagree.
func CheckGrad(f func(g *Graph, inputs []*Var) *Var, inputs []*Var, opt GradCheckOptions) error {
	if opt.Eps == 0 {
		opt.Eps = 1e-2
	}
	if opt.Tol == 0 {
		opt.Tol = 1e-2
	}
	if opt.MaxPerInput == 0 {
		opt.MaxPerInput = 64
	}
	var proj []float32
	loss := func() (float64, error) {
		var out *Var
		if err := tensor.Catch(func() { out = f(NoGrad(), inputs) }); err != nil {
			return 0, err
		}
		vals := out.Value.Host()
		if proj == nil {
			proj = tensor.NewRNG(opt.Seed+1).Normal(len(vals), 0, 1)
		}
		s := 0.0
		for i, v := range vals {
			s += float64(v) * float64(proj[i])
		}
		return s, nil
	}
	if _, err := loss(); err != nil {
		return err
	}

	for _, in := range inputs {
		in.ZeroGrad()
	}
	g := NewGraph()
	var out *Var
	if err := tensor.Catch(func() { out = f(g, inputs) }); err != nil {
		return err
	}
	seed := out.Device().FromHost(proj, out.Shape()...)
	if err := g.BackwardWith(out, seed); err != nil {
		return err
	}

	for idx, in := range inputs {
		if !in.requiresGrad {
			continue
		}
		name := in.Name
		if name == "" {
			name = fmt.Sprintf("input %d", idx)
		}
		data := in.Value.Data()
		var analytic []float32
		if in.Grad != nil {
			analytic = in.Grad.Host()
		} else {
			analytic = make([]float32, len(data))
		}
		n := len(data)
		step := 1
		if n > opt.MaxPerInput {
			step = (n + opt.MaxPerInput - 1) / opt.MaxPerInput
		}
		type sample struct {
			i        int
			num, ana float64
		}
		var samples []sample
		maxNum := 0.0
		for i := 0; i < n; i += step {
			orig := data[i]
			data[i] = orig + float32(opt.Eps)
			lp, err := loss()
			if err != nil {
				return err
			}
			data[i] = orig - float32(opt.Eps)
			lm, err := loss()
			if err != nil {
				return err
			}
			data[i] = orig
			// The perturbation actually applied, after float32 rounding.
			h := float64(orig+float32(opt.Eps)) - float64(orig-float32(opt.Eps))
			num := (lp - lm) / h
			maxNum = math.Max(maxNum, math.Abs(num))
			samples = append(samples, sample{i, num, float64(analytic[i])})
		}
		floor := 1e-2*maxNum + 1e-6
		for _, s := range samples {
			scale := math.Max(math.Max(math.Abs(s.num), math.Abs(s.ana)), floor)
			if math.Abs(s.num-s.ana)/scale > opt.Tol {
				return fmt.Errorf("gradient of %s %v at element %d: analytic %.6g, numeric %.6g",
					name, in.Shape(), s.i, s.ana, s.num)
			}
		}
	}
	return nil
}
