package gitremote

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/storage/memory"

	"github.com/slipwayhq/slipway/internal/deadline"
	"github.com/slipwayhq/slipway/internal/faultnet"
)

// listRefs asks the server at url for its refs, as a fetch or push starts.
func listRefs(ctx context.Context, url string) error {
	rem := git.NewRemote(memory.NewStorage(), &config.RemoteConfig{Name: "origin", URLs: []string{url}})
	_, err := rem.ListContext(ctx, &git.ListOptions{})
	return err
}

// pkt is one pkt-line.
func pkt(s string) string { return fmt.Sprintf("%04x%s", len(s)+4, s) }

// endlessRefs advertises refs without end, as fast as the client reads.
func endlessRefs() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-git-upload-pack-advertisement")
		const hash = "0123456789012345678901234567890123456789"
		_, _ = w.Write([]byte(pkt("# service=git-upload-pack\n") + "0000" + pkt(hash+" HEAD\x00multi_ack\n")))
		for i := 0; r.Context().Err() == nil; {
			var b strings.Builder
			for ; b.Len() < 64<<10; i++ {
				b.WriteString(pkt(fmt.Sprintf("%s refs/heads/b%d\n", hash, i)))
			}
			if _, err := w.Write([]byte(b.String())); err != nil {
				return
			}
		}
	})
}

// hugeError answers every request with status and an 8 MiB body.
func hugeError(status int) http.Handler {
	body := []byte(strings.Repeat("\x1b[2J hostile ", 8<<20/13))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(status)
		_, _ = w.Write(body)
	})
}

// TestTransportBounds holds go-git's HTTP transport to Slipway's bounds: a
// server cannot make an error message, or the memory behind it, as large
// as it likes, nor advertise refs without end, nor keep a client waiting
// for headers.
func TestTransportBounds(t *testing.T) {
	t.Run("an error body is cut", func(t *testing.T) {
		for _, status := range []int{http.StatusUnauthorized, http.StatusNotFound, http.StatusInternalServerError} {
			url := "http://" + faultnet.Serve(t, hugeError(status)) + "/team/env.git"
			var err error
			faultnet.Within(t, 0, func() { err = listRefs(context.Background(), url) })
			if err == nil {
				t.Fatalf("status %d: no error", status)
			}
			if n := len(err.Error()); n > MaxErrorBody+512 {
				t.Errorf("status %d: the error holds %d bytes", status, n)
			}
			if status == http.StatusUnauthorized && !IsAuthError(err) {
				t.Errorf("status 401: %v is not an auth error", Quote(err, nil))
			}
		}
	})
	t.Run("an endless list of refs", func(t *testing.T) {
		url := "http://" + faultnet.Serve(t, endlessRefs()) + "/team/env.git"
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		var err error
		faultnet.Within(t, 0, func() { err = listRefs(context.Background(), url) })
		runtime.ReadMemStats(&after)
		if !errors.Is(err, ErrTooLarge) {
			t.Fatalf("err = %v, want ErrTooLarge", Quote(err, nil))
		}
		grew := after.TotalAlloc - before.TotalAlloc
		t.Logf("reading the refs allocated %d MiB", grew>>20)
		if grew > 1<<30 {
			t.Errorf("reading the refs allocated %d MiB", grew>>20)
		}
	})
	t.Run("megabytes of headers", func(t *testing.T) {
		url := "http://" + faultnet.Serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			for i := 0; i < 64; i++ {
				w.Header().Add("X-Padding", strings.Repeat("x", 16<<10))
			}
			w.WriteHeader(http.StatusOK)
		})) + "/team/env.git"
		var err error
		faultnet.Within(t, 0, func() { err = listRefs(context.Background(), url) })
		if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "headers") {
			t.Fatalf("err = %v, want ErrTooLarge for the headers", Quote(err, nil))
		}
	})
	t.Run("a server that never answers", func(t *testing.T) {
		url := "http://" + faultnet.Silent(t) + "/team/env.git"
		ctx := deadline.WithContext(context.Background(), deadline.Timeouts{Headers: 200 * time.Millisecond})
		var err error
		faultnet.Within(t, 0, func() { err = listRefs(ctx, url) })
		if !errors.Is(err, deadline.ErrTimeout) || !strings.Contains(err.Error(), "listing refs") {
			t.Fatalf("err = %v, want a timeout while listing refs", err)
		}
	})
}
