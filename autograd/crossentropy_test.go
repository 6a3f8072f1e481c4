package autograd

import (
	"math"
	"testing"

	"github.com/hungry-ssm/hungry/tensor"
)

const ignore = -100

func TestCrossEntropyGrad(t *testing.T) {
	rng := tensor.NewRNG(111)
	logits := param(rng, "logits", 1.5, 3, 5, 7)
	targets := make([]int32, 15)
	for i := range targets {
		targets[i] = int32(rng.IntN(7))
	}
	targets[4], targets[11] = ignore, ignore
	// The loss is one float32 number near N·log V, whose rounding (its ulp over 2·Eps)
	// swamps the smallest gradients (p/N) at the default step; 5e-2 cuts that noise
	// five-fold, and the O(Eps²) truncation error stays below 1e-5 because the third
	// derivative of the loss is at most p/N.
	opt := GradCheckOptions{Eps: 5e-2}
	for name, f := range map[string]func(g *Graph, in []*Var) *Var{
		"CrossEntropy": func(g *Graph, in []*Var) *Var { return CrossEntropy(g, in[0], targets, ignore) },
		"CrossEntropySum": func(g *Graph, in []*Var) *Var {
			s, _ := CrossEntropySum(g, in[0], targets, ignore)
			return s
		},
		"CrossEntropyRows": func(g *Graph, in []*Var) *Var { return CrossEntropyRows(g, in[0], targets, ignore) },
	} {
		if err := CheckGrad(f, []*Var{logits}, opt); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestCrossEntropyValue(t *testing.T) {
	rng := tensor.NewRNG(112)
	logits := param(rng, "logits", 2, 4, 9)
	targets := []int32{2, ignore, 8, 0}
	x := logits.Value.Data()
	want, n := 0.0, 0
	for r, tg := range targets {
		if tg == ignore {
			continue
		}
		s := 0.0
		for _, v := range x[r*9 : (r+1)*9] {
			s += math.Exp(float64(v))
		}
		want += math.Log(s) - float64(x[r*9+int(tg)])
		n++
	}
	got := CrossEntropy(NoGrad(), logits, targets, ignore).Value.Item()
	if math.Abs(float64(got)-want/float64(n)) > 1e-5 {
		t.Fatalf("CrossEntropy = %v, want %v", got, want/float64(n))
	}
	sum, count := CrossEntropySum(NoGrad(), logits, targets, ignore)
	if count != 3 || math.Abs(float64(sum.Value.Item())-want) > 1e-5 {
		t.Fatalf("CrossEntropySum = %v over %d rows, want %v over 3", sum.Value.Item(), count, want)
	}
}

func TestCrossEntropyAllIgnored(t *testing.T) {
	logits := param(tensor.NewRNG(113), "logits", 1, 2, 5)
	g := NewGraph()
	loss := CrossEntropy(g, logits, []int32{ignore, ignore}, ignore)
	if v := loss.Value.Item(); v != 0 {
		t.Fatalf("loss %v, want 0", v)
	}
	if err := g.Backward(loss); err != nil {
		t.Fatal(err)
	}
	for _, v := range logits.Grad.Data() {
		if v != 0 {
			t.Fatalf("gradient %v, want zeros", logits.Grad.Data())
		}
	}
}

func TestCrossEntropyErrors(t *testing.T) {
	logits := param(tensor.NewRNG(114), "logits", 1, 2, 5)
	wantShapeError(t, func() { CrossEntropy(NewGraph(), logits, []int32{1, 5}, ignore) }, "CrossEntropy", "target 5", "[0, 5)")
	wantShapeError(t, func() { CrossEntropy(NewGraph(), logits, []int32{1}, ignore) }, "CrossEntropy", "[2 5]", "[1]")
}
