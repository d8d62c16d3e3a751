package deploy

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
)

// ErrNoRevision is matched when there is no revision to roll back to.
var ErrNoRevision = errors.New("no earlier revision to roll back to")

// PreviousRevision picks, among a Deployment's ReplicaSets, the one with
// the highest revision below current: what ran before the current
// rollout. A current of 0 or less (the rollout never got a ReplicaSet of
// its own) picks the highest revision: what still runs. ReplicaSets
// without a revision are skipped. The result points into rss.
func PreviousRevision(rss []appsv1.ReplicaSet, current int64) (*appsv1.ReplicaSet, bool) {
	var found *appsv1.ReplicaSet
	var best int64
	for i := range rss {
		r := replicaSetRevision(&rss[i])
		if r <= 0 || (current > 0 && r >= current) {
			continue
		}
		if found == nil || r > best {
			found, best = &rss[i], r
		}
	}
	return found, found != nil
}

// Rollback sets the Deployment's pod template back to the template of the
// ReplicaSet to, as kubectl rollout undo does, and returns the Deployment
// generation that produced, for Wait. It also restores the annotations
// that describe what runs: every slipway.dev/ annotation and
// kubernetes.io/change-cause, taken from to (the controller copies a
// Deployment's annotations to its ReplicaSets); those to lacks are dropped.
//
// It is a server-side apply, forced, by fieldManager (default
// FieldManager) of what that manager already owns with only the template
// and those annotations changed, so the rest of the Deployment (replicas,
// strategy, selector, labels) stays as it is and the rolled-back fields
// stay owned by the manager that applies the Deployment: the next deploy's
// apply replaces them without conflicts, and fields only the old template
// had disappear with it. (An update would hand them to another manager,
// and the next apply would conflict with it or leave its fields behind.)
// The apply carries the resourceVersion it read, so a concurrent change
// makes it re-read and retry.
func Rollback(ctx context.Context, c kubernetes.Interface, ns, name string, to *appsv1.ReplicaSet, fieldManager string) (generation int64, err error) {
	return RollbackRecorded(ctx, c, ns, name, to, fieldManager, nil)
}

// RollbackRecorded is Rollback that also sets the annotations in record
// (who rolled back, when, why) in the same apply, so they stay owned by the
// manager that applies the Deployment and the next deploy's apply replaces
// them without a conflict.
func RollbackRecorded(ctx context.Context, c kubernetes.Interface, ns, name string, to *appsv1.ReplicaSet, fieldManager string, record map[string]string) (generation int64, err error) {
	if to == nil {
		return 0, fmt.Errorf("rolling back deployment %s/%s: %w", ns, name, ErrNoRevision)
	}
	fieldManager = cmp.Or(fieldManager, FieldManager)
	rev := replicaSetRevision(to)
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		d, err := c.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("reading deployment %s/%s: %w", ns, name, err)
		}
		if ref := metav1.GetControllerOf(to); ref != nil && ref.UID != d.UID {
			return fmt.Errorf("rolling back deployment %s/%s: replica set %s belongs to another deployment (%s)", ns, name, to.Name, ref.Name)
		}
		if d.Spec.Paused {
			return fmt.Errorf("rolling back deployment %s/%s: it is paused; resume it first: kubectl rollout resume -n %s deployment/%s", ns, name, ns, name)
		}
		ac, err := rollbackConfig(d, to, fieldManager, record)
		if err != nil {
			return fmt.Errorf("rolling back deployment %s/%s: %w", ns, name, err)
		}
		got, err := c.AppsV1().Deployments(ns).Apply(ctx, ac, metav1.ApplyOptions{FieldManager: fieldManager, Force: true})
		if err != nil {
			return fmt.Errorf("rolling back deployment %s/%s to revision %d: %w", ns, name, rev, err)
		}
		generation = got.Generation
		return nil
	})
	return generation, err
}

// rollbackConfig is what fieldManager owns of d, with the pod template and
// the describing annotations of to, then record's annotations.
func rollbackConfig(d *appsv1.Deployment, to *appsv1.ReplicaSet, fieldManager string, record map[string]string) (*appsv1ac.DeploymentApplyConfiguration, error) {
	ac, err := appsv1ac.ExtractDeployment(d, fieldManager)
	if err != nil {
		return nil, fmt.Errorf("extracting the fields %s owns: %w", fieldManager, err)
	}
	tmpl := to.Spec.Template.DeepCopy()
	delete(tmpl.Labels, appsv1.DefaultDeploymentUniqueLabelKey)
	tac, err := asApplyConfiguration[*corev1ac.PodTemplateSpecApplyConfiguration](tmpl)
	if err != nil {
		return nil, fmt.Errorf("reading the pod template of %s: %w", to.Name, err)
	}
	if ac.Spec == nil {
		ac.WithSpec(appsv1ac.DeploymentSpec())
	}
	ac.Spec.Template = tac

	if ac.ObjectMetaApplyConfiguration != nil {
		for k := range ac.Annotations {
			if restoredAnnotation(k) {
				delete(ac.Annotations, k)
			}
		}
	}
	restore := map[string]string{}
	for k, v := range to.Annotations {
		if restoredAnnotation(k) {
			restore[k] = v
		}
	}
	maps.Copy(restore, record)
	if len(restore) > 0 {
		ac.WithAnnotations(restore)
	}
	ac.WithResourceVersion(d.ResourceVersion)
	return ac, nil
}

// restoredAnnotation reports whether a rollback takes annotation k from
// the ReplicaSet rolled back to. The records of the last checks and of a
// canary's last analysis (check.AnnotationAnalysis) are not: they say
// what happened last, the failure that led to the rollback included, and
// their own managers own them.
func restoredAnnotation(k string) bool {
	if k == AnnotationChecks || k == "slipway.dev/analysis" {
		return false
	}
	return strings.HasPrefix(k, "slipway.dev/") || k == AnnotationCause
}
