package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/slipwayhq/slipway/internal/config"
	"github.com/slipwayhq/slipway/internal/flow"
)

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("writing JSON: %w", err)
	}
	return nil
}

// printJSON writes v as the command's JSON result on stdout.
func (c *command) printJSON(v any) error { return writeJSON(c.ui.Out, v) }

// result prints text on stdout, or v as JSON with -o json.
func (c *command) result(v any, text string) error {
	if c.json {
		return c.printJSON(v)
	}
	return c.ui.Println(text)
}

// stepTable prints, on stderr, each step's result and time when the
// command ran steps before its goal (results stay alone on stdout).
func (c *command) stepTable(results []flow.StepResult) {
	if len(results) == 0 || c.json {
		return
	}
	rows := make([][]string, 0, len(results))
	for _, r := range results {
		rows = append(rows, []string{r.Task, string(r.Outcome), fmt.Sprintf("%.1fs", r.Seconds)})
	}
	c.ui.ErrTable([]string{"STEP", "RESULT", "TIME"}, rows)
}

type jsonError struct {
	Error    string           `json:"error"`
	Code     int              `json:"exitCode"`
	Problems []config.Problem `json:"problems,omitempty"`
	Result   any              `json:"result,omitempty"`
}

func errorJSON(err error, code int) jsonError {
	j := jsonError{Error: message(err), Code: code}
	var failed *flow.FailedError
	if errors.As(err, &failed) {
		j.Result = failed.Result
		j.Error, _, _ = strings.Cut(j.Error, "\n")
	}
	var ps config.Problems
	if errors.As(err, &ps) {
		j.Problems = ps
		j.Error = fmt.Sprintf("%d problem(s) in the configuration", len(ps))
	}
	return j
}
