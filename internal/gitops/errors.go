package gitops

import "errors"

// Sentinel errors, matchable with errors.Is. Errors of the network side
// wrap the sentinels of internal/gitremote instead: ErrAuth (credentials
// refused or missing), ErrTimeout (no answer within the limit) and
// ErrTooLarge (a remote sent more than Limits allow).
var (
	// ErrInvalid means an option or a change has a value outside its valid
	// form.
	ErrInvalid = errors.New("invalid value")
	// ErrRaced means other pushes landed first twice in a row: Slipway made
	// its change again on the first one, and lost again.
	ErrRaced = errors.New("another push got there first")
	// ErrConflict means a file Slipway owns changed in the repository
	// between Slipway's fetch and its push; Slipway does not overwrite a
	// change it has not seen.
	ErrConflict = errors.New("a file Slipway writes was changed by someone else")
	// ErrNotFound means a commit or file is not where it was looked for.
	ErrNotFound = errors.New("not found")
)
