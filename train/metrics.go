package train

import (
	"encoding/json"
	"fmt"
	"image/color"
	"os"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
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

// plotLoss draws the training and validation loss against step as a PNG.
func plotLoss(path, title string, recs []Record) error {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "step"
	p.Y.Label.Text = "loss (nats/token)"
	var trainPts, valPts plotter.XYs
	for _, r := range recs {
		if r.Loss > 0 {
			trainPts = append(trainPts, plotter.XY{X: float64(r.Step), Y: r.Loss})
		}
		if r.ValLoss > 0 {
			valPts = append(valPts, plotter.XY{X: float64(r.Step), Y: r.ValLoss})
		}
	}
	if len(trainPts) == 0 {
		return errNothingToPlot
	}
	tl, err := plotter.NewLine(trainPts)
	if err != nil {
		return err
	}
	tl.Color = color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}
	p.Add(tl)
	p.Legend.Add("train", tl)
	if len(valPts) > 0 {
		vl, vp, err := plotter.NewLinePoints(valPts)
		if err != nil {
			return err
		}
		vl.Color = color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}
		vp.Color = vl.Color
		vl.Dashes = []vg.Length{vg.Points(4), vg.Points(2)}
		p.Add(vl, vp)
		p.Legend.Add("validation", vl)
	}
	p.Add(plotter.NewGrid())
	return p.Save(8*vg.Inch, 5*vg.Inch, path)
}

var errNothingToPlot = fmt.Errorf("no losses to plot")
