package deploy

import (
	"context"
	"fmt"
	"strings"

	"github.com/pmezard/go-difflib/difflib"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// Diff shows what applying m would change: a server-side dry run of each
// object against what is live, as a unified diff. Secret values never
// appear. An empty string means nothing would change.
func (c *Cluster) Diff(ctx context.Context, m Manifests) (string, error) {
	var b strings.Builder
	for _, mf := range m.manifests() {
		live, err := c.live(ctx, mf)
		if err != nil {
			return "", err
		}
		after, err := c.apply(ctx, mf, ApplyOptions{DryRun: true})
		if err != nil {
			return "", err
		}
		from, to := diffText(live), diffText(after)
		if from == to {
			continue
		}
		d, err := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
			A: difflib.SplitLines(from), B: difflib.SplitLines(to),
			FromFile: "live " + mf.String(), ToFile: "slipway " + mf.String(), Context: 3,
		})
		if err != nil {
			return "", fmt.Errorf("diffing %s: %w", mf, err)
		}
		b.WriteString(d)
	}
	return b.String(), nil
}

// live returns m's object as it is in the cluster, or nil.
func (c *Cluster) live(ctx context.Context, m manifest) (runtime.Object, error) {
	got, err := retried(ctx, c, "reading "+m.String(), func(ctx context.Context) (runtime.Object, error) {
		return m.get(ctx, c.Client)
	})
	switch {
	case apierrors.IsNotFound(err):
		return nil, nil
	case err != nil:
		return nil, c.explain(err, "reading "+m.String())
	}
	return got, nil
}

// diffText is obj as shown (YAML, secret values redacted) without what
// the server alone maintains.
func diffText(obj runtime.Object) string {
	if obj == nil {
		return ""
	}
	obj = obj.DeepCopyObject()
	if a, ok := obj.(metav1.Object); ok {
		a.SetManagedFields(nil)
		a.SetResourceVersion("")
		a.SetUID("")
		a.SetGeneration(0)
		a.SetCreationTimestamp(metav1.Time{})
		ann := a.GetAnnotations()
		delete(ann, AnnotationRevision)
		a.SetAnnotations(ann)
	}
	y, err := shown(obj)
	if err != nil {
		return fmt.Sprintf("(cannot encode %T: %v)", obj, err)
	}
	return string(y)
}
