package deploy

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	k8stesting "k8s.io/client-go/testing"

	"github.com/slipwayhq/slipway/internal/progress"
	"github.com/slipwayhq/slipway/internal/remedy"
)

// deployOptions deploys 1.2.3 of examples/hello-go to dev, under the lock.
func deployOptions(t *testing.T, c *Cluster) Options {
	t.Helper()
	p, pod := example(t)
	env, err := p.Environment("dev")
	if err != nil {
		t.Fatal(err)
	}
	return Options{
		Render:  RenderInput{Project: p, Env: env, Pod: pod, Image: "127.0.0.1:5000/team/hello@" + digest, Version: "1.2.3"},
		Cluster: c, Timeout: time.Minute, Who: "alice",
		Lock: &LockOptions{Holder: Holder{Identity: "alice-id", Who: "alice"}},
	}
}

// devLease is the holder of dev's lock, "" when free.
func devLease(t *testing.T, c *Cluster) string {
	t.Helper()
	l, err := c.Client.CoordinationV1().Leases("hello-dev").Get(context.Background(), "slipway-lock-hello-dev", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return holderID(l)
}

// TestDeployInterrupted cancels a deploy's context while it waits for the
// rollout: it stops, says the rollout continues in the cluster and what
// to do next, and releases the lock.
func TestDeployInterrupted(t *testing.T) {
	c, _ := lockCluster(t)
	o := deployOptions(t, c)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	o.Progress = progress.Func(func(e progress.Event) {
		if e.Step == "rollout" {
			cancel() // the rollout has begun: the first Ctrl-C
		}
	})
	done := make(chan error, 1)
	go func() {
		_, err := Deploy(ctx, o)
		done <- err
	}()
	var err error
	select {
	case err = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Deploy did not stop when interrupted")
	}
	var ie *InterruptedError
	if !errors.As(err, &ie) || !errors.Is(err, context.Canceled) || !errors.Is(err, ErrInterrupted) {
		t.Fatalf("Deploy = %v, want an InterruptedError matching context.Canceled", err)
	}
	for _, want := range []string{"interrupted: the rollout of 1.2.3 to dev", "continues in the cluster", "not rolled back",
		"released the lock of dev"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q does not say %q", err, want)
		}
	}
	if r, want := ie.Remedy(), (remedy.Remedy{Kind: remedy.FollowDeploy, Env: "dev"}); r != want {
		t.Errorf("Remedy = %+v, want %+v", r, want)
	}
	if h := devLease(t, c); h != "" {
		t.Errorf("lock still held by %q", h)
	}
	// The Deployment stays as applied: nothing was rolled back.
	if _, err := c.Client.AppsV1().Deployments("hello-dev").Get(context.Background(), "hello", metav1.GetOptions{}); err != nil {
		t.Errorf("the Deployment is gone: %v", err)
	}
}

// TestDeployLock checks that a deploy takes the lock, fails fast when
// another run holds it without changing anything, and releases it when it
// fails.
func TestDeployLock(t *testing.T) {
	t.Run("held by another", func(t *testing.T) {
		c, cs := lockCluster(t)
		o := deployOptions(t, c)
		first, err := c.Lock(context.Background(), LockOptions{Namespace: "hello-dev", Name: "slipway-lock-hello-dev", CreateNamespace: true,
			Holder: Holder{Identity: "bob-id", Who: "bob", Operation: "deploy", Env: "dev", Version: "1.2.2"}})
		if err != nil {
			t.Fatal(err)
		}
		defer first.Release(context.Background())
		_, err = Deploy(context.Background(), o)
		if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "held by bob, deploying 1.2.2 to dev, since") {
			t.Errorf("Deploy = %v, want ErrLocked naming bob", err)
		}
		for _, a := range cs.Actions() {
			if a.GetResource().Resource == "deployments" {
				t.Errorf("touched a Deployment without the lock: %s", a.GetVerb())
			}
		}
	})
	t.Run("released on failure", func(t *testing.T) {
		c, cs := lockCluster(t)
		cs.PrependReactor("patch", "deployments", func(k8stesting.Action) (bool, runtime.Object, error) {
			return true, nil, apierrors.NewForbidden(schema.GroupResource{Group: "apps", Resource: "deployments"}, "hello", errors.New("no"))
		})
		_, err := Deploy(context.Background(), deployOptions(t, c))
		if !errors.Is(err, ErrClusterAuth) {
			t.Fatalf("Deploy = %v, want the apply refused", err)
		}
		if h := devLease(t, c); h != "" {
			t.Errorf("lock still held by %q after a failure", h)
		}
	})
	t.Run("lost to --break-lock", func(t *testing.T) {
		c, _ := lockCluster(t)
		o := deployOptions(t, c)
		o.Lock.Renew = 20 * time.Millisecond
		broke := make(chan struct{})
		o.Progress = progress.Func(func(e progress.Event) {
			if e.Step == "rollout" {
				select {
				case <-broke:
				default:
					close(broke)
				}
			}
		})
		done := make(chan error, 1)
		go func() {
			_, err := Deploy(context.Background(), o)
			done <- err
		}()
		<-broke
		bob, err := c.Lock(context.Background(), LockOptions{Namespace: "hello-dev", Name: "slipway-lock-hello-dev",
			Holder: Holder{Identity: "bob-id", Who: "bob"}, Break: true, Reason: "urgent fix"})
		if err != nil {
			t.Fatal(err)
		}
		defer bob.Release(context.Background())
		select {
		case err = <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("Deploy went on waiting without the lock")
		}
		if !errors.Is(err, ErrLockLost) || !strings.Contains(err.Error(), "by bob") {
			t.Errorf("Deploy = %v, want ErrLockLost naming bob", err)
		}
		if h := devLease(t, c); h != "bob-id" {
			t.Errorf("lock held by %q, want still bob's", h)
		}
	})
}

// TestUndoLock checks that a rollback takes the same lock: refused while
// another run holds it, released when it fails.
func TestUndoLock(t *testing.T) {
	c, cs := lockCluster(t)
	lo := &LockOptions{Name: "slipway-lock-hello-prod", Holder: Holder{Identity: "alice-id", Who: "alice"}}
	bob, err := c.Lock(context.Background(), LockOptions{Namespace: "hello", Name: "slipway-lock-hello-prod",
		Holder: Holder{Identity: "bob-id", Who: "bob", Operation: "deploy", Env: "prod", Version: "2.0.0"}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Undo(context.Background(), "hello", "hello", UndoOptions{Lock: lo})
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "held by bob, deploying 2.0.0 to prod") {
		t.Errorf("Undo = %v, want ErrLocked naming bob", err)
	}
	for _, a := range cs.Actions() {
		if r := a.GetResource().Resource; r == "deployments" || r == "replicasets" {
			t.Errorf("read %s without the lock", r)
		}
	}
	_ = bob.Release(context.Background())
	// Free now; there is no Deployment to roll back, and the lock is let go.
	if _, err := c.Undo(context.Background(), "hello", "hello", UndoOptions{Lock: lo}); err == nil {
		t.Error("Undo of a missing Deployment succeeded")
	}
	l, err := cs.CoordinationV1().Leases("hello").Get(context.Background(), "slipway-lock-hello-prod", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if h := holderID(l); h != "" {
		t.Errorf("lock still held by %q after a failed rollback", h)
	}
}
