package flow

import (
	"errors"
	"os"
	"path/filepath"

	"github.com/slipwayhq/slipway/internal/config"
)

// CheckConfig validates the slipway.yaml in dir and, when present, its
// ci.yaml, and returns the files checked, or every problem in both as
// config.Problems.
func CheckConfig(dir string) ([]string, error) {
	checked := []string{config.ProjectFile}
	p, err := config.LoadProject(dir)
	var probs config.Problems
	if err != nil && !errors.As(err, &probs) {
		return nil, err
	}
	if _, statErr := os.Stat(filepath.Join(dir, config.CIFile)); statErr == nil {
		checked = append(checked, config.CIFile)
		if _, ciErr := config.LoadCI(dir, p); ciErr != nil {
			var more config.Problems
			if !errors.As(ciErr, &more) {
				return nil, ciErr
			}
			probs = append(probs, more...)
		}
	}
	if len(probs) > 0 {
		return nil, probs
	}
	return checked, nil
}
