// Package layers holds the building blocks of the H3 language model: linear maps,
// embeddings, normalisation, the MLP, causal attention and the H3 mixer with its two
// state-space models.
//
// Every module owns its parameters as autograd variables named with their full official
// checkpoint names (the PyTorch state-dict keys of HazyResearch/H3), so a checkpoint maps
// onto Params() one to one. Constructors initialise the parameters as the official code
// does, drawing from the RNG they are given in a fixed order. A nil RNG leaves the
// randomly initialised parameters at zero (the deterministic ones still get their values),
// for a model whose weights are about to be loaded: drawing them would only cost time.
package layers

import (
	"github.com/hungry-ssm/hungry/autograd"
	"github.com/hungry-ssm/hungry/tensor"
)

// Module is anything that owns parameters.
type Module interface {
	Params() []*autograd.Var
}

// join builds a dotted checkpoint name.
func join(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

// param, zerosParam and filledParam create a parameter of the given optimizer class: each
// call site says what its parameter is, so the optimizer's groups never depend on names.
func param(dev tensor.Device, name string, class autograd.ParamClass, data []float32, shape ...int) *autograd.Var {
	return classed(autograd.NewParam(name, dev.FromHost(data, shape...)), class)
}

func zerosParam(dev tensor.Device, name string, class autograd.ParamClass, shape ...int) *autograd.Var {
	return classed(autograd.NewParam(name, dev.Zeros(shape...)), class)
}

func filledParam(dev tensor.Device, name string, class autograd.ParamClass, v float32, shape ...int) *autograd.Var {
	t := dev.Zeros(shape...)
	dev.Fill(t, v)
	return classed(autograd.NewParam(name, t), class)
}

func classed(p *autograd.Var, class autograd.ParamClass) *autograd.Var {
	p.Class = class
	return p
}

// normal returns n draws from N(0, std²), or zeros without a generator.
func normal(rng *tensor.RNG, n int, std float32) []float32 {
	if rng == nil {
		return make([]float32, n)
	}
	return rng.Normal(n, 0, std)
}

// uniform returns n draws from U[−bound, bound), or zeros without a generator.
func uniform(rng *tensor.RNG, n int, bound float32) []float32 {
	if rng == nil {
		return make([]float32, n)
	}
	return rng.Uniform(n, -bound, bound)
}
