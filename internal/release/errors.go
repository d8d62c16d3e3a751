package release

import "errors"

// Sentinel errors, matchable with errors.Is. The errors that wrap them say
// what to do next.
var (
	// ErrNotRepo means the directory is not inside a git repository.
	ErrNotRepo = errors.New("not a git repository")
	// ErrNoCommits means the repository has no commits yet.
	ErrNoCommits = errors.New("no commits yet")
	// ErrDirty means the working tree has uncommitted changes.
	ErrDirty = errors.New("uncommitted changes")
	// ErrShallow means the clone is too shallow to find the last release.
	ErrShallow = errors.New("shallow clone")
	// ErrTagExists means the release tag already exists, here or on the remote.
	ErrTagExists = errors.New("tag already exists")
	// ErrNotNewer means the version asked for does not sort above the
	// versions already released.
	ErrNotNewer = errors.New("version is not newer than the latest release")
	// ErrInvalid means an option has a value outside its valid form.
	ErrInvalid = errors.New("invalid value")
)
