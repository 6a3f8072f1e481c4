package kernels_test

import (
	"fmt"

	"github.com/hungry-ssm/hungry/ptx/kernels"
	"github.com/hungry-ssm/hungry/ptx/ptxsim"
)

// sim is the smallest kernels.Launcher: the interpreter on one memory. A device backend
// does the same with the driver.
type sim struct{ mem *ptxsim.Memory }

func (s sim) Launch(k *kernels.Info, grid [3]int, shared int, args []kernels.Arg) error {
	src, err := kernels.Source(k.Module)
	if err != nil {
		return err
	}
	m, err := ptxsim.Load(src)
	if err != nil {
		return err
	}
	vals := make([]any, len(args))
	for i, a := range args {
		switch a.Type {
		case "u64":
			vals[i] = ptxsim.Ptr(a.Bits)
		case "f32":
			vals[i] = a.F32()
		default:
			vals[i] = uint32(a.Bits)
		}
	}
	return m.Launch(s.mem, k.Name, grid, k.Block, shared, vals...)
}

// Example launches add_f32 through its typed launcher, which computes the grid from n.
func Example() {
	mem := ptxsim.NewMemory()
	a, _ := mem.AllocF32([]float32{1, 2, 3, 4, 5})
	b, _ := mem.AllocF32([]float32{10, 20, 30, 40, 50})
	out, _ := mem.Alloc(4 * 5)
	ptr := func(p ptxsim.Ptr) kernels.Ptr { return kernels.Ptr{Addr: uint64(p)} }
	if err := kernels.AddF32(sim{mem}, ptr(out), ptr(a), ptr(b), 5); err != nil {
		fmt.Println(err)
		return
	}
	v, _ := mem.ReadF32(out, 5)
	fmt.Println(v)
	// Output: [11 22 33 44 55]
}
