package autograd

import (
	"strings"
	"testing"

	"github.com/hungry-ssm/hungry/tensor"
)

// param returns a parameter of the given shape filled from N(0, std²).
func param(rng *tensor.RNG, name string, std float32, shape ...int) *Var {
	return NewParam(name, tensor.RandNormal(tensor.DefaultCPU(), rng, std, shape...))
}

// checkGrad runs CheckGrad with the default options and reports a failure under name.
func checkGrad(t *testing.T, name string, f func(g *Graph, in []*Var) *Var, inputs ...*Var) {
	t.Helper()
	if err := CheckGrad(f, inputs, GradCheckOptions{}); err != nil {
		t.Errorf("%s: %v", name, err)
	}
}

// wantShapeError fails unless fn panics with a *tensor.ShapeError whose message contains
// every one of parts.
func wantShapeError(t *testing.T, fn func(), parts ...string) {
	t.Helper()
	err := tensor.Catch(fn)
	if err == nil {
		t.Fatalf("no shape error; want one mentioning %q", parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Fatalf("error %q does not mention %q", err, p)
		}
	}
}
