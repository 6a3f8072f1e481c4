package kernels_test

import (
	"fmt"

	"github.com/hungry-ssm/hungry/ptx/kernels"
	"github.com/hungry-ssm/hungry/ptx/ptxsim"
)

// Example launches add_f32 the way a device backend would: source from the module, block
// shape from the index.
func Example() {
	info, _ := kernels.Lookup("add_f32")
	src, _ := kernels.Source(info.Module)
	m, err := ptxsim.Load(src)
	if err != nil {
		fmt.Println(err)
		return
	}
	mem := ptxsim.NewMemory()
	a, _ := mem.AllocF32([]float32{1, 2, 3, 4, 5})
	b, _ := mem.AllocF32([]float32{10, 20, 30, 40, 50})
	out, _ := mem.Alloc(4 * 5)
	n := 5
	grid := [3]int{(n + 1023) / 1024, 1, 1} // info.Grid: (ceil(n/1024),1,1)
	if err := m.Launch(mem, info.Name, grid, info.Block, 0, out, a, b, n); err != nil {
		fmt.Println(err)
		return
	}
	v, _ := mem.ReadF32(out, n)
	fmt.Println(v)
	// Output: [11 22 33 44 55]
}
