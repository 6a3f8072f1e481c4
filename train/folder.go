package train

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
)

// Folder is a run's folder. This package alone knows its layout:
//
//	run.json        what the run's creator needs to rebuild it (WriteSettings)
//	checkpoint/     the latest checkpoint, replaced whole by WriteDirAtomic: the model's own
//	                files (config.json, model.safetensors, the tokenizer's, written by
//	                Run.SaveModel), optimizer.safetensors and trainer.json
//	metrics.jsonl   one Record per line
//	loss.png        the loss plot, drawn by the hungry command from metrics.jsonl
type Folder string

// Checkpoint is the folder of the run's latest checkpoint.
func (f Folder) Checkpoint() string { return filepath.Join(string(f), "checkpoint") }

// Metrics is the path of metrics.jsonl.
func (f Folder) Metrics() string { return filepath.Join(string(f), "metrics.jsonl") }

// LossPlot is the path of the loss plot.
func (f Folder) LossPlot() string { return filepath.Join(string(f), "loss.png") }

const (
	settingsFile  = "run.json"
	trainerFile   = "trainer.json"
	optimizerFile = "optimizer.safetensors"
)

// LatestCheckpoint returns the folder holding the run's latest complete checkpoint.
func (f Folder) LatestCheckpoint() (string, error) { return resolveDir(f.Checkpoint()) }

// WriteSettings creates the folder and records v in it as run.json, once, before the run
// starts; the checkpoints never rewrite it.
func (f Folder) WriteSettings(v any) error {
	if err := os.MkdirAll(string(f), 0o755); err != nil {
		return fmt.Errorf("cannot create the run folder: %w", err)
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(string(f), settingsFile), b, 0o644); err != nil {
		return fmt.Errorf("cannot write to the run folder: %w", err)
	}
	return nil
}

// ReadSettings reads run.json into v.
func (f Folder) ReadSettings(v any) error {
	b, err := os.ReadFile(filepath.Join(string(f), settingsFile))
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s is corrupt: %w", settingsFile, err)
	}
	return nil
}

// Options returns the options the run was started with, from its latest checkpoint, so
// that a resumed run draws the same batches.
func (f Folder) Options() (Options, error) {
	dir, err := f.LatestCheckpoint()
	if err != nil {
		return Options{}, err
	}
	st, err := readTrainerState(dir)
	if err != nil {
		return Options{}, err
	}
	return st.Options, nil
}

// trainerState is the loop's own part of a checkpoint (trainer.json).
type trainerState struct {
	Step       int     `json:"step"`
	TotalSteps int     `json:"total_steps"`
	Tokens     int64   `json:"tokens"`
	ElapsedSec float64 `json:"elapsed_s"`
	// EvalSec is the part of ElapsedSec spent in validation passes.
	EvalSec float64 `json:"eval_s,omitempty"`
	// EndSec is the training time at which a time-bounded run ends (0: TotalSteps bounds
	// it, and for a time-bounded one TotalSteps is the estimate when it was saved).
	EndSec float64 `json:"end_s,omitempty"`
	// SegmentStep and SegmentSec are where the current learning-rate cycle began: 0, or
	// the resumption that gave the run a new budget.
	SegmentStep int     `json:"segment_step,omitempty"`
	SegmentSec  float64 `json:"segment_s,omitempty"`
	OptStep     int     `json:"optimizer_step"`
	Sampler     []byte  `json:"sampler"`
	DropoutRNG  []byte  `json:"dropout_rng"`
	Options     Options `json:"options"`
}

// saveCheckpoint replaces the run's checkpoint with the model's files (saveModel writes
// them plainly into the folder it is given), the optimizer's state and st completed with
// the positions of the batches and the dropout generator.
func (f Folder) saveCheckpoint(st trainerState, s *Stepper, batches Batches, saveModel func(dir string) error) error {
	sampler, err := batches.MarshalBinary()
	if err != nil {
		return err
	}
	drop, err := s.DropRNG.MarshalBinary()
	if err != nil {
		return err
	}
	st.Sampler, st.DropoutRNG = sampler, drop
	state, optStep := s.Opt.State()
	st.OptStep = optStep
	return WriteDirAtomic(f.Checkpoint(), func(tmp string) error {
		if err := saveModel(tmp); err != nil {
			return err
		}
		if err := saveTensors(filepath.Join(tmp, optimizerFile), state); err != nil {
			return err
		}
		b, err := json.MarshalIndent(st, "", "  ")
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(tmp, trainerFile), b, 0o644)
	})
}

func readTrainerState(dir string) (trainerState, error) {
	var st trainerState
	b, err := os.ReadFile(filepath.Join(dir, trainerFile))
	if err != nil {
		return st, fmt.Errorf("checkpoint has no trainer state: %w", err)
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, fmt.Errorf("checkpoint %s is corrupt: %w", filepath.Join(dir, trainerFile), err)
	}
	if st.Step < 0 || st.TotalSteps <= 0 || st.Step > st.TotalSteps || st.SegmentStep > st.Step || st.EndSec < 0 ||
		math.IsNaN(st.EndSec) || math.IsNaN(st.ElapsedSec) {
		return st, fmt.Errorf("checkpoint %s is corrupt: step %d of %d", filepath.Join(dir, trainerFile), st.Step, st.TotalSteps)
	}
	return st, nil
}

// restore puts the optimizer, the batches and the dropout generator back where the
// checkpoint in dir left them.
func restore(dir string, st trainerState, s *Stepper, batches Batches) error {
	state, err := loadTensors(filepath.Join(dir, optimizerFile))
	if err != nil {
		return err
	}
	if err := s.Opt.LoadState(state, st.OptStep); err != nil {
		return err
	}
	if err := batches.UnmarshalBinary(st.Sampler); err != nil {
		return fmt.Errorf("checkpoint sampler state: %w", err)
	}
	if err := s.DropRNG.UnmarshalBinary(st.DropoutRNG); err != nil {
		return fmt.Errorf("checkpoint dropout state: %w", err)
	}
	s.Step = st.Step
	return nil
}

// truncateMetrics drops records after step, written by a run that died after its last
// checkpoint, so a resumed run does not log those steps twice.
func truncateMetrics(path string, step int) error {
	recs, err := ReadMetrics(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var buf []byte
	for _, r := range recs {
		if r.Step <= step {
			b, _ := json.Marshal(r)
			buf = append(append(buf, b...), '\n')
		}
	}
	return os.WriteFile(path, buf, 0o644)
}
