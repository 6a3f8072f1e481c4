package train

import (
	"bufio"
	"encoding/json"
	"os"
)

// Record is one line of metrics.jsonl. Validation fields are set on evaluation steps.
type Record struct {
	Step         int     `json:"step"`
	Tokens       int64   `json:"tokens"`
	Loss         float64 `json:"loss,omitempty"`
	LR           float64 `json:"lr,omitempty"`
	GradNorm     float64 `json:"grad_norm,omitempty"`
	TokensPerSec float64 `json:"tokens_per_s,omitempty"`
	ElapsedSec   float64 `json:"elapsed_s"`
	ValLoss      float64 `json:"val_loss,omitempty"`
	ValPPL       float64 `json:"val_ppl,omitempty"`
	ValBPB       float64 `json:"val_bpb,omitempty"`
}

// appendRecord adds one JSON line to path.
func appendRecord(path string, r Record) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	b, _ := json.Marshal(r)
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// ReadMetrics reads metrics.jsonl.
func ReadMetrics(path string) ([]Record, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []Record
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			// A line cut short by a kill is the only thing that can be malformed; the
			// records before it stand.
			break
		}
		out = append(out, r)
	}
	return out, sc.Err()
}
