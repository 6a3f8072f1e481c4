package simd

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/hungry-ssm/hungry/tensor/internal/cpu"
)

// TestKernelFamilies logs which families the kernel tests ran, then re-runs the tests
// that go through the package's dispatch (the exported API) in a child process for every
// other family the processor has, with HUNGRY_CPU set to it, so that each dispatch path
// is exercised in one `go test`. The other tests call each family's kernels directly.
func TestKernelFamilies(t *testing.T) {
	var names []string
	for _, im := range implementations() {
		names = append(names, im.name)
	}
	t.Logf("kernel families tested: %s; the dispatch uses %s", strings.Join(names, ", "), cpu.Active)
	if len(implementations()) != len(geluImplementations()) || len(implementations()) != len(corrImplementations()) {
		t.Fatalf("the vector, activation and correlation tests cover different families")
	}
	if os.Getenv(cpu.Env) != "" {
		return // a child, or a run that chose its family
	}
	for _, f := range cpu.Families {
		if f == cpu.Active || !cpu.Supported(f) {
			continue
		}
		cmd := exec.Command(os.Args[0], "-test.count=1", "-test.v",
			"-test.run=^(TestKernelFamilies|TestVectorAPI|TestGELUInPlaceAndAPI|TestCorrRowsAPI|TestSgemmStridedMatchesLoop)$")
		cmd.Env = append(os.Environ(), cpu.Env+"="+f.String())
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s=%s: %v\n%s", cpu.Env, f, err, out)
		}
		if !strings.Contains(string(out), "the dispatch uses "+f.String()) {
			t.Fatalf("%s=%s: the child did not dispatch to %s:\n%s", cpu.Env, f, f, out)
		}
		t.Logf("%s=%s: the API tests pass through that family's dispatch", cpu.Env, f)
	}
}
