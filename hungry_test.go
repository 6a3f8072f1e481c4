package hungry

import "testing"

func TestFamiliesHaveMatchedSizes(t *testing.T) {
	spec := DefaultSpec()
	spec.DModel, spec.Layers = 64, 3
	sizes := map[string]int{}
	for _, fam := range []string{"h3", "hybrid", "transformer"} {
		spec.Family = fam
		cfg, err := spec.ModelConfig(256, 128)
		if err != nil {
			t.Fatal(err)
		}
		sizes[fam] = cfg.NumParams()
	}
	// One unit of d_inner moves the count by n_layer·(2·d_model+1) = 387, so rounding
	// leaves at most half of that.
	for _, fam := range []string{"hybrid", "transformer"} {
		if d := sizes[fam] - sizes["h3"]; d < -194 || d > 194 {
			t.Errorf("%s has %d parameters, h3 %d", fam, sizes[fam], sizes["h3"])
		}
	}
}

func TestSpecRejectsUnknownFamilyAndTokenizer(t *testing.T) {
	for _, s := range []Spec{{Family: "rnn"}, {Family: "h3", Tokenizer: "chars"}} {
		base := DefaultSpec()
		base.Family = s.Family
		if s.Tokenizer != "" {
			base.Tokenizer = s.Tokenizer
		}
		if _, err := base.ModelConfig(256, 64); err == nil {
			t.Errorf("%+v accepted", s)
		}
	}
}
