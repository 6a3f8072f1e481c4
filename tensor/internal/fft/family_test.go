package fft

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/hungry-ssm/hungry/tensor/internal/cpu"
)

// TestKernelFamilies logs which families the kernel tests ran, then re-runs the
// transform tests, which go through the package's dispatch, in a child process for every
// other family the processor has, with HUNGRY_CPU set to it.
func TestKernelFamilies(t *testing.T) {
	var names []string
	for _, im := range implementations() {
		names = append(names, im.name)
	}
	t.Logf("kernel families tested: %s; the dispatch uses %s", strings.Join(names, ", "), cpu.Active)
	if os.Getenv(cpu.Env) != "" {
		return // a child, or a run that chose its family
	}
	for _, f := range cpu.Families {
		if f == cpu.Active || !cpu.Supported(f) {
			continue
		}
		cmd := exec.Command(os.Args[0], "-test.count=1", "-test.v",
			"-test.run=^(TestKernelFamilies|TestForwardPadsShortInput|TestInverseIgnoresImaginaryEnds|TestConcurrentUse)$")
		cmd.Env = append(os.Environ(), cpu.Env+"="+f.String())
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s=%s: %v\n%s", cpu.Env, f, err, out)
		}
		if !strings.Contains(string(out), "the dispatch uses "+f.String()) {
			t.Fatalf("%s=%s: the child did not dispatch to %s:\n%s", cpu.Env, f, f, out)
		}
		t.Logf("%s=%s: the transform tests pass through that family's dispatch", cpu.Env, f)
	}
}
