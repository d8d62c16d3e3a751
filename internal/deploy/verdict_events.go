package deploy

// Events: which belong to this rollout, and what they add to a verdict.

import (
	"slices"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// staleAllowance is how much older than Started (by the server's clock) a
// terminated pod or an event may be and still count as part of this
// rollout: server and local clocks differ, and event times have whole
// seconds.
const staleAllowance = 30 * time.Second

func eventTime(e *corev1.Event) time.Time {
	t := e.LastTimestamp.Time
	if e.Series != nil && e.Series.LastObservedTime.After(t) {
		t = e.Series.LastObservedTime.Time
	}
	if e.EventTime.After(t) {
		t = e.EventTime.Time
	}
	if e.FirstTimestamp.After(t) {
		t = e.FirstTimestamp.Time
	}
	return t
}

// eventRecent reports whether e may belong to this rollout (it has no
// time, or one not much before Started).
func eventRecent(e *corev1.Event, o Observation) bool {
	t := eventTime(e)
	return o.Started.IsZero() || t.IsZero() || !t.Before(o.Started.Add(-staleAllowance))
}

// relevantEvents are the warnings about the new pods (any time: they are
// this rollout's), and about the new ReplicaSet and the Deployment since
// the rollout started, oldest first, at most the last ten, without repeats.
func relevantEvents(o Observation, d *appsv1.Deployment, rs *appsv1.ReplicaSet, pods []corev1.Pod) []string {
	podUIDs := map[string]string{}
	for _, p := range pods {
		podUIDs[p.Name] = string(p.UID)
	}
	var picked []*corev1.Event
	for i := range o.Events {
		e := &o.Events[i]
		if e.Type != corev1.EventTypeWarning && e.Reason != "TriggeredScaleUp" {
			continue
		}
		io := e.InvolvedObject
		if io.Namespace != "" && io.Namespace != d.Namespace {
			continue
		}
		switch io.Kind {
		case "Pod":
			uid, ok := podUIDs[io.Name]
			if !ok || (uid != "" && io.UID != "" && string(io.UID) != uid) {
				continue
			}
		case "ReplicaSet":
			if rs == nil || io.Name != rs.Name || !eventRecent(e, o) {
				continue
			}
		case "Deployment":
			if io.Name != d.Name || !eventRecent(e, o) {
				continue
			}
		default:
			continue
		}
		picked = append(picked, e)
	}
	slices.SortStableFunc(picked, func(a, b *corev1.Event) int { return eventTime(a).Compare(eventTime(b)) })
	var out []string
	seen := map[string]bool{}
	for i := len(picked) - 1; i >= 0 && len(out) < 10; i-- {
		s := picked[i].Reason + ": " + strings.TrimSpace(picked[i].Message)
		if seen[s] {
			continue
		}
		seen[s] = true
		out = append(out, s)
	}
	slices.Reverse(out)
	return out
}

// scaleUpTriggered reports whether the cluster autoscaler is adding a node
// for one of the pods: then unschedulable pods are expected to schedule.
func scaleUpTriggered(events []corev1.Event, pods []corev1.Pod) bool {
	for _, e := range events {
		if e.Reason != "TriggeredScaleUp" || e.InvolvedObject.Kind != "Pod" {
			continue
		}
		for _, p := range pods {
			if e.InvolvedObject.Name == p.Name && (e.InvolvedObject.UID == "" || e.InvolvedObject.UID == p.UID) {
				return true
			}
		}
	}
	return false
}

// lastPullFailure is the message of the latest "Failed to pull image"
// event of pod, "" when there is none.
func lastPullFailure(events []corev1.Event, pod string) string {
	var latest *corev1.Event
	for i := range events {
		e := &events[i]
		if e.InvolvedObject.Kind != "Pod" || e.InvolvedObject.Name != pod || !strings.HasPrefix(e.Message, "Failed to pull image") {
			continue
		}
		if latest == nil || !eventTime(e).Before(eventTime(latest)) {
			latest = e
		}
	}
	if latest == nil {
		return ""
	}
	return latest.Message
}
