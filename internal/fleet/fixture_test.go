package fleet

import (
	"strconv"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/slipwayhq/slipway/internal/deploy"
)

// now is the time the fixtures' fleet is read at.
var now = time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)

const hexA = "sha256:aaaaaaaaaaaa0123456789abcdef0123456789abcdef0123456789abcdef0000"

// app is a Deployment Slipway applied: app in env of namespace ns,
// running version, healthy, deployed by by an hour before now.
type app struct {
	name, env, ns, version, by, reason string
	canaryOf                           string
	at                                 time.Time
	revision                           int
	degraded, rolling                  bool
	image                              string // what the pod runs, when not what Slipway deployed
	cause                              string
	team                               string // the pod template's team label
}

func (a app) deployment() appsv1.Deployment {
	name := a.name
	svc := a.env
	if a.canaryOf != "" {
		name, svc = a.name+"-canary", a.canaryOf
	}
	at := a.at
	if at.IsZero() {
		at = now.Add(-time.Hour)
	}
	image := "registry.example.com/team/" + a.name + "@" + hexA
	running := image
	if a.image != "" {
		running = a.image
	}
	ann := map[string]string{
		deploy.AnnotationVersion: a.version, deploy.AnnotationDigest: hexA, deploy.AnnotationImage: image,
		deploy.AnnotationBy: a.by, deploy.AnnotationAt: at.Format(time.RFC3339), deploy.AnnotationCommit: "0123456789abcdef0123",
		deploy.AnnotationRevision: strconv.Itoa(max(a.revision, 1)),
		deploy.AnnotationCause:    "slipway deploy " + a.env + " " + a.version,
	}
	if a.reason != "" {
		ann[deploy.AnnotationReason] = a.reason
	}
	if a.cause != "" {
		ann[deploy.AnnotationCause] = a.cause
	}
	replicas := int32(2)
	d := appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: a.ns, UID: types.UID(a.ns + "/" + name), Generation: 1,
			Labels: map[string]string{deploy.LabelName: a.name, deploy.LabelEnv: a.env, deploy.LabelService: svc,
				deploy.LabelManagedBy: deploy.ManagedBy}, Annotations: ann},
		Spec: appsv1.DeploymentSpec{Replicas: &replicas, Template: corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: podLabels(a)},
			Spec: corev1.PodSpec{
				Containers: []corev1.Container{{Name: "app", Image: running}}}}},
		Status: appsv1.DeploymentStatus{ObservedGeneration: 1, Replicas: 2, UpdatedReplicas: 2, AvailableReplicas: 2, ReadyReplicas: 2},
	}
	switch {
	case a.degraded:
		d.Status.ReadyReplicas, d.Status.AvailableReplicas = 0, 0
		d.Status.Conditions = []appsv1.DeploymentCondition{{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionFalse, Reason: "ProgressDeadlineExceeded"}}
	case a.rolling:
		d.Status.UpdatedReplicas, d.Status.ReadyReplicas = 1, 1
	}
	return d
}

// replicaSet is a ReplicaSet of d's at revision, stamped as a deploy of
// version by by at at.
func replicaSet(d appsv1.Deployment, revision int, version, by, reason string, at time.Time) appsv1.ReplicaSet {
	return appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{
		Name: d.Name + "-" + strconv.Itoa(revision), Namespace: d.Namespace, Labels: d.Labels,
		OwnerReferences: []metav1.OwnerReference{{UID: d.UID, Name: d.Name, Kind: "Deployment"}},
		Annotations: map[string]string{deploy.AnnotationRevision: strconv.Itoa(revision), deploy.AnnotationVersion: version,
			deploy.AnnotationDigest: "sha256:bbbbbbbbbbbb" + hexA[19:], deploy.AnnotationBy: by, deploy.AnnotationReason: reason,
			deploy.AnnotationAt: at.Format(time.RFC3339)}}}
}

func podLabels(a app) map[string]string {
	l := map[string]string{deploy.LabelName: a.name, deploy.LabelEnv: a.env}
	if a.team != "" {
		l["team"] = a.team
	}
	return l
}
