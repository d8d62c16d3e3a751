package deploy

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Health says how an environment is doing.
type Health string

// Healths.
const (
	Healthy     Health = "healthy"
	Progressing Health = "progressing"
	Degraded    Health = "degraded"
	Missing     Health = "not deployed"
	Unreachable Health = "unreachable"
)

// EnvStatus is what runs in one environment.
type EnvStatus struct {
	Env        string    `json:"environment"`
	Namespace  string    `json:"namespace"`
	Deployment string    `json:"deployment"`
	Version    string    `json:"version,omitempty"`
	Digest     string    `json:"digest,omitempty"`
	Image      string    `json:"image,omitempty"` // what the pod template runs
	Desired    int32     `json:"desired"`
	Ready      int32     `json:"ready"`
	Revision   int64     `json:"revision,omitempty"`
	DeployedAt time.Time `json:"deployedAt,omitzero"`
	DeployedBy string    `json:"deployedBy,omitempty"`
	Reason     string    `json:"reason,omitempty"`
	Health     Health    `json:"health"`
	// Drift lists ways what runs differs from what Slipway deployed.
	Drift []string   `json:"drift,omitempty"`
	Error string     `json:"error,omitempty"`
	Pods  []PodState `json:"pods,omitempty"`
	// Checks are the results of the last after-rollout checks run on the
	// Deployment: of what runs, or of a rollout rolled back since.
	Checks *ChecksRecord `json:"checks,omitempty"`
}

// PodState is one pod of an environment.
type PodState struct {
	Name     string    `json:"name"`
	Phase    string    `json:"phase"`
	Ready    bool      `json:"ready"`
	Node     string    `json:"node,omitempty"`
	Restarts int32     `json:"restarts"`
	Image    string    `json:"image,omitempty"`
	Started  time.Time `json:"started,omitzero"`
	Problem  string    `json:"problem,omitempty"`
}

// Status reads what runs in the environment whose Deployment is name in
// ns; with pods, pod by pod too.
func (c *Cluster) Status(ctx context.Context, ns, name string, pods bool) EnvStatus {
	s := EnvStatus{Env: c.Env, Namespace: ns, Deployment: name}
	d, err := c.Client.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		s.Health = Missing
		return s
	case err != nil:
		s.Health, s.Error = Unreachable, c.explain(err, "reading Deployment "+ns+"/"+name).Error()
		return s
	}
	s.describe(d)
	if pods {
		list, err := c.podsOf(ctx, d)
		if err != nil {
			s.Error = err.Error()
			return s
		}
		for _, p := range list {
			s.Pods = append(s.Pods, podState(p))
		}
	}
	return s
}

// StatusOf is what a Deployment Slipway applied says runs: version,
// digest, who and why from its annotations, health from its conditions,
// and drift of its image. Pure: for callers that listed Deployments.
func StatusOf(d *appsv1.Deployment) EnvStatus {
	s := EnvStatus{Env: d.Labels[LabelEnv], Namespace: d.Namespace, Deployment: d.Name}
	s.describe(d)
	return s
}

// describe fills s from a Deployment: pure.
func (s *EnvStatus) describe(d *appsv1.Deployment) {
	a := d.Annotations
	s.Version, s.Digest = a[AnnotationVersion], a[AnnotationDigest]
	s.DeployedBy, s.Reason = a[AnnotationBy], a[AnnotationReason]
	if t, err := time.Parse(time.RFC3339, a[AnnotationAt]); err == nil {
		s.DeployedAt = t
	}
	s.Revision = revisionOf(d)
	s.Checks = ReadChecksRecord(a)
	s.Desired = 1
	if d.Spec.Replicas != nil {
		s.Desired = *d.Spec.Replicas
	}
	s.Ready = d.Status.ReadyReplicas
	for _, c := range d.Spec.Template.Spec.Containers {
		if c.Image == a[AnnotationImage] || s.Image == "" {
			s.Image = c.Image
		}
	}
	switch {
	case healthy(d):
		s.Health = Healthy
	case failing(d):
		s.Health = Degraded
	default:
		s.Health = Progressing
	}
	if want := a[AnnotationImage]; want != "" && !hasImage(d, want) {
		s.Drift = append(s.Drift, "image changed outside Slipway: runs "+s.Image+", deployed "+want)
	}
}

func hasImage(d *appsv1.Deployment, image string) bool {
	for _, c := range d.Spec.Template.Spec.Containers {
		if c.Image == image {
			return true
		}
	}
	return false
}

func failing(d *appsv1.Deployment) bool {
	for _, c := range d.Status.Conditions {
		if c.Type == appsv1.DeploymentProgressing && c.Status == corev1.ConditionFalse {
			return true
		}
		if c.Type == appsv1.DeploymentReplicaFailure && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

func (c *Cluster) podsOf(ctx context.Context, d *appsv1.Deployment) ([]corev1.Pod, error) {
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		return nil, fmt.Errorf("reading the selector of %s: %w", d.Name, err)
	}
	list, err := c.Client.CoreV1().Pods(d.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return nil, c.explain(err, "listing pods of "+d.Name)
	}
	pods := list.Items
	slices.SortFunc(pods, func(a, b corev1.Pod) int { return strings.Compare(a.Name, b.Name) })
	return pods, nil
}

func podState(p corev1.Pod) PodState {
	s := PodState{Name: p.Name, Phase: string(p.Status.Phase), Ready: podReady(&p), Node: p.Spec.NodeName}
	if p.Status.StartTime != nil {
		s.Started = p.Status.StartTime.Time
	}
	for _, c := range p.Status.ContainerStatuses {
		s.Restarts += c.RestartCount
		s.Image = cmp.Or(s.Image, c.Image)
		switch {
		case c.State.Waiting != nil && c.State.Waiting.Reason != "":
			s.Problem = c.Name + ": " + c.State.Waiting.Reason
		case c.State.Terminated != nil && c.State.Terminated.ExitCode != 0:
			s.Problem = fmt.Sprintf("%s: exited %d (%s)", c.Name, c.State.Terminated.ExitCode, c.State.Terminated.Reason)
		}
	}
	return s
}

// Revision is one entry of an environment's history.
type Revision struct {
	Revision int64 `json:"revision"`
	// Commit is the environment repository's commit of a GitOps
	// environment's revision (Revision is 0 there).
	Commit     string    `json:"commit,omitempty"`
	Version    string    `json:"version,omitempty"`
	Digest     string    `json:"digest,omitempty"`
	Image      string    `json:"image,omitempty"`
	DeployedAt time.Time `json:"deployedAt,omitzero"`
	DeployedBy string    `json:"deployedBy,omitempty"`
	Reason     string    `json:"reason,omitempty"`
	Current    bool      `json:"current"`
	rs         *appsv1.ReplicaSet
}

// History lists the revisions of a Deployment Kubernetes still keeps, newest
// first, with the version, digest, who and why Slipway recorded.
func (c *Cluster) History(ctx context.Context, ns, name string) ([]Revision, error) {
	d, err := c.deployment(ctx, ns, name)
	if apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("reading the history of %s: nothing is deployed in %s (Deployment %s/%s)", c.Env, c.Env, ns, name)
	}
	if err != nil {
		return nil, c.explain(err, "reading Deployment "+ns+"/"+name)
	}
	rss, err := c.replicaSets(ctx, ns, name)
	if err != nil {
		return nil, err
	}
	return revisions(d, rss), nil
}

// revisions is History's pure part.
func revisions(d *appsv1.Deployment, rss []appsv1.ReplicaSet) []Revision {
	current := revisionOf(d)
	out := make([]Revision, 0, len(rss))
	for i := range rss {
		rs := &rss[i]
		a := rs.Annotations
		r := Revision{Revision: revisionOfRS(rs), Version: a[AnnotationVersion], Digest: a[AnnotationDigest],
			Image: a[AnnotationImage], DeployedBy: a[AnnotationBy], Reason: a[AnnotationReason], rs: rs}
		if r.Revision == 0 {
			continue
		}
		if t, err := time.Parse(time.RFC3339, a[AnnotationAt]); err == nil {
			r.DeployedAt = t
		} else {
			r.DeployedAt = rs.CreationTimestamp.Time
		}
		r.Current = r.Revision == current
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b Revision) int { return cmp.Compare(b.Revision, a.Revision) })
	return out
}
