package main

import (
	"bufio"
	"fmt"
	"os"
	"time"

	"github.com/hungry-ssm/hungry/data"
	"github.com/hungry-ssm/hungry/model"
	"github.com/hungry-ssm/hungry/tensor"
	"github.com/hungry-ssm/hungry/train"
)

// benchModel builds a model of cfg's shape as family, at the parameter count of the H3
// model of that shape (model.Config.MatchH3Size) so that families compare at equal size.
// The Transformer's learned position table (positions × d_model, a lookup that costs no
// compute) is left out of the match: at L = 16K it alone outweighs a small model.
func benchModel(dev tensor.Device, cfg model.Config, family string, positions int) (*model.LM, error) {
	if err := cfg.SetFamily(family, positions); err != nil {
		return nil, err
	}
	if family != model.FamilyH3 {
		pos := cfg.MaxPositionEmbeddings
		cfg.DInner, cfg.MaxPositionEmbeddings = 0, 0
		if err := cfg.MatchH3Size(); err != nil {
			return nil, err
		}
		cfg.MaxPositionEmbeddings = pos
	}
	return model.New(cfg, dev, 1)
}

// trainRow times one AdamW training step (forward, backward, clipping, update) of m on
// random tokens.
func trainRow(b *bencher, m *model.LM, name string, batch, seqLen int) error {
	rng := tensor.NewRNG(4)
	tokens := make([]int32, batch*seqLen*4)
	for i := range tokens {
		tokens[i] = int32(rng.IntN(m.Config.VocabSize))
	}
	sampler, err := data.NewSampler(tokens, batch, seqLen, 1)
	if err != nil {
		return err
	}
	stepper := train.NewStepper(m, train.Options{Batch: batch, Context: seqLen, LR: 1e-3, Steps: 100}, 100)
	t, err := b.measure(1000, func() error {
		_, err := stepper.Run(sampler.Next)
		return err
	})
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	b.add(name, t, float64(batch*seqLen), "tokens/s", func(r *benchResult) { r.Params = m.Config.NumParams() })
	return nil
}

// benchTrainStep is the original training row: an H3 LM of d_model 256, 4 layers.
func benchTrainStep(b *bencher, quick bool) error {
	cfg := model.DefaultConfig()
	cfg.DModel, cfg.NLayer, cfg.DInner, cfg.VocabSize, cfg.EmbedDropout = 256, 4, 1024, 256, 0
	batch, seqLen := 16, 256
	if quick {
		cfg.DModel, cfg.NLayer, cfg.DInner, batch, seqLen = 32, 2, 64, 2, 32
	}
	m, err := model.New(cfg, b.dev, 1)
	if err != nil {
		return err
	}
	return trainRow(b, m, fmt.Sprintf("train step h3 d=%d L=%d B=%d", cfg.DModel, seqLen, batch), batch, seqLen)
}

// benchFamilies times a training step of the H3, hybrid and Transformer families at equal
// parameters, B=1, at each of lengths (1024 by default; --long: 1024, 4096 and 16384):
// issue 16's comparison of H3 with our own Transformer. The models are small (d_model 128, 2 layers) so that the
// long rows fit a workstation; the Transformer's attention holds L² scores per head.
func benchFamilies(b *bencher, quick bool, lengths []int) error {
	cfg := model.DefaultConfig()
	cfg.DModel, cfg.NLayer, cfg.AttnNHeads, cfg.VocabSize, cfg.EmbedDropout = 128, 2, 2, 256, 0
	if quick {
		cfg.DModel, cfg.NLayer, lengths = 32, 2, []int{64}
	}
	for _, l := range lengths {
		for _, family := range model.LanguageFamilies() {
			name := fmt.Sprintf("train step %s d=%d L=%d B=1", family, cfg.DModel, l)
			if need := attentionBytes(cfg, family, l); need > 0 {
				if avail := availableMemory(); avail > 0 && need > avail*7/10 {
					b.note(name, fmt.Sprintf("its attention scores need about %.1f GiB, more than 70%% of the %.1f GiB available",
						float64(need)/(1<<30), float64(avail)/(1<<30)))
					continue
				}
			}
			m, err := benchModel(b.dev, cfg, family, l)
			if err != nil {
				return err
			}
			if err := trainRow(b, m, name, 1, l); err != nil {
				return err
			}
		}
	}
	return nil
}

// attentionBytes estimates the memory a training step's attention layers hold at length
// l: per head and layer an L×L score matrix in about six forms (scores, scaled, probs,
// and their gradients). Zero for a family without attention.
func attentionBytes(cfg model.Config, family string, l int) int64 {
	layers := 0
	switch family {
	case model.FamilyHybrid:
		layers = 1
	case model.FamilyTransformer:
		layers = cfg.NLayer
	}
	return int64(layers) * int64(max(cfg.AttnNHeads, 1)) * int64(l) * int64(l) * 4 * 6
}

// availableMemory is MemAvailable of /proc/meminfo in bytes, or 0 where it cannot be read.
func availableMemory() int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var kb int64
		if n, _ := fmt.Sscanf(sc.Text(), "MemAvailable: %d kB", &kb); n == 1 {
			return kb << 10
		}
	}
	return 0
}

// genTokens is how many tokens one timed block of a generation row generates.
const genTokens = 16

// benchGenerate times generation: the recurrent H3 step (the original row, after a
// 256-token prompt), and with a 1024-token prompt, H3's O(1) step beside the
// Transformer's attention step with its KV cache (equal parameters). Each timed block
// generates genTokens more, so the cache grows from 1024 over the run; the prefill is a
// row of its own.
func benchGenerate(b *bencher, quick bool) error {
	cfg := model.DefaultConfig()
	cfg.DModel, cfg.NLayer, cfg.DInner, cfg.AttnNHeads, cfg.VocabSize, cfg.EmbedDropout = 256, 4, 1024, 4, 256, 0
	prompt := 1024
	if quick {
		cfg.DModel, cfg.NLayer, cfg.DInner, cfg.AttnNHeads, prompt = 32, 2, 64, 2, 64
	}
	const maxBlocks = 64
	positions := prompt + genTokens*(maxBlocks+2)
	rng := tensor.NewRNG(5)
	tokens := make([]int32, positions)
	for i := range tokens {
		tokens[i] = int32(rng.IntN(cfg.VocabSize))
	}
	step := func(st *model.State) func() error {
		return func() error {
			for i := 0; i < genTokens; i++ {
				p := st.Pos()
				if _, err := st.Step(tokens[p : p+1]); err != nil {
					return err
				}
			}
			return nil
		}
	}
	// The original row: H3, 256-token prompt.
	h3, err := benchModel(b.dev, cfg, model.FamilyH3, positions)
	if err != nil {
		return err
	}
	short := min(256, prompt)
	st, err := h3.NewState(1)
	if err != nil {
		return err
	}
	if _, err := st.Prefill(tokens[:short], short); err != nil {
		return err
	}
	t, err := b.measure(maxBlocks, step(st))
	if err != nil {
		return err
	}
	b.add(fmt.Sprintf("generate h3 d=%d (recurrent step)", cfg.DModel), t.per(genTokens), 1, "tokens/s", nil)

	for _, family := range []string{model.FamilyH3, model.FamilyTransformer} {
		m := h3
		if family != model.FamilyH3 {
			if m, err = benchModel(b.dev, cfg, family, positions); err != nil {
				return err
			}
		}
		kind := "recurrent step"
		if family != model.FamilyH3 {
			kind = "KV cache"
		}
		t, err := b.measure(maxBlocks, func() error {
			st, err := m.NewState(1)
			if err != nil {
				return err
			}
			_, err = st.Prefill(tokens[:prompt], prompt)
			return err
		})
		if err != nil {
			return err
		}
		params := func(r *benchResult) { r.Params = m.Config.NumParams() }
		b.add(fmt.Sprintf("prefill %s d=%d L=%d", family, cfg.DModel, prompt), t, float64(prompt), "tokens/s", params)
		st, err := m.NewState(1)
		if err != nil {
			return err
		}
		if _, err := st.Prefill(tokens[:prompt], prompt); err != nil {
			return err
		}
		t, err = b.measure(maxBlocks, step(st))
		if err != nil {
			return err
		}
		b.add(fmt.Sprintf("generate %s d=%d prompt=%d (%s)", family, cfg.DModel, prompt, kind), t.per(genTokens), 1, "tokens/s", params)
	}
	return nil
}

// per divides a timing of n operations into the timing of one.
func (t benchTiming) per(n int) benchTiming {
	t.min /= time.Duration(n)
	t.median /= time.Duration(n)
	return t
}
