package promote

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/slipwayhq/slipway/internal/registry"
	"github.com/slipwayhq/slipway/internal/testenv"
	"github.com/slipwayhq/slipway/internal/testutil"
)

// completeAt reads what tag points at in c's repository app, and every
// manifest and blob under it (ggcr checks each digest as it reads).
func completeAt(c *registry.Client, app, tag string) (v1.Hash, error) {
	repo, err := c.Repo(app)
	if err != nil {
		return v1.Hash{}, err
	}
	return testutil.ReadComplete(repo.Tag(tag), c.RemoteOptions(context.Background())...)
}

// TestRacePromotions runs two promotions into one target registry at once,
// on Debian's docker-registry: of two versions (both land, complete, each
// under its own tag), and of one version from two sources holding
// different images (exactly one lands, complete, and the other fails with
// a *registry.TagConflictError).
func TestRacePromotions(t *testing.T) {
	isolate(t)
	devA := testenv.StartRegistry(t, testenv.RegistryOptions{})
	devB := testenv.StartRegistry(t, testenv.RegistryOptions{})
	rc := testenv.StartRegistry(t, testenv.RegistryOptions{})
	newClient := func(name string, reg *testenv.Registry) *registry.Client {
		c, err := registry.New(registry.Options{Registry: reg.Config(name, "team")})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	fromA, fromB, to := newClient("dev", devA), newClient("other", devB), newClient("rc", rc)

	tests := []struct {
		name string
		// versions promoted from A and from B; equal means a conflict.
		versionA, versionB string
	}{
		{"two versions", "1.0.0", "1.1.0"},
		{"one version, two images", "2.0.0", "2.0.0"},
	}
	var tally testutil.FaultTally
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for try := range 3 {
				tally.Tries++
				app := fmt.Sprintf("race%d-%d", len(tc.name), try)
				// Shared layers too: both copies mount or skip the same blobs.
				digA := push(t, fromA, app, tc.versionA, randomImage(t, 256<<10, 3))
				digB := push(t, fromB, app, tc.versionB, randomImage(t, 256<<10, 3))
				opts := []Options{
					{From: fromA, To: to, App: app, Version: tc.versionA, Record: &Record{Who: "a"}},
					{From: fromB, To: to, App: app, Version: tc.versionB, Record: &Record{Who: "b"}},
				}
				errs := make([]error, 2)
				start := time.Now()
				var wg sync.WaitGroup
				for i := range opts {
					wg.Add(1)
					go func() {
						defer wg.Done()
						_, errs[i] = Promote(context.Background(), opts[i])
					}()
				}
				wg.Wait()
				tally.Recovered(time.Since(start))

				if tc.versionA != tc.versionB {
					ok := true
					for i, want := range []struct {
						v string
						d v1.Hash
					}{{tc.versionA, digA}, {tc.versionB, digB}} {
						got, err := completeAt(to, app, want.v)
						if errs[i] != nil || err != nil || got != want.d {
							ok = false
							if err != nil || got != want.d {
								tally.Lost++
							}
							t.Errorf("try %d: %s: promote %v; target %s, %v; want %s", try, want.v, errs[i], got, err, want.d)
						}
					}
					if ok {
						tally.Correct++
					}
					continue
				}
				got, err := completeAt(to, app, tc.versionA)
				if err != nil {
					tally.Lost++
					t.Errorf("try %d: the tag is not a complete image: %v", try, err)
					continue
				}
				var winners []v1.Hash
				for i, e := range errs {
					var tce *registry.TagConflictError
					switch {
					case e == nil:
						winners = append(winners, []v1.Hash{digA, digB}[i])
					case errors.As(e, &tce) && tce.Existing == got:
						t.Logf("try %d: %s lost: %v", try, opts[i].Record.Who, e)
					default:
						t.Errorf("try %d: %s: %v (the tag points at %s)", try, opts[i].Record.Who, e, got)
					}
				}
				switch {
				case len(winners) == 1 && winners[0] == got:
					tally.Correct++
				case len(winners) == 2:
					tally.Lost++
					t.Errorf("try %d: both promotions succeeded; the tag points at %s", try, got)
				default:
					t.Errorf("try %d: winners %v, errors %v, tag at %s", try, winners, errs, got)
				}
			}
		})
	}
	tally.Row(t, "promote: two promotions into one target at once")
}

// TestFailedTagLeavesNoVersionTag: the target refuses the commit tag; the
// promotion fails, and the version tag, written last, is not there (with
// --force too).
func TestFailedTagLeavesNoVersionTag(t *testing.T) {
	isolate(t)
	refuse := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/manifests/git-") {
				w.WriteHeader(http.StatusInternalServerError)
				return
			}
			h.ServeHTTP(w, r)
		})
	}
	for _, force := range []bool{false, true} {
		dev, rc := newServer(t, false, nil), newServer(t, false, refuse)
		from, to := client(t, dev, "dev", "team"), client(t, rc, "rc", "team")
		img := randomImage(t, 512, 1)
		push(t, from, "hello", "1.0.0", img)
		push(t, from, "hello", "git-0123456", img)
		_, err := Promote(context.Background(), Options{From: from, To: to, App: "hello", Version: "1.0.0",
			Commit: "0123456789abcdef0123456789abcdef01234567", Force: force})
		if err == nil {
			t.Fatalf("force %v: the promotion succeeded though the commit tag was refused", force)
		}
		if exists(t, to, "hello", "1.0.0") {
			t.Errorf("force %v: the promotion failed (%v) and left the version tag", force, err)
		}
	}
}
