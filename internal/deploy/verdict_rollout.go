package deploy

// The Deployment and its new ReplicaSet: generation, pause, progress
// deadline, pods the ReplicaSet cannot create, completeness and stability.

import (
	"cmp"
	"fmt"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// judgeDeployment fills v's counts from the Deployment, and reports
// whether the Deployment alone settles the verdict: the controller has not
// observed this generation yet, or the Deployment is paused.
func judgeDeployment(v *Verdict, o Observation) bool {
	d := o.Deployment
	v.Desired = 1
	if d.Spec.Replicas != nil {
		v.Desired = *d.Spec.Replicas
	}
	v.Updated = d.Status.UpdatedReplicas
	if old := d.Status.Replicas - d.Status.UpdatedReplicas; old > 0 {
		v.Old = old
	}
	gen := cmp.Or(o.Generation, d.Generation)
	if d.Status.ObservedGeneration < gen {
		// The counts are the previous generation's: none of it is updated.
		v.Updated, v.Old = 0, d.Status.Replicas
		v.Message = fmt.Sprintf("waiting for the deployment controller to observe generation %d of %s (it has seen %d)",
			gen, d.Name, d.Status.ObservedGeneration)
		return true
	}
	if d.Spec.Paused {
		v.Phase, v.Reason = PhaseFailed, ReasonPaused
		v.Message = fmt.Sprintf("Deployment %s is paused, so it will not roll out", d.Name)
		v.Hint = fmt.Sprintf("resume it: kubectl rollout resume -n %s deployment/%s", d.Namespace, d.Name)
		return true
	}
	return false
}

// judgeMissingReplicaSet judges a rollout whose new ReplicaSet is not
// there yet: it failed to be created, the deadline passed, or it is coming.
func judgeMissingReplicaSet(v *Verdict, d *appsv1.Deployment, progressing *appsv1.DeploymentCondition, deadline bool) {
	ns := d.Namespace
	switch {
	case progressing != nil && progressing.Status == corev1.ConditionFalse && progressing.Reason == "ReplicaSetCreateError":
		v.Phase, v.Reason = PhaseFailed, ReasonFailedCreate
		v.Message = fmt.Sprintf("the new ReplicaSet of %s could not be created: %s", d.Name, progressing.Message)
		v.Hint = fmt.Sprintf("see kubectl describe deployment -n %s %s", ns, d.Name)
	case deadline:
		v.Phase, v.Reason = PhaseFailed, ReasonProgressDeadlineExceeded
		v.Message = fmt.Sprintf("Deployment %s exceeded its progress deadline before creating its new ReplicaSet", d.Name)
		v.Hint = fmt.Sprintf("see kubectl describe deployment -n %s %s", ns, d.Name)
	default:
		v.Message = fmt.Sprintf("waiting for the new ReplicaSet of %s", d.Name)
	}
}

// rolloutComplete reports whether the rollout is complete, as kubectl
// rollout status has it, and seen in the pods.
func rolloutComplete(d *appsv1.Deployment, v *Verdict, readyPods int32) bool {
	s := d.Status
	return s.UpdatedReplicas == v.Desired && s.Replicas == s.UpdatedReplicas &&
		s.AvailableReplicas >= s.UpdatedReplicas && v.Ready >= v.Desired &&
		v.Available >= v.Desired && readyPods >= v.Desired
}

// judgeStability judges a complete rollout: it succeeds once it has
// stayed complete for Stability.
func judgeStability(v *Verdict, o Observation) {
	d := o.Deployment
	v.BlockedSince = time.Time{}
	v.ReadySince = o.ReadySince
	if v.ReadySince.IsZero() {
		v.ReadySince = o.Now
	}
	held := o.Now.Sub(v.ReadySince)
	if v.Desired > 0 && held < o.Stability {
		v.Reason = ReasonStabilizing
		v.Message = fmt.Sprintf("all %d new pods of %s are ready; checking they stay so (%s of %s)",
			v.Desired, d.Name, roundDuration(held), o.Stability)
		return
	}
	v.Phase, v.Reason = PhaseSucceeded, ReasonSucceeded
	v.Message = fmt.Sprintf("Deployment %s rolled out revision %d: %d of %d pods ready", d.Name, v.Revision, v.Ready, v.Desired)
}

// newReplicaSet finds the ReplicaSet of the Deployment's current template
// and revision, the oldest if several match (as the deployment controller
// does).
func newReplicaSet(d *appsv1.Deployment, rss []appsv1.ReplicaSet) *appsv1.ReplicaSet {
	rev := d.Annotations[AnnotationRevision]
	var found *appsv1.ReplicaSet
	for i := range rss {
		rs := &rss[i]
		if ref := metav1.GetControllerOf(rs); ref != nil && d.UID != "" && ref.UID != d.UID {
			continue
		}
		if rev != "" && rs.Annotations[AnnotationRevision] != rev {
			continue
		}
		if !equalIgnoreHash(&rs.Spec.Template, &d.Spec.Template) {
			continue
		}
		if found == nil || rs.CreationTimestamp.Before(&found.CreationTimestamp) {
			found = rs
		}
	}
	return found
}

// equalIgnoreHash compares pod templates, ignoring the pod-template-hash
// label the controller adds to a ReplicaSet's template.
func equalIgnoreHash(a, b *corev1.PodTemplateSpec) bool {
	a, b = a.DeepCopy(), b.DeepCopy()
	delete(a.Labels, appsv1.DefaultDeploymentUniqueLabelKey)
	delete(b.Labels, appsv1.DefaultDeploymentUniqueLabelKey)
	return apiequality.Semantic.DeepEqual(a, b)
}

// replicaSetRevision is the revision annotation of rs, 0 when missing or
// malformed.
func replicaSetRevision(rs *appsv1.ReplicaSet) int64 {
	n, err := strconv.ParseInt(rs.Annotations[AnnotationRevision], 10, 64)
	if err != nil {
		return 0
	}
	return n
}

func deploymentCondition(d *appsv1.Deployment, t appsv1.DeploymentConditionType) *appsv1.DeploymentCondition {
	for i := range d.Status.Conditions {
		if d.Status.Conditions[i].Type == t {
			return &d.Status.Conditions[i]
		}
	}
	return nil
}

func progressDeadline(d *appsv1.Deployment) int32 {
	if d.Spec.ProgressDeadlineSeconds != nil {
		return *d.Spec.ProgressDeadlineSeconds
	}
	return 600
}

// deadlineExceeded reports whether the controller says the progress
// deadline passed for this rollout. The condition can be left over from an
// earlier rollout (the controller keeps it when it reuses an old
// ReplicaSet and nothing has moved yet), so it counts only once the
// deadline has also passed since Started on the local clock.
func deadlineExceeded(d *appsv1.Deployment, c *appsv1.DeploymentCondition, o Observation) bool {
	if c == nil || c.Status != corev1.ConditionFalse || c.Reason != "ProgressDeadlineExceeded" {
		return false
	}
	if o.Started.IsZero() {
		return true
	}
	return o.Now.Sub(o.Started) >= time.Duration(progressDeadline(d))*time.Second
}

// passingCreateFailure reports whether a pod creation failed for a reason
// that goes away by itself: in a namespace just made, the controller
// manager has not yet created its "default" service account, and the
// ReplicaSet controller retries until it has.
func passingCreateFailure(msg string) bool {
	return strings.Contains(msg, `serviceaccount "default" not found`) || strings.Contains(msg, `serviceaccounts "default" not found`)
}

// replicaFailure is why pods of rs could not be created, "" when they
// could: the ReplicaSet's ReplicaFailure condition, else a FailedCreate
// event for it since the rollout started.
func replicaFailure(d *appsv1.Deployment, rs *appsv1.ReplicaSet, o Observation) string {
	for _, c := range rs.Status.Conditions {
		if c.Type == appsv1.ReplicaSetReplicaFailure && c.Status == corev1.ConditionTrue && !passingCreateFailure(c.Message) {
			return cmp.Or(c.Message, c.Reason)
		}
	}
	var latest *corev1.Event
	for i := range o.Events {
		e := &o.Events[i]
		if e.Reason != "FailedCreate" || e.InvolvedObject.Kind != "ReplicaSet" || e.InvolvedObject.Name != rs.Name || passingCreateFailure(e.Message) {
			continue
		}
		if rs.UID != "" && e.InvolvedObject.UID != "" && e.InvolvedObject.UID != rs.UID {
			continue
		}
		if !eventRecent(e, o) {
			continue
		}
		if latest == nil || eventTime(e).After(eventTime(latest)) {
			latest = e
		}
	}
	if latest != nil {
		return latest.Message
	}
	return ""
}
