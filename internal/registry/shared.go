package registry

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// shared holds answers a command asks for once and shares between the
// requests that want the same one (pings, tokens): a request that finds
// no good answer asks, and settles it; requests meanwhile wait for it. At
// most maxPeers are remembered.
type shared[V any] struct {
	mu sync.Mutex
	m  map[string]*answer[V]
}

// answer is one shared answer; done is closed once it is settled.
type answer[V any] struct {
	done  chan struct{}
	ok    bool
	v     V
	until time.Time // zero: good for the life of the command
}

// get returns the good answer for key, waiting for one being asked, or,
// when there is none, a new answer for the caller to ask and settle
// (lead). now is the time answers are good at.
func (s *shared[V]) get(ctx context.Context, key string, now func() time.Time) (a *answer[V], lead bool, err error) {
	for {
		s.mu.Lock()
		a, known := s.m[key]
		if known {
			select {
			case <-a.done:
				known = a.ok && (a.until.IsZero() || now().Before(a.until))
			default: // being asked
			}
		}
		if !known {
			a = &answer[V]{done: make(chan struct{})}
			if _, had := s.m[key]; had || len(s.m) < maxPeers {
				if s.m == nil {
					s.m = map[string]*answer[V]{}
				}
				s.m[key] = a
			}
			s.mu.Unlock()
			return a, true, nil
		}
		s.mu.Unlock()
		select {
		case <-a.done:
		case <-ctx.Done():
			return nil, false, ctx.Err()
		}
		if a.ok {
			return a, false, nil
		}
		// The one asked first failed: ask again, from the start.
	}
}

// settle ends the asking of a for key: kept with v until until when ok,
// else forgotten so that the next request asks.
func (s *shared[V]) settle(key string, a *answer[V], v V, ok bool, until time.Time) {
	s.mu.Lock()
	if ok {
		a.ok, a.v, a.until = true, v, until
	} else if s.m[key] == a {
		delete(s.m, key)
	}
	s.mu.Unlock()
	close(a.done)
}

// good reports whether key has a settled answer that is ok.
func (s *shared[V]) good(key string) bool {
	s.mu.Lock()
	a, known := s.m[key]
	s.mu.Unlock()
	if !known {
		return false
	}
	select {
	case <-a.done:
		return a.ok
	default:
		return false
	}
}

// remembered is a response to r made from a remembered status, headers
// and body.
func remembered(r *http.Request, status int, header http.Header, body []byte) *http.Response {
	return &http.Response{
		Status:     fmt.Sprintf("%d %s", status, http.StatusText(status)),
		StatusCode: status,
		Proto:      "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:        header.Clone(),
		Body:          io.NopCloser(bytes.NewReader(body)),
		ContentLength: int64(len(body)),
		Request:       r,
	}
}
