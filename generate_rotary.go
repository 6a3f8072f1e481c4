package hungry

import (
	"github.com/hungry-ssm/hungry/sample"
	"github.com/hungry-ssm/hungry/tensor"
)

// generateRecomputing continues ids by running the whole sequence through the
// convolutional forward pass for every new token: O(L) per token for H3 layers and O(L²)
// for attention, against O(1) and O(L) for the recurrent mode. It serves models whose
// recurrent step is not wired yet (rotary attention: the step must rotate each new
// query and key by its absolute position, see layers.ApplyRotary), so they generate
// correctly, if slowly, instead of silently wrongly.
func (m *Model) generateRecomputing(ids []int32, n int, o sample.Options, rng *tensor.RNG) ([]int32, error) {
	seq := append([]int32(nil), ids...)
	v := m.LM.Config.VocabSize
	for len(seq) < len(ids)+n {
		logits, err := m.LM.Logits(seq, 1, len(seq))
		if err != nil {
			return nil, err
		}
		seq = append(seq, sample.Next(logits.Host()[(len(seq)-1)*v:], o, rng))
	}
	return seq[len(ids):], nil
}
