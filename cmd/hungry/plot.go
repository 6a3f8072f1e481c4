package main

import (
	"errors"
	"fmt"
	"image/color"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/hungry-ssm/hungry/train"
)

// plotLoss draws the training and validation loss against step as a PNG.
func plotLoss(path, title string, recs []train.Record) error {
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

var errNothingToPlot = errors.New("no losses to plot")

// plotRun draws a finished run's loss.png from its whole metrics.jsonl, resumed parts
// included. A run without a training loss to show gets no plot.
func plotRun(dir train.Folder, title string) error {
	recs, err := train.ReadMetrics(dir.Metrics())
	if err != nil || len(recs) == 0 {
		return nil
	}
	if err := plotLoss(dir.LossPlot(), title, recs); err != nil && !errors.Is(err, errNothingToPlot) {
		return fmt.Errorf("loss plot: %w", err)
	}
	return nil
}
