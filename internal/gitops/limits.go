package gitops

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
	"github.com/go-git/go-git/v5/storage/memory"

	"github.com/slipwayhq/slipway/internal/gitremote"
)

// Limits bound what Slipway takes from an environment repository's
// server, which chooses what it sends: go-git itself reads a packfile of
// any size, and inflates objects to the size their headers declare. A
// zero field takes its default.
type Limits struct {
	// Pack bounds the packfile of one fetch, as sent (64 MiB).
	Pack int64
	// Object bounds one object, inflated: a manifest file, a tree, a
	// commit, or what a delta makes (8 MiB, as for a committed generated
	// file in a project).
	Object int64
	// Total bounds all objects of one fetch, inflated (256 MiB): a few
	// kilobytes of zeros inflate to gigabytes, so the packfile's own size
	// bounds nothing.
	Total int64
	// Objects bounds how many objects one fetch brings (200,000).
	Objects int
	// Depth bounds how many commits of history History, Revert and
	// Restore fetch and look at (1,000).
	Depth int
	// Files bounds the files one commit changes under the path, and the
	// entries (files and directories) Revert and Restore look at under it
	// (10,000).
	Files int
	// Timeout bounds each fetch and each push; 0 is the retries timeout of
	// --network-timeout (or SLIPWAY_NETWORK_TIMEOUT), 2m by default.
	Timeout time.Duration
}

// DefaultLimits are the limits a zero field takes.
var DefaultLimits = Limits{Pack: 64 << 20, Object: 8 << 20, Total: 256 << 20, Objects: 200_000, Depth: 1000, Files: 10_000}

// or fills l's zero (or negative) fields from d.
func (l Limits) or(d Limits) Limits {
	l.Pack, l.Object, l.Total = positive(l.Pack, d.Pack), positive(l.Object, d.Object), positive(l.Total, d.Total)
	l.Objects, l.Depth, l.Files = positive(l.Objects, d.Objects), positive(l.Depth, d.Depth), positive(l.Files, d.Files)
	l.Timeout = positive(l.Timeout, d.Timeout)
	return l
}

// positive is v when above zero, else d.
func positive[T int | int64 | time.Duration](v, d T) T {
	if v > 0 {
		return v
	}
	return d
}

// storage is memory storage that takes a fetch's packfile only within
// Limits: go-git hands a storage that can write packfiles the packfile as
// it arrives, so the whole of it is checked here before go-git parses a
// byte of it.
type storage struct {
	*memory.Storage
	limits Limits
	// drain reads a packfile over the limit to its end, discarding it, and
	// fails only then: go-git's transport for local repositories waits for
	// git-upload-pack to exit when a fetch fails, while git-upload-pack
	// waits for its output to be read. A local repository is the user's
	// own disk; a network peer is cut off at once.
	drain bool
}

// PackfileWriter implements storer.PackfileWriter.
func (s *storage) PackfileWriter() (io.WriteCloser, error) {
	return &packWriter{s: s}, nil
}

// packWriter keeps a packfile within Limits.Pack and, once whole, checks
// it against the other limits before storing its objects.
type packWriter struct {
	s   *storage
	buf bytes.Buffer
	err error // the packfile is over the limit
}

func (w *packWriter) Write(p []byte) (int, error) {
	if w.err == nil && int64(w.buf.Len())+int64(len(p)) > w.s.limits.Pack {
		w.err = fmt.Errorf("reading the packfile: %w: more than %d bytes", gitremote.ErrTooLarge, w.s.limits.Pack)
		w.buf = bytes.Buffer{}
	}
	switch {
	case w.err != nil && w.s.drain:
		return len(p), nil
	case w.err != nil:
		return 0, w.err
	}
	return w.buf.Write(p)
}

func (w *packWriter) Close() error {
	if w.err != nil {
		return w.err
	}
	if err := checkPack(bytes.NewReader(w.buf.Bytes()), w.s.limits); err != nil {
		return err
	}
	return packfile.UpdateObjectStorage(w.s.Storage, bytes.NewReader(w.buf.Bytes()))
}

// checkPack reads a packfile's headers and refuses one whose objects,
// inflated, would pass limits. A delta's object is as large as the delta
// says its target is, which is read from the delta's first bytes. Each
// object is inflated into a counter only, after its declared size was
// found within the limit, so checking costs no memory and time in
// proportion to what is allowed.
func checkPack(r io.Reader, limits Limits) error {
	sc := packfile.NewScanner(r)
	_, count, err := sc.Header()
	if err != nil {
		return fmt.Errorf("reading the packfile: %w", err)
	}
	if int64(count) > int64(limits.Objects) {
		return fmt.Errorf("reading the packfile: %w: %d objects, more than %d", gitremote.ErrTooLarge, count, limits.Objects)
	}
	var total int64
	for range count {
		h, err := sc.NextObjectHeader()
		if err != nil {
			return fmt.Errorf("reading the packfile: %w", err)
		}
		size := h.Length
		if size > limits.Object {
			return fmt.Errorf("reading the packfile: %w: an object of %d bytes, more than %d", gitremote.ErrTooLarge, size, limits.Object)
		}
		if h.Type == plumbing.OFSDeltaObject || h.Type == plumbing.REFDeltaObject {
			if size, err = deltaTarget(sc); err != nil {
				return err
			}
			if size > limits.Object {
				return fmt.Errorf("reading the packfile: %w: a delta makes an object of %d bytes, more than %d", gitremote.ErrTooLarge, size, limits.Object)
			}
		}
		if total += size; total > limits.Total {
			return fmt.Errorf("reading the packfile: %w: its objects hold more than %d bytes", gitremote.ErrTooLarge, limits.Total)
		}
	}
	return nil
}

// deltaTarget reads the delta the scanner is at and returns the size of
// the object it makes: the second of the two sizes it starts with.
func deltaTarget(sc *packfile.Scanner) (int64, error) {
	var head headWriter
	if _, _, err := sc.NextObject(&head); err != nil {
		return 0, fmt.Errorf("reading the packfile: %w", err)
	}
	b := head.buf[:head.n]
	if _, b = leb128(b); b == nil {
		return 0, fmt.Errorf("reading the packfile: %w", errBadDelta)
	}
	target, rest := leb128(b)
	if rest == nil {
		return 0, fmt.Errorf("reading the packfile: %w", errBadDelta)
	}
	return target, nil
}

var errBadDelta = errors.New("a delta without its sizes")

// leb128 decodes the little-endian base-128 number b starts with; rest is
// nil when b holds no whole number, or one beyond 2^62.
func leb128(b []byte) (n int64, rest []byte) {
	for i, shift := 0, 0; i < len(b) && shift < 63; i, shift = i+1, shift+7 {
		n |= int64(b[i]&0x7f) << shift
		if b[i]&0x80 == 0 {
			if n < 0 {
				return 0, nil
			}
			return n, b[i+1:]
		}
	}
	return 0, nil
}

// headWriter keeps the first bytes written to it and counts the rest away.
type headWriter struct {
	buf [20]byte
	n   int
}

func (w *headWriter) Write(p []byte) (int, error) {
	w.n += copy(w.buf[w.n:], p)
	return len(p), nil
}
