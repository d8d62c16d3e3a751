package deploy

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// TestWatchReopens checks that Wait's watches outlive an API server that
// goes away: a watch that closes is opened again, tries that fail (the
// server still down) are repeated, and once a watch is open again the
// loop is woken, since what changed meanwhile was missed.
func TestWatchReopens(t *testing.T) {
	tests := []struct {
		name  string
		fails int // tries that fail after the first watch closes
	}{
		{"closed and opened at once", 0},
		{"server down for a few tries", 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := fake.NewClientset()
			var mu sync.Mutex
			opened, failed := 0, 0
			watchers := make(chan *watch.FakeWatcher, 10)
			c.PrependWatchReactor("deployments", func(k8stesting.Action) (bool, watch.Interface, error) {
				mu.Lock()
				defer mu.Unlock()
				if opened == 1 && failed < tc.fails {
					failed++
					return true, nil, errors.New("connect: connection refused")
				}
				opened++
				w := watch.NewFake()
				watchers <- w
				return true, w, nil
			})
			c.PrependWatchReactor("pods", func(k8stesting.Action) (bool, watch.Interface, error) {
				return true, nil, errors.New("no pod watches in this test")
			})
			w := waiter{c: c, o: WaitOptions{Namespace: "ns", Name: "app", Poll: 5 * time.Millisecond}}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			wake := make(chan struct{}, 1)
			d := &appsv1.Deployment{Spec: appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "app"}}}}
			w.watch(ctx, d, wake)

			first := receive(t, watchers)
			first.Modify(&appsv1.Deployment{})
			waitWake(t, wake, "an event")
			first.Stop() // the API server went away: the stream ends
			second := receive(t, watchers)
			waitWake(t, wake, "the watch opened again")
			second.Modify(&appsv1.Deployment{})
			waitWake(t, wake, "an event on the new watch")
			mu.Lock()
			defer mu.Unlock()
			if opened != 2 || failed != tc.fails {
				t.Errorf("opened %d watches after %d failed tries; want 2 after %d", opened, failed, tc.fails)
			}
		})
	}
}

func receive(t *testing.T, ch <-chan *watch.FakeWatcher) *watch.FakeWatcher {
	t.Helper()
	select {
	case w := <-ch:
		return w
	case <-time.After(10 * time.Second):
		t.Fatal("no watch was opened")
		return nil
	}
}

func waitWake(t *testing.T, wake <-chan struct{}, why string) {
	t.Helper()
	select {
	case <-wake:
	case <-time.After(10 * time.Second):
		t.Fatalf("not woken by %s", why)
	}
}
