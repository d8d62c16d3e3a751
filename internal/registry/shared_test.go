package registry

import (
	"context"
	"errors"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

// TestSharedWaitersShareTheFailure: requests waiting for a version check
// that fails (a timeout, a refused connection) get its error, without
// asking again one after another; when the one asked first gave up for
// its own sake (its context ended), the others ask.
func TestSharedWaitersShareTheFailure(t *testing.T) {
	for _, own := range []bool{false, true} {
		var calls atomic.Int32
		started, release := make(chan struct{}), make(chan struct{})
		ctx, cancel := context.WithCancel(context.Background())
		next := roundTripFunc(func(r *http.Request) (*http.Response, error) {
			if calls.Add(1) == 1 {
				close(started)
				<-release
				if own {
					cancel()
					return nil, r.Context().Err()
				}
				return nil, errors.New("no answer within 30s")
			}
			return &http.Response{StatusCode: http.StatusOK, Header: http.Header{}, Body: http.NoBody, Request: r}, nil
		})
		m := &pingMemo{next: next, p: &pings{}}
		first, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://reg.test/v2/", nil)
		var wg sync.WaitGroup
		wg.Go(func() { _, _ = m.RoundTrip(first) })
		<-started
		errs := make(chan error, 4)
		for range 4 {
			wg.Go(func() {
				req, _ := http.NewRequest(http.MethodGet, "http://reg.test/v2/", nil)
				_, err := m.RoundTrip(req)
				errs <- err
			})
		}
		for !waiting(&m.p.answers, "http://reg.test", 4) {
			runtime.Gosched()
		}
		close(release)
		wg.Wait()
		close(errs)
		for err := range errs {
			if own && err != nil {
				t.Errorf("after the first check was cancelled, a waiting one failed: %v", err)
			}
			if !own && (err == nil || err.Error() != "no answer within 30s") {
				t.Errorf("a waiting check got %v, want the first one's error", err)
			}
		}
		want := map[bool]int32{false: 1, true: 2}[own]
		if n := calls.Load(); n != want {
			t.Errorf("cancelled first: %v: %d checks reached the registry, want %d", own, n, want)
		}
		cancel()
	}
}

// waiting reports whether at least n requests wait for key's answer.
func waiting[V any](s *shared[V], key string, n int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.m[key]
	return ok && a.waits >= n
}
