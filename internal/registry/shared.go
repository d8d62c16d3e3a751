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
// no good answer asks, and settles it; requests meanwhile wait for it and
// share its outcome: the answer, or the error it failed with, unless it
// failed for its own sake (its context ended), when they ask again. At
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
	err   error     // why it failed, for the requests that waited
	waits int       // requests that waited for it (under shared.mu)
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
		a.waits++
		s.mu.Unlock()
		select {
		case <-a.done:
		case <-ctx.Done():
			return nil, false, ctx.Err()
		}
		if a.ok {
			return a, false, nil
		}
		if a.err != nil {
			return nil, false, a.err
		}
		// The one asked first gave up for its own sake, or got an answer
		// only it could read: ask again, from the start.
	}
}

// settle ends the asking of a for key: kept with v until until (zero: for
// the life of the command).
func (s *shared[V]) settle(a *answer[V], v V, until time.Time) {
	s.mu.Lock()
	a.ok, a.v, a.until = true, v, until
	s.mu.Unlock()
	close(a.done)
}

// fail ends the asking of a for key without an answer, forgotten so that
// the next request asks: the requests that waited for it get err, or,
// when err is nil, ask again themselves. asked is the context of the
// request that asked: when it ended, the failure was its own (a
// cancellation, its deadline), and the others ask again.
func (s *shared[V]) fail(key string, a *answer[V], asked context.Context, err error) {
	s.mu.Lock()
	if asked.Err() == nil {
		a.err = err
	}
	if s.m[key] == a {
		delete(s.m, key)
	}
	s.mu.Unlock()
	close(a.done)
}

// value is key's settled answer, when it has a good one.
func (s *shared[V]) value(key string) (V, bool) {
	s.mu.Lock()
	a, known := s.m[key]
	s.mu.Unlock()
	var zero V
	if !known {
		return zero, false
	}
	select {
	case <-a.done:
		if a.ok {
			return a.v, true
		}
	default:
	}
	return zero, false
}

// drop forgets the settled answers that match says to, so that the next
// request for them asks again.
func (s *shared[V]) drop(match func(V) bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, a := range s.m {
		select {
		case <-a.done:
			if a.ok && match(a.v) {
				delete(s.m, k)
			}
		default:
		}
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
