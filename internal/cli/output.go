package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/slipwayhq/slipway/internal/config"
	"github.com/slipwayhq/slipway/internal/deploy"
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
func (e *env) printJSON(v any) error { return writeJSON(e.ui.Out, v) }

// result prints text on stdout, or v as JSON with -o json.
func (e *env) result(v any, text string) error {
	if e.json {
		return e.printJSON(v)
	}
	return e.ui.Println(text)
}

type jsonError struct {
	Error    string           `json:"error"`
	Code     int              `json:"exitCode"`
	Problems []config.Problem `json:"problems,omitempty"`
	Result   any              `json:"result,omitempty"`
}

func errorJSON(err error, code int) jsonError {
	j := jsonError{Error: message(err), Code: code}
	var failed *deploy.FailedError
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
