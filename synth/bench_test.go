package synth

import (
	"context"
	"testing"
)

// BenchmarkEpochStep times one-epoch runs of each model with its recipe in the table
// (batch 32, one thread, ten steps), reported per step; the model's construction and the
// test pass are included, so it overstates a step of a full 157-step epoch slightly.
func BenchmarkEpochStep(b *testing.B) {
	for _, task := range Tasks() {
		task.Train, task.Test = 320, 32 // ten steps per epoch
		set, err := Generate(task, 1)
		if err != nil {
			b.Fatal(err)
		}
		for _, m := range Models() {
			b.Run(task.Name+"/"+m, func(b *testing.B) {
				opts := DefaultOptions()
				opts.Recipe, opts.PerRun = opts.RecipeFor(task.Name, m), nil
				opts.Epochs = 1
				for b.Loop() {
					if _, err := Train(context.Background(), task, set, m, opts); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N*10), "ms/step")
			})
		}
	}
}
