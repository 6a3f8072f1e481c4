package train

import (
	"bufio"
	"errors"
	"fmt"
	"os"

	"github.com/hungry-ssm/hungry/safetensors"
	"github.com/hungry-ssm/hungry/tensor"
)

// saveTensors writes named tensors as F32 safetensors into a new file. It writes plainly:
// WriteDirAtomic makes the checkpoint that holds the file atomic.
func saveTensors(path string, ts map[string]*tensor.Tensor) error {
	out := make(map[string]safetensors.Tensor, len(ts))
	for name, t := range ts {
		st, err := safetensors.FromF32(t.Shape(), t.Host())
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		out[name] = st
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	if err := safetensors.Write(w, out, nil); err != nil {
		return errors.Join(err, f.Close())
	}
	return errors.Join(w.Flush(), f.Close())
}

// loadTensors reads every tensor of a safetensors file onto the CPU.
func loadTensors(path string) (map[string]*tensor.Tensor, error) {
	f, err := safetensors.ReadFile(path)
	if err != nil {
		return nil, err
	}
	out := map[string]*tensor.Tensor{}
	for _, name := range f.Names() {
		data, shape, err := f.F32(name)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", path, name, err)
		}
		if len(shape) == 0 {
			shape = []int{1}
		}
		out[name] = tensor.FromSlice(data, shape...)
	}
	return out, nil
}
