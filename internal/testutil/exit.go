package testutil

import (
	"errors"
	"os/exec"
)

// ExitCode is the exit code of a finished command's error: 0 for nil, -1
// when the command did not exit by itself (killed, or never started).
func ExitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}
