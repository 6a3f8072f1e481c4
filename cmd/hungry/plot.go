package main

import (
	"errors"
	"fmt"
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/hungry-ssm/hungry/train"
)

// lossPlot draws the training and validation loss against step.
func lossPlot(title string, recs []train.Record) (*plot.Plot, error) {
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
		return nil, errNothingToPlot
	}
	tl, err := plotter.NewLine(trainPts)
	if err != nil {
		return nil, err
	}
	tl.Color = color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}
	p.Add(tl)
	p.Legend.Add("train", tl)
	if len(valPts) > 0 {
		vl, vp, err := plotter.NewLinePoints(valPts)
		if err != nil {
			return nil, err
		}
		vl.Color = color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}
		vp.Color = vl.Color
		vl.Dashes = []vg.Length{vg.Points(4), vg.Points(2)}
		p.Add(vl, vp)
		p.Legend.Add("validation", vl)
	}
	p.Add(plotter.NewGrid())
	// The legend sits in the top right corner, above headroom kept clear of the curves
	// there: a loss curve falls, so that corner is empty but for a run that learns
	// nothing, which the headroom covers.
	p.Legend.Top = true
	p.Y.Min, p.Y.Max = legendRoom(append(trainPts, valPts...), p.X.Min, p.X.Max)
	return p, nil
}

// legendTop is the part of the y range at its top, and legendRight the part of the x
// range at its right, that the legend may cover.
const legendTop, legendRight = 0.2, 0.4

// legendRoom returns a y range that holds every point and leaves the top right corner
// (legendTop × legendRight of the plot) free of them.
func legendRoom(pts plotter.XYs, xmin, xmax float64) (ymin, ymax float64) {
	ymin, ymax = math.Inf(1), math.Inf(-1)
	right := math.Inf(-1)
	for _, pt := range pts {
		ymin, ymax = min(ymin, pt.Y), max(ymax, pt.Y)
		if pt.X >= xmax-legendRight*(xmax-xmin) {
			right = max(right, pt.Y)
		}
	}
	if ymax-ymin < 1e-6 {
		ymin, ymax = ymin-0.5, ymax+0.5
	}
	// Solve right <= top - legendTop·(top - ymin) for the smallest top >= ymax, with a
	// margin.
	need := (right - legendTop*ymin) / (1 - legendTop)
	return ymin, max(ymax, need+0.02*(ymax-ymin))
}

var errNothingToPlot = errors.New("no losses to plot")

// plotRun draws a run's loss.png from its whole metrics.jsonl, resumed parts included.
// A run without a training loss to show gets no plot.
func plotRun(dir train.Folder, title string) error {
	recs, err := train.ReadMetrics(dir.Metrics())
	if err != nil || len(recs) == 0 {
		return nil
	}
	p, err := lossPlot(title, recs)
	if errors.Is(err, errNothingToPlot) {
		return nil
	}
	if err == nil {
		err = p.Save(8*vg.Inch, 5*vg.Inch, dir.LossPlot())
	}
	if err != nil {
		return fmt.Errorf("loss plot: %w", err)
	}
	return nil
}
