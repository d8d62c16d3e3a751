package registry

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Bounds of one tag listing, whose pages a registry chains with Link
// headers as it likes: each page is a small document (MaxDocumentSize,
// Timeouts.Document), and the listing as a whole has these.
const (
	// DefaultTagPages bounds the pages followed.
	DefaultTagPages = 100
	// DefaultTagBytes bounds the bytes of tags read, kept or not.
	DefaultTagBytes = 16 << 20
	// DefaultTagListTime bounds the time the listing takes in all.
	DefaultTagListTime = time.Minute
)

// TagListOptions say which tags ListTags keeps and bound the listing;
// zero fields take the defaults.
type TagListOptions struct {
	// Keep picks the tags to return (default: all). Tags not kept are
	// counted against MaxBytes all the same.
	Keep func(tag string) bool
	// MaxPages bounds the pages followed (default DefaultTagPages).
	MaxPages int
	// MaxBytes bounds the bytes of tags read (default DefaultTagBytes).
	MaxBytes int64
	// MaxTime bounds the whole listing (default DefaultTagListTime).
	MaxTime time.Duration
}

// ListTags lists the tags of repo with p, following the registry's Link
// pages within o's bounds: never to a page it has read already, at most
// MaxPages pages and MaxBytes of tags, within MaxTime. A listing that
// passes a bound is an error matching ErrTooLarge, without the tags read
// so far: a registry that chains pages back to themselves would otherwise
// make a listing grow without end.
func ListTags(ctx context.Context, p *remote.Puller, repo name.Repository, o TagListOptions) ([]string, error) {
	o.MaxPages, o.MaxBytes = cmp.Or(o.MaxPages, DefaultTagPages), cmp.Or(o.MaxBytes, DefaultTagBytes)
	o.MaxTime = cmp.Or(o.MaxTime, DefaultTagListTime)
	slow := &BoundError{What: fmt.Sprintf("listing the tags of %s took longer", repo), Bound: o.MaxTime.String() + " of listing tags"}
	ctx, cancel := context.WithTimeoutCause(ctx, o.MaxTime, slow)
	defer cancel()
	bound := func(err error) error {
		if ctx.Err() != nil && errors.Is(context.Cause(ctx), ErrTooLarge) {
			return context.Cause(ctx)
		}
		return err
	}
	l, err := p.Lister(ctx, repo)
	if err != nil {
		return nil, bound(err)
	}
	first := url.URL{Scheme: repo.Scheme(), Host: repo.RegistryStr(), Path: "/v2/" + repo.RepositoryStr() + "/tags/list"}
	seen := map[string]bool{first.String(): true}
	var kept []string
	var read int64
	for pages := 1; ; pages++ {
		page, err := l.Next(ctx)
		if err != nil {
			return nil, bound(err)
		}
		for _, t := range page.Tags {
			// The tag, its quotes and a comma: what it took to send.
			if read += int64(len(t)) + 3; read > o.MaxBytes {
				return nil, &BoundError{What: fmt.Sprintf("the tags of %s run past %d bytes", repo, o.MaxBytes), Bound: fmt.Sprintf("%d bytes of tags", o.MaxBytes)}
			}
			if o.Keep == nil || o.Keep(t) {
				kept = append(kept, t)
			}
		}
		switch {
		case !l.HasNext():
			return kept, nil
		case pages >= o.MaxPages:
			return nil, &BoundError{What: fmt.Sprintf("the tags of %s run past %d pages", repo, o.MaxPages), Bound: fmt.Sprintf("%d pages of tags", o.MaxPages)}
		case seen[page.Next]:
			return nil, &BoundError{What: fmt.Sprintf("the tags of %s link back to a page read before", repo), Bound: "each page of tags once"}
		}
		seen[page.Next] = true
	}
}
