package engine

import (
	"context"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/slipwayhq/slipway/internal/short"
)

// DefaultPoll is how often Wait reads the engine's objects: a nudged
// commit is applied within about a second, and every tenth of one a
// verdict would wait for a poll is a tenth on every GitOps deploy. The
// reads are GETs of one or two objects, for that second.
const DefaultPoll = 100 * time.Millisecond

// Descends says whether commit descends from ancestor in the environment
// repository's branch: gitops.Repo.Descends of a Repo opened anew.
type Descends func(ctx context.Context, commit, ancestor string) (bool, error)

// Wait reads k and its GitRepository every Poll until Classify gives a
// final Outcome for commit, or Timeout passes (then it is NotPickedUp,
// unless our commit was seen). descends, when not nil, tells a newer
// commit (Superseded) from an older one the source has not moved past;
// each commit is asked about once. An error reading the objects ends the
// wait; ctx's end is an error too.
func (f *Flux) Wait(ctx context.Context, k Kustomization, commit string, descends Descends) (Outcome, error) {
	deadline := time.Now().Add(or(f.Timeout, 2*time.Minute))
	tick := time.NewTicker(or(f.Poll, DefaultPoll))
	defer tick.Stop()
	asked := map[string]bool{}
	for {
		s, err := f.status(ctx, k)
		if err != nil {
			return Outcome{}, fmt.Errorf("waiting for %s to apply %s: %w", k, short.Commit(commit), err)
		}
		if s.Newer, err = newer(ctx, s, commit, descends, asked); err != nil {
			return Outcome{}, fmt.Errorf("waiting for %s to apply %s: %w", k, short.Commit(commit), err)
		}
		s.Expired = !time.Now().Before(deadline)
		if o := Classify(s, commit); o.Final() {
			return o, nil
		}
		select {
		case <-ctx.Done():
			return Outcome{}, fmt.Errorf("waiting for %s to apply %s: %w", k, short.Commit(commit), ctx.Err())
		case <-tick.C:
		}
	}
}

// newer returns the commit of the Kustomization or its source that
// descends from ours (see descendant).
func newer(ctx context.Context, s Status, commit string, descends Descends, asked map[string]bool) (string, error) {
	return descendant(ctx, []string{s.Attempted, s.Source}, commit, descends, asked)
}

// status reads what Classify needs of k and its GitRepository.
func (f *Flux) status(ctx context.Context, k Kustomization) (Status, error) {
	ku, err := f.Client.Resource(KustomizationGVR).Namespace(k.Namespace).Get(ctx, k.Name, metav1.GetOptions{})
	if err != nil {
		return Status{}, fmt.Errorf("reading Kustomization %s: %w", k, err)
	}
	var s Status
	s.Suspended, _, _ = unstructured.NestedBool(ku.Object, "spec", "suspend")
	s.Attempted, _, _ = unstructured.NestedString(ku.Object, "status", "lastAttemptedRevision")
	s.Applied, _, _ = unstructured.NestedString(ku.Object, "status", "lastAppliedRevision")
	s.Ready, s.Reconciling = conditionOf(ku, "Ready"), conditionOf(ku, "Reconciling")
	src, err := f.Client.Resource(GitRepositoryGVR).Namespace(k.SourceNamespace).Get(ctx, k.SourceName, metav1.GetOptions{})
	if isNotFound(err) {
		s.SourceReady = Condition{Status: "False", Reason: "NotFound", Message: "GitRepository " + k.SourceNamespace + "/" + k.SourceName + " does not exist"}
		return s, nil
	}
	if err != nil {
		return Status{}, fmt.Errorf("reading GitRepository %s/%s: %w", k.SourceNamespace, k.SourceName, err)
	}
	s.Source, _, _ = unstructured.NestedString(src.Object, "status", "artifact", "revision")
	s.SourceReady = conditionOf(src, "Ready")
	return s, nil
}

// conditionOf is u's status condition of type typ, the zero Condition
// when it has none.
func conditionOf(u *unstructured.Unstructured, typ string) Condition {
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conds {
		m, ok := c.(map[string]any)
		if !ok || m["type"] != typ {
			continue
		}
		str := func(k string) string { s, _ := m[k].(string); return s }
		return Condition{Status: str("status"), Reason: str("reason"), Message: str("message")}
	}
	return Condition{}
}

func isNotFound(err error) bool { return err != nil && apierrors.IsNotFound(err) }

func or(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}
