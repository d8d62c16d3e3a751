package deploy

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/scheme"
)

// t0 is the time the test rollouts start.
var t0 = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

const testNS = "hello-dev"

// testDeployment is a Deployment "hello" of replicas running image, at
// generation gen, observed, revision rev, with status counts that say the
// rollout of the new ReplicaSet is complete; cases change them.
func testDeployment(replicas int32, image string, rev string) *appsv1.Deployment {
	labels := map[string]string{"app.kubernetes.io/name": "hello"}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{
			Name: "hello", Namespace: testNS, UID: "uid-deploy", Generation: 2,
			Annotations: map[string]string{AnnotationRevision: rev},
		},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: image}}},
			},
		},
		Status: appsv1.DeploymentStatus{
			ObservedGeneration: 2, Replicas: replicas, UpdatedReplicas: replicas,
			ReadyReplicas: replicas, AvailableReplicas: replicas,
			Conditions: []appsv1.DeploymentCondition{{
				Type: appsv1.DeploymentProgressing, Status: corev1.ConditionTrue, Reason: "NewReplicaSetAvailable"}},
		},
	}
}

// testRS is a ReplicaSet of d for image at revision rev, with ready pods.
func testRS(d *appsv1.Deployment, hash, image, rev string, ready int32) appsv1.ReplicaSet {
	tmpl := d.Spec.Template.DeepCopy()
	tmpl.Labels = map[string]string{appsv1.DefaultDeploymentUniqueLabelKey: hash}
	for k, v := range d.Spec.Template.Labels {
		tmpl.Labels[k] = v
	}
	tmpl.Spec.Containers[0].Image = image
	return appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{
			Name: "hello-" + hash, Namespace: testNS, UID: types.UID("uid-rs-" + hash),
			Labels:          tmpl.Labels,
			Annotations:     map[string]string{AnnotationRevision: rev},
			OwnerReferences: []metav1.OwnerReference{controllerRef("Deployment", d.Name, d.UID)},
		},
		Spec:   appsv1.ReplicaSetSpec{Replicas: &ready, Template: *tmpl},
		Status: appsv1.ReplicaSetStatus{Replicas: ready, ReadyReplicas: ready, AvailableReplicas: ready},
	}
}

func controllerRef(kind, name string, uid types.UID) metav1.OwnerReference {
	yes := true
	return metav1.OwnerReference{APIVersion: "apps/v1", Kind: kind, Name: name, UID: uid, Controller: &yes}
}

// testPod is a running, ready pod of rs; change it with the functions.
func testPod(rs appsv1.ReplicaSet, suffix string, change ...func(*corev1.Pod)) corev1.Pod {
	p := corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: rs.Name + "-" + suffix, Namespace: testNS, UID: types.UID("uid-pod-" + rs.Name + "-" + suffix),
			CreationTimestamp: metav1.NewTime(t0.Add(time.Second)),
			Labels:            rs.Spec.Template.Labels,
			OwnerReferences:   []metav1.OwnerReference{controllerRef("ReplicaSet", rs.Name, rs.UID)},
		},
		Spec: rs.Spec.Template.Spec,
		Status: corev1.PodStatus{
			Phase: corev1.PodRunning,
			Conditions: []corev1.PodCondition{
				{Type: corev1.PodScheduled, Status: corev1.ConditionTrue},
				{Type: corev1.PodReady, Status: corev1.ConditionTrue},
			},
			ContainerStatuses: []corev1.ContainerStatus{{
				Name: "app", Ready: true, Image: rs.Spec.Template.Spec.Containers[0].Image,
				State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}},
			}},
		},
	}
	for _, f := range change {
		f(&p)
	}
	return p
}

func notReady(p *corev1.Pod) {
	p.Status.Conditions[1].Status = corev1.ConditionFalse
	p.Status.ContainerStatuses[0].Ready = false
}

// waiting puts the app container in a waiting state.
func waiting(reason, msg string) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		notReady(p)
		p.Status.Phase = corev1.PodPending
		p.Status.ContainerStatuses[0].State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: msg}}
	}
}

func crashLoop(exit int32, lastReason string, restarts int32) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		notReady(p)
		cs := &p.Status.ContainerStatuses[0]
		cs.RestartCount = restarts
		cs.State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{
			Reason: "CrashLoopBackOff", Message: "back-off 20s restarting failed container=app pod=" + p.Name}}
		cs.LastTerminationState = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: exit, Reason: lastReason}}
	}
}

// terminated marks the app container exited with code; failed also puts
// the pod in phase Failed, as kwok's chaos stage does.
func terminated(code int32, restarts int32, failed bool) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		notReady(p)
		cs := &p.Status.ContainerStatuses[0]
		cs.RestartCount = restarts
		cs.State = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
			ExitCode: code, Reason: "containerFailed", Message: "container failed"}}
		if failed {
			p.Status.Phase = corev1.PodFailed
		}
	}
}

func unschedulable(p *corev1.Pod) {
	p.Status = corev1.PodStatus{
		Phase: corev1.PodPending,
		Conditions: []corev1.PodCondition{{
			Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: corev1.PodReasonUnschedulable,
			Message: "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector."}},
	}
}

func terminating(p *corev1.Pod) {
	ts := metav1.NewTime(t0.Add(2 * time.Second))
	p.DeletionTimestamp = &ts
}

func event(kind, name string, uid types.UID, typ, reason, msg string, at time.Time) corev1.Event {
	return corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Name: name + "." + reason, Namespace: testNS},
		InvolvedObject: corev1.ObjectReference{Kind: kind, Namespace: testNS, Name: name, UID: uid},
		Type:           typ, Reason: reason, Message: msg, LastTimestamp: metav1.NewTime(at),
	}
}

// rollout is an observation of hello rolling from image v1 (revision 1,
// hash "old") to v2 (revision 2, hash "new") with three replicas, done:
// the new pods are all ready and the old ones gone. Cases change it.
type rollout struct {
	d        *appsv1.Deployment
	old, new appsv1.ReplicaSet
	o        Observation
}

func newRollout() *rollout {
	d := testDeployment(3, "registry.example.com/hello:v2", "2")
	r := &rollout{d: d, old: testRS(d, "old", "registry.example.com/hello:v1", "1", 0), new: testRS(d, "new", "registry.example.com/hello:v2", "2", 3)}
	r.old.Status = appsv1.ReplicaSetStatus{}
	r.o = Observation{
		Deployment: d, Generation: 2, Started: t0, Now: t0.Add(10 * time.Second),
		Pods: []corev1.Pod{testPod(r.new, "a"), testPod(r.new, "b"), testPod(r.new, "c")},
	}
	return r
}

// obs returns the observation with the ReplicaSets as they are now.
func (r *rollout) obs() Observation {
	o := r.o
	o.ReplicaSets = []appsv1.ReplicaSet{r.old, r.new}
	return o
}

// progress sets the Deployment and new ReplicaSet counts.
func (r *rollout) progress(updated, ready, available, old int32) {
	s := &r.d.Status
	s.UpdatedReplicas, s.Replicas = updated, updated+old
	s.ReadyReplicas, s.AvailableReplicas = ready+old, available+old
	r.new.Status = appsv1.ReplicaSetStatus{Replicas: updated, ReadyReplicas: ready, AvailableReplicas: available}
	r.old.Status = appsv1.ReplicaSetStatus{Replicas: old, ReadyReplicas: old, AvailableReplicas: old}
}

func TestJudge(t *testing.T) {
	quotaMsg := `pods "hello-new-x" is forbidden: exceeded quota: compute, requested: cpu=500m, used: cpu=1500m, limited: cpu=2`
	tests := []struct {
		name   string
		change func(r *rollout)
		phase  Phase
		reason string
		// want are substrings of Message, then of Hint after a "|".
		want []string
		// check looks at anything else.
		check func(t *testing.T, v Verdict)
	}{
		{
			name:  "complete",
			phase: PhaseSucceeded, reason: ReasonSucceeded, want: []string{"rolled out revision 2", "3 of 3"},
			check: func(t *testing.T, v Verdict) {
				if v.Revision != 2 || v.Desired != 3 || v.Updated != 3 || v.Ready != 3 || v.Available != 3 || v.Old != 0 {
					t.Errorf("counts = %+v", v)
				}
			},
		},
		{
			name:   "generation not observed yet",
			change: func(r *rollout) { r.o.Generation = 3; r.d.Generation = 3 },
			phase:  PhaseProgressing, reason: ReasonProgressing, want: []string{"observe generation 3", "seen 2"},
			check: func(t *testing.T, v Verdict) {
				if v.Updated != 0 || v.Old != 3 || v.Revision != 0 {
					t.Errorf("counts before the controller observed = %+v", v)
				}
			},
		},
		{
			name: "generation 0 means the Deployment's",
			change: func(r *rollout) {
				r.o.Generation = 0
				r.d.Generation = 3
			},
			phase: PhaseProgressing, want: []string{"observe generation 3"},
		},
		{
			name: "new ReplicaSet not created yet",
			change: func(r *rollout) {
				r.d.Annotations[AnnotationRevision] = "1"
				r.new.Spec.Template.Spec.Containers[0].Image = "registry.example.com/hello:v1"
				r.d.Spec.Template.Spec.Containers[0].Image = "registry.example.com/hello:v3"
			},
			phase: PhaseProgressing, want: []string{"waiting for the new ReplicaSet"},
		},
		{
			name:   "template matches but revision not synced yet",
			change: func(r *rollout) { r.d.Annotations[AnnotationRevision] = "3" },
			phase:  PhaseProgressing, want: []string{"waiting for the new ReplicaSet"},
		},
		{
			name: "partial readiness",
			change: func(r *rollout) {
				r.progress(3, 1, 1, 0)
				r.o.Pods[1] = testPod(r.new, "b", func(p *corev1.Pod) { notReady(p) })
				r.o.Pods[2] = testPod(r.new, "c", waiting("ContainerCreating", ""))
			},
			phase: PhaseProgressing, reason: ReasonProgressing,
			want: []string{"3/3 updated, 1 ready, 1 available", "hello-new-b container app: NotReady", "hello-new-c container app: ContainerCreating"},
			check: func(t *testing.T, v Verdict) {
				if len(v.Pods) != 2 || !v.ReadySince.IsZero() {
					t.Errorf("pods %+v, ready since %v", v.Pods, v.ReadySince)
				}
			},
		},
		{
			name: "old pods still there",
			change: func(r *rollout) {
				r.progress(3, 3, 3, 1)
				r.o.Pods = append(r.o.Pods, testPod(r.old, "z"))
			},
			phase: PhaseProgressing, want: []string{"3/3 updated, 3 ready, 3 available, 1 old"},
		},
		{
			name:   "deployment status complete but a pod not ready in the pod list",
			change: func(r *rollout) { r.o.Pods[0] = testPod(r.new, "a", notReady) },
			phase:  PhaseProgressing,
		},
		{
			name: "old pods crash-looping, new ones fine",
			change: func(r *rollout) {
				r.o.Pods = append(r.o.Pods,
					testPod(r.old, "x", crashLoop(1, "Error", 5)),
					testPod(r.old, "y", terminated(1, 0, true)),
					testPod(r.old, "z", waiting("ImagePullBackOff", "")))
			},
			phase: PhaseSucceeded, reason: ReasonSucceeded,
		},
		{
			name:   "stability window starts",
			change: func(r *rollout) { r.o.Stability = 2 * time.Second },
			phase:  PhaseProgressing, reason: ReasonStabilizing, want: []string{"all 3 new pods of hello are ready", "0s of 2s"},
			check: func(t *testing.T, v Verdict) {
				if !v.ReadySince.Equal(t0.Add(10 * time.Second)) {
					t.Errorf("ReadySince = %v, want Now", v.ReadySince)
				}
			},
		},
		{
			name: "stability window not over",
			change: func(r *rollout) {
				r.o.Stability = 2 * time.Second
				r.o.ReadySince = r.o.Now.Add(-1500 * time.Millisecond)
			},
			phase: PhaseProgressing, reason: ReasonStabilizing, want: []string{"1.5s of 2s"},
			check: func(t *testing.T, v Verdict) {
				if !v.ReadySince.Equal(t0.Add(8500 * time.Millisecond)) {
					t.Errorf("ReadySince = %v, want kept", v.ReadySince)
				}
			},
		},
		{
			name: "stability window held",
			change: func(r *rollout) {
				r.o.Stability = 2 * time.Second
				r.o.ReadySince = r.o.Now.Add(-2 * time.Second)
			},
			phase: PhaseSucceeded,
		},
		{
			name: "a pod crashing in the stability window",
			change: func(r *rollout) {
				r.o.Stability = 2 * time.Second
				r.o.ReadySince = r.o.Now.Add(-time.Second)
				r.o.Pods[2] = testPod(r.new, "c", terminated(1, 0, true))
			},
			phase: PhaseFailed, reason: ReasonContainerCrashed,
		},
		{
			name: "readiness lost resets the window",
			change: func(r *rollout) {
				r.o.Stability = 2 * time.Second
				r.o.ReadySince = r.o.Now.Add(-time.Second)
				r.progress(3, 2, 2, 0)
			},
			phase: PhaseProgressing, reason: ReasonProgressing,
			check: func(t *testing.T, v Verdict) {
				if !v.ReadySince.IsZero() {
					t.Errorf("ReadySince = %v, want zero", v.ReadySince)
				}
			},
		},
		{
			name: "zero replicas",
			change: func(r *rollout) {
				zero := int32(0)
				r.d.Spec.Replicas = &zero
				r.progress(0, 0, 0, 0)
				r.o.Pods = nil
				r.o.Stability = 2 * time.Second
			},
			phase: PhaseSucceeded, want: []string{"0 of 0"},
		},
		{
			name: "image pull back-off",
			change: func(r *rollout) {
				r.progress(1, 0, 0, 3)
				r.o.Pods = []corev1.Pod{testPod(r.new, "a", waiting("ImagePullBackOff", `Back-off pulling image "registry.example.com/hello:v2"`))}
			},
			phase: PhaseFailed, reason: ReasonImagePullBackOff,
			want: []string{`container "app" of pod hello-new-a`, `cannot pull image "registry.example.com/hello:v2"`, "Back-off pulling",
				"|", "imagePullSecrets", "kubectl describe pod -n hello-dev hello-new-a"},
			check: func(t *testing.T, v Verdict) {
				want := PodProblem{Pod: "hello-new-a", Container: "app", Reason: "ImagePullBackOff", Message: `Back-off pulling image "registry.example.com/hello:v2"`}
				if len(v.Pods) != 1 || !reflect.DeepEqual(v.Pods[0], want) {
					t.Errorf("Pods = %+v", v.Pods)
				}
			},
		},
		{
			name: "container runtime restarting mid-start (waits)",
			change: func(r *rollout) {
				r.o.Pods[0] = testPod(r.new, "a", waiting("RunContainerError",
					"error reading from server: read unix @->/run/containerd/containerd.sock: read: connection reset by peer"))
			},
			phase: PhaseProgressing, want: []string{"RunContainerError"},
		},
		{
			name: "a restarted runtime still holding the container's name (waits)",
			change: func(r *rollout) {
				r.o.Pods[0] = testPod(r.new, "a", waiting("CreateContainerError",
					`failed to reserve container name "app_hello-new-a_default_1_0": name "app_hello-new-a_default_1_0" is reserved for "4f1c"`))
			},
			phase: PhaseProgressing, want: []string{"CreateContainerError"},
		},
		{
			name: "container that cannot run (fails)",
			change: func(r *rollout) {
				r.o.Pods[0] = testPod(r.new, "a", waiting("RunContainerError", "exec: \"/app/hello\": no such file or directory"))
			},
			phase: PhaseFailed, reason: ReasonRunContainerError, want: []string{"no such file"},
		},
		{
			name:   "image pull error",
			change: func(r *rollout) { r.o.Pods[0] = testPod(r.new, "a", waiting("ErrImagePull", "manifest unknown")) },
			phase:  PhaseFailed, reason: ReasonErrImagePull, want: []string{"manifest unknown"},
		},
		{
			name: "registry unreachable",
			change: func(r *rollout) {
				r.o.Pods[0] = testPod(r.new, "a", waiting("ErrImagePull", `failed to do request: Head "http://127.0.0.1:45051/v2/x/manifests/1": dial tcp 127.0.0.1:45051: connect: connection refused`))
			},
			phase: PhaseFailed, reason: ReasonErrImagePull, want: []string{"connection refused", "|", "cannot reach the registry"},
		},
		{
			name: "invalid image name",
			change: func(r *rollout) {
				r.o.Pods[0] = testPod(r.new, "a", waiting("InvalidImageName", `couldn't parse image name "Hello:v2"`))
			},
			phase: PhaseFailed, reason: ReasonInvalidImageName, want: []string{"invalid image reference", "|", "fix the image reference"},
		},
		{
			name: "missing secret",
			change: func(r *rollout) {
				r.o.Pods[0] = testPod(r.new, "a", waiting("CreateContainerConfigError", `secret "hello-env" not found`))
			},
			phase: PhaseFailed, reason: ReasonCreateContainerConfigError,
			want: []string{`secret "hello-env" not found`, "|", "Secret or ConfigMap"},
		},
		{
			name: "runAsUser 0 under runAsNonRoot",
			change: func(r *rollout) {
				r.o.Pods[0] = testPod(r.new, "a", waiting("CreateContainerConfigError", `container's runAsUser breaks non-root policy (pod: "hello-new-a_e2e(1)", container: app)`))
			},
			phase: PhaseFailed, reason: ReasonCreateContainerConfigError,
			want: []string{"breaks non-root policy", "|", "runAsUser"},
		},
		{
			name: "container cannot be created",
			change: func(r *rollout) {
				r.o.Pods[0] = testPod(r.new, "a", waiting("CreateContainerError", "no command specified"))
			},
			phase: PhaseFailed, reason: ReasonCreateContainerError, want: []string{"no command specified", "|", "kubectl describe pod"},
		},
		{
			name:   "crash loop",
			change: func(r *rollout) { r.o.Pods[1] = testPod(r.new, "b", crashLoop(2, "Error", 3)) },
			phase:  PhaseFailed, reason: ReasonCrashLoopBackOff,
			want: []string{`container "app" of pod hello-new-b keeps crashing`, "exit code 2 after 3 restarts",
				"|", "kubectl logs -n hello-dev hello-new-b -c app --previous"},
			check: func(t *testing.T, v Verdict) {
				if len(v.Pods) != 1 || v.Pods[0].ExitCode != 2 || v.Pods[0].Restarts != 3 {
					t.Errorf("Pods = %+v", v.Pods)
				}
			},
		},
		{
			name:   "crash loop out of memory",
			change: func(r *rollout) { r.o.Pods[1] = testPod(r.new, "b", crashLoop(137, "OOMKilled", 1)) },
			phase:  PhaseFailed, reason: ReasonCrashLoopBackOff, want: []string{"OOMKilled", "|", "memory limit"},
		},
		{
			name: "init container crash loop",
			change: func(r *rollout) {
				r.o.Pods[0] = testPod(r.new, "a", func(p *corev1.Pod) {
					notReady(p)
					p.Status.Phase = corev1.PodPending
					p.Status.ContainerStatuses[0].State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "PodInitializing"}}
					p.Status.InitContainerStatuses = []corev1.ContainerStatus{{Name: "migrate", RestartCount: 2,
						State:                corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}},
						LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 3}}}}
				})
			},
			phase: PhaseFailed, reason: ReasonCrashLoopBackOff, want: []string{`container "migrate"`, "exit code 3", "|", "-c migrate --previous"},
		},
		{
			name: "crashed in a pod that will not restart it (kwok chaos)",
			change: func(r *rollout) {
				r.progress(3, 2, 2, 0)
				r.o.Pods[2] = testPod(r.new, "c", terminated(1, 0, true))
			},
			phase: PhaseFailed, reason: ReasonContainerCrashed,
			want: []string{`container "app" of pod hello-new-c exited with code 1`, "(containerFailed); its last log line: container failed", "|", "kubectl logs -n hello-dev hello-new-c -c app"},
		},
		{
			name: "first crash of a container that will restart",
			change: func(r *rollout) {
				r.progress(3, 2, 2, 0)
				r.o.Pods[2] = testPod(r.new, "c", terminated(1, 0, false))
			},
			phase: PhaseProgressing, want: []string{"hello-new-c container app: ContainerCrashed"},
		},
		{
			name: "second crash of a container that will restart",
			change: func(r *rollout) {
				r.progress(3, 2, 2, 0)
				r.o.Pods[2] = testPod(r.new, "c", terminated(1, 1, false))
			},
			phase: PhaseFailed, reason: ReasonContainerCrashed,
		},
		{
			name: "exit code 0 is no crash",
			change: func(r *rollout) {
				r.progress(3, 2, 2, 0)
				r.o.Pods[2] = testPod(r.new, "c", terminated(0, 1, false))
			},
			phase: PhaseProgressing,
		},
		{
			name: "a new pod being deleted exits non-zero",
			change: func(r *rollout) {
				r.o.Pods = append(r.o.Pods, testPod(r.new, "d", terminating, terminated(143, 0, false)))
			},
			phase: PhaseSucceeded,
		},
		{
			name: "a failed pod from before the rollout (reused ReplicaSet)",
			change: func(r *rollout) {
				r.o.Pods = append(r.o.Pods, testPod(r.new, "d", terminated(1, 0, true), func(p *corev1.Pod) {
					p.CreationTimestamp = metav1.NewTime(t0.Add(-time.Hour))
				}))
			},
			phase: PhaseSucceeded,
		},
		{
			name: "an evicted pod",
			change: func(r *rollout) {
				r.o.Pods = append(r.o.Pods, testPod(r.new, "d", terminated(137, 0, true), func(p *corev1.Pod) {
					p.Status.Reason = "Evicted"
					p.Status.ContainerStatuses[0].State.Terminated.Reason = "ContainerStatusUnknown"
				}))
			},
			phase: PhaseSucceeded,
		},
		{
			name: "several failing pods: the most telling reason wins",
			change: func(r *rollout) {
				r.progress(3, 0, 0, 0)
				r.o.Pods = []corev1.Pod{
					testPod(r.new, "a", crashLoop(1, "Error", 2)),
					testPod(r.new, "b", waiting("ImagePullBackOff", "")),
					testPod(r.new, "c", crashLoop(1, "Error", 2)),
				}
			},
			phase: PhaseFailed, reason: ReasonImagePullBackOff, want: []string{"pod hello-new-b", "2 more pod(s) of hello failing"},
			check: func(t *testing.T, v Verdict) {
				if len(v.Pods) != 3 || v.Pods[0].Pod != "hello-new-b" {
					t.Errorf("Pods = %+v", v.Pods)
				}
			},
		},
		{
			name: "unschedulable, first seen",
			change: func(r *rollout) {
				r.progress(3, 2, 2, 0)
				r.o.Pods[2] = testPod(r.new, "c", unschedulable)
			},
			phase: PhaseProgressing, want: []string{"hello-new-c: Unschedulable", "didn't match"},
			check: func(t *testing.T, v Verdict) {
				if !v.BlockedSince.Equal(r0Now) {
					t.Errorf("BlockedSince = %v, want Now", v.BlockedSince)
				}
			},
		},
		{
			name: "unschedulable within the grace",
			change: func(r *rollout) {
				r.progress(3, 2, 2, 0)
				r.o.Pods[2] = testPod(r.new, "c", unschedulable)
				r.o.BlockedSince = r.o.Now.Add(-4 * time.Second)
			},
			phase: PhaseProgressing,
			check: func(t *testing.T, v Verdict) {
				if !v.BlockedSince.Equal(r0Now.Add(-4 * time.Second)) {
					t.Errorf("BlockedSince = %v, want kept", v.BlockedSince)
				}
			},
		},
		{
			name: "unschedulable past the grace",
			change: func(r *rollout) {
				r.progress(3, 2, 2, 0)
				r.o.Pods[2] = testPod(r.new, "c", unschedulable)
				r.o.BlockedSince = r.o.Now.Add(-5 * time.Second)
				r.o.Events = []corev1.Event{event("Pod", "hello-new-c", "uid-pod-hello-new-c", "Warning", "FailedScheduling",
					"0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector.", t0.Add(2*time.Second))}
			},
			phase: PhaseFailed, reason: ReasonUnschedulable,
			want: []string{"pod hello-new-c has been unschedulable for 5s: 0/3 nodes", "didn't match", "|", "nodeSelector", "kubectl describe pod -n hello-dev hello-new-c"},
			check: func(t *testing.T, v Verdict) {
				if len(v.Events) != 1 || !strings.HasPrefix(v.Events[0], "FailedScheduling: 0/3 nodes") {
					t.Errorf("Events = %q", v.Events)
				}
			},
		},
		{
			name: "custom scheduling grace",
			change: func(r *rollout) {
				r.progress(3, 2, 2, 0)
				r.o.Pods[2] = testPod(r.new, "c", unschedulable)
				r.o.SchedulingGrace = 20 * time.Second
				r.o.BlockedSince = r.o.Now.Add(-10 * time.Second)
			},
			phase: PhaseProgressing,
		},
		{
			name: "unschedulable while old pods terminate",
			change: func(r *rollout) {
				r.progress(3, 2, 2, 1)
				r.o.Pods[2] = testPod(r.new, "c", unschedulable)
				r.o.Pods = append(r.o.Pods, testPod(r.old, "z", terminating))
				r.o.BlockedSince = r.o.Now.Add(-time.Minute)
			},
			phase: PhaseProgressing,
			check: func(t *testing.T, v Verdict) {
				if !v.BlockedSince.IsZero() {
					t.Errorf("BlockedSince = %v, want zero", v.BlockedSince)
				}
			},
		},
		{
			name: "unschedulable while the cluster autoscaler adds a node",
			change: func(r *rollout) {
				r.progress(3, 2, 2, 0)
				r.o.Pods[2] = testPod(r.new, "c", unschedulable)
				r.o.BlockedSince = r.o.Now.Add(-time.Minute)
				r.o.Events = []corev1.Event{event("Pod", "hello-new-c", "", "Normal", "TriggeredScaleUp", "pod triggered scale-up", t0.Add(3*time.Second))}
			},
			phase: PhaseProgressing,
		},
		{
			name: "pods refused by admission",
			change: func(r *rollout) {
				r.progress(0, 0, 0, 3)
				r.o.Pods = nil
				r.new.Status.Conditions = []appsv1.ReplicaSetCondition{{Type: appsv1.ReplicaSetReplicaFailure, Status: corev1.ConditionTrue,
					Reason: "FailedCreate", Message: `pods "hello-new-x" is forbidden: violates PodSecurity "restricted:latest": runAsNonRoot != true`}}
			},
			phase: PhaseFailed, reason: ReasonFailedCreate,
			want: []string{"ReplicaSet hello-new cannot create pods", "violates PodSecurity", "|", "refused the new pods"},
		},
		{
			name: "pods refused, seen in an event",
			change: func(r *rollout) {
				r.progress(0, 0, 0, 3)
				r.o.Pods = nil
				r.o.Events = []corev1.Event{event("ReplicaSet", "hello-new", "uid-rs-new", "Warning", "FailedCreate",
					`Error creating: admission webhook "policy.example.com" denied the request: no latest tags`, t0.Add(time.Second))}
			},
			phase: PhaseFailed, reason: ReasonFailedCreate, want: []string{"denied the request"},
			check: func(t *testing.T, v Verdict) {
				if len(v.Events) != 1 || !strings.HasPrefix(v.Events[0], "FailedCreate: Error creating") {
					t.Errorf("Events = %q", v.Events)
				}
			},
		},
		{
			name: "a pod of the new ReplicaSet deleted by a rollback, reported Failed as it goes",
			change: func(r *rollout) {
				r.progress(3, 2, 2, 0)
				r.o.Pods[2] = testPod(r.new, "c", terminated(2, 0, true), terminating)
			},
			phase: PhaseProgressing,
		},
		{
			name: "a new namespace's default service account not made yet",
			change: func(r *rollout) {
				r.progress(0, 0, 0, 3)
				r.o.Pods = nil
				msg := `pods "hello-new-x" is forbidden: error looking up service account e2e-dev/default: serviceaccount "default" not found`
				r.new.Status.Conditions = []appsv1.ReplicaSetCondition{{Type: appsv1.ReplicaSetReplicaFailure, Status: corev1.ConditionTrue, Reason: "FailedCreate", Message: msg}}
				r.o.Events = []corev1.Event{event("ReplicaSet", "hello-new", "uid-rs-new", "Warning", "FailedCreate", "Error creating: "+msg, t0.Add(time.Second))}
			},
			phase: PhaseProgressing,
		},
		{
			name: "a FailedCreate event from an earlier rollout",
			change: func(r *rollout) {
				r.o.Events = []corev1.Event{event("ReplicaSet", "hello-new", "uid-rs-new", "Warning", "FailedCreate",
					"Error creating: denied", t0.Add(-time.Hour))}
			},
			phase: PhaseSucceeded,
		},
		{
			name: "quota full while old pods terminate",
			change: func(r *rollout) {
				r.progress(2, 2, 2, 1)
				r.o.Pods = []corev1.Pod{testPod(r.new, "a"), testPod(r.new, "b"), testPod(r.old, "z", terminating)}
				r.new.Status.Conditions = []appsv1.ReplicaSetCondition{{Type: appsv1.ReplicaSetReplicaFailure, Status: corev1.ConditionTrue, Reason: "FailedCreate", Message: quotaMsg}}
				r.o.BlockedSince = r.o.Now.Add(-time.Minute)
			},
			phase: PhaseProgressing,
		},
		{
			name: "quota full, nothing terminating, within the grace",
			change: func(r *rollout) {
				r.progress(2, 2, 2, 1)
				r.o.Pods = []corev1.Pod{testPod(r.new, "a"), testPod(r.new, "b"), testPod(r.old, "z")}
				r.new.Status.Conditions = []appsv1.ReplicaSetCondition{{Type: appsv1.ReplicaSetReplicaFailure, Status: corev1.ConditionTrue, Reason: "FailedCreate", Message: quotaMsg}}
			},
			phase: PhaseProgressing,
		},
		{
			name: "quota full, nothing terminating, past the grace",
			change: func(r *rollout) {
				r.progress(2, 2, 2, 1)
				r.o.Pods = []corev1.Pod{testPod(r.new, "a"), testPod(r.new, "b"), testPod(r.old, "z")}
				r.new.Status.Conditions = []appsv1.ReplicaSetCondition{{Type: appsv1.ReplicaSetReplicaFailure, Status: corev1.ConditionTrue, Reason: "FailedCreate", Message: quotaMsg}}
				r.o.BlockedSince = r.o.Now.Add(-6 * time.Second)
			},
			phase: PhaseFailed, reason: ReasonFailedCreate, want: []string{"exceeded quota", "|", "kubectl describe resourcequota -n hello-dev"},
		},
		{
			name: "new ReplicaSet could not be created",
			change: func(r *rollout) {
				r.d.Spec.Template.Spec.Containers[0].Image = "registry.example.com/hello:v3"
				r.d.Annotations[AnnotationRevision] = "3"
				r.d.Status.Conditions = []appsv1.DeploymentCondition{{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionFalse,
					Reason: "ReplicaSetCreateError", Message: `Failed to create new replica set "hello-x": exceeded quota: rs`}}
			},
			phase: PhaseFailed, reason: ReasonFailedCreate, want: []string{"could not be created", "exceeded quota: rs"},
		},
		{
			name: "progress deadline exceeded",
			change: func(r *rollout) {
				r.progress(3, 2, 2, 0)
				r.o.Pods[2] = testPod(r.new, "c", notReady)
				r.o.Now = t0.Add(11 * time.Minute)
				r.d.Status.Conditions = []appsv1.DeploymentCondition{{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionFalse,
					Reason: "ProgressDeadlineExceeded", Message: `ReplicaSet "hello-new" has timed out progressing.`}}
			},
			phase: PhaseFailed, reason: ReasonProgressDeadlineExceeded,
			want: []string{"exceeded its progress deadline (600s)", "3/3 updated, 2 ready, 2 available", "|", "never turns ready", "readiness probe", "kubectl logs -n hello-dev hello-new-c -c app"},
		},
		{
			name: "progress deadline condition left over from an earlier rollout",
			change: func(r *rollout) {
				r.progress(3, 2, 2, 0)
				r.o.Pods[2] = testPod(r.new, "c", notReady)
				r.d.Status.Conditions = []appsv1.DeploymentCondition{{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionFalse,
					Reason: "ProgressDeadlineExceeded"}}
			},
			phase: PhaseProgressing,
		},
		{
			name: "short progress deadline",
			change: func(r *rollout) {
				r.progress(3, 2, 2, 0)
				r.o.Pods[2] = testPod(r.new, "c", notReady)
				ten := int32(10)
				r.d.Spec.ProgressDeadlineSeconds = &ten
				r.d.Status.Conditions = []appsv1.DeploymentCondition{{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionFalse,
					Reason: "ProgressDeadlineExceeded"}}
			},
			phase: PhaseFailed, reason: ReasonProgressDeadlineExceeded, want: []string{"(10s)"},
		},
		{
			name: "progress deadline with an unschedulable pod",
			change: func(r *rollout) {
				r.progress(3, 2, 2, 0)
				r.o.Pods[2] = testPod(r.new, "c", unschedulable)
				r.o.SchedulingGrace = time.Hour
				r.o.Now = t0.Add(11 * time.Minute)
				r.d.Status.Conditions = []appsv1.DeploymentCondition{{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionFalse,
					Reason: "ProgressDeadlineExceeded"}}
			},
			phase: PhaseFailed, reason: ReasonProgressDeadlineExceeded, want: []string{"|", "no node can run the pod"},
		},
		{
			name:   "paused",
			change: func(r *rollout) { r.d.Spec.Paused = true },
			phase:  PhaseFailed, reason: ReasonPaused, want: []string{"paused", "|", "kubectl rollout resume -n hello-dev deployment/hello"},
		},
		{
			name:   "no deployment",
			change: func(r *rollout) { r.o.Deployment = nil },
			phase:  PhaseProgressing,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRollout()
			if tt.change != nil {
				tt.change(r)
			}
			v := Judge(r.obs())
			if v.Phase != tt.phase || (tt.reason != "" && v.Reason != tt.reason) {
				t.Fatalf("Judge = %s %s: %s (hint %q), want %s %s", v.Phase, v.Reason, v.Message, v.Hint, tt.phase, tt.reason)
			}
			in := v.Message
			for _, w := range tt.want {
				if w == "|" {
					in = v.Hint
					continue
				}
				if !strings.Contains(in, w) {
					t.Errorf("%q\n  does not contain %q", in, w)
				}
			}
			if v.Phase == PhaseFailed && v.Hint == "" {
				t.Errorf("failed without a hint: %s", v.Message)
			}
			if tt.check != nil {
				tt.check(t, v)
			}
		})
	}
}

// r0Now is newRollout's Now.
var r0Now = t0.Add(10 * time.Second)

// TestJudgeSequence carries ReadySince and BlockedSince from one Judge to
// the next, as Wait does.
func TestJudgeSequence(t *testing.T) {
	r := newRollout()
	r.o.Stability = 2 * time.Second
	var phases []string
	for i := 0; i < 6; i++ {
		o := r.obs()
		v := Judge(o)
		phases = append(phases, string(v.Phase)+"/"+v.Reason)
		r.o.ReadySince, r.o.BlockedSince = v.ReadySince, v.BlockedSince
		r.o.Now = r.o.Now.Add(500 * time.Millisecond)
	}
	got := strings.Join(phases, " ")
	want := "progressing/Stabilizing progressing/Stabilizing progressing/Stabilizing progressing/Stabilizing succeeded/Succeeded succeeded/Succeeded"
	if got != want {
		t.Errorf("phases:\n got %s\nwant %s", got, want)
	}
}

// TestJudgeRecorded judges objects in the form the API server returns
// them, from testdata/verdict: a List holding the Deployment, its
// ReplicaSets, pods and events. The file's first comment line gives
// nothing; the test's table gives the times.
func TestJudgeRecorded(t *testing.T) {
	tests := []struct {
		file    string
		started time.Time
		now     time.Time
		phase   Phase
		reason  string
		want    []string
		events  int
	}{
		{
			file:    "imagepullbackoff.yaml",
			started: time.Date(2026, 5, 1, 9, 30, 0, 0, time.UTC),
			now:     time.Date(2026, 5, 1, 9, 30, 20, 0, time.UTC),
			phase:   PhaseFailed, reason: ReasonImagePullBackOff,
			want: []string{`container "app" of pod hello-7d4b9c8f6-x2x9z`, `"registry.example.com/team/hello:1.4.0"`,
				"(Failed to pull image", "1.4.0: not found)"},
			events: 3,
		},
		{
			file:    "kwok-crash.yaml",
			started: time.Date(2026, 11, 22, 5, 2, 14, 300e6, time.UTC),
			now:     time.Date(2026, 11, 22, 5, 2, 15, 800e6, time.UTC),
			phase:   PhaseFailed, reason: ReasonContainerCrashed,
			want: []string{"exited with code 1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			o := loadObservation(t, filepath.Join("testdata", "verdict", tt.file))
			o.Started, o.Now = tt.started, tt.now
			v := Judge(o)
			if v.Phase != tt.phase || v.Reason != tt.reason {
				t.Fatalf("Judge = %s %s: %s, want %s %s", v.Phase, v.Reason, v.Message, tt.phase, tt.reason)
			}
			for _, w := range tt.want {
				if !strings.Contains(v.Message, w) {
					t.Errorf("%q\n  does not contain %q", v.Message, w)
				}
			}
			if tt.events > 0 && len(v.Events) != tt.events {
				t.Errorf("Events = %q, want %d", v.Events, tt.events)
			}
		})
	}
}

func loadObservation(t *testing.T, path string) Observation {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var o Observation
	for _, doc := range strings.Split(string(data), "\n---\n") {
		if strings.TrimSpace(doc) == "" {
			continue
		}
		obj, _, err := scheme.Codecs.UniversalDeserializer().Decode([]byte(doc), nil, nil)
		if err != nil {
			t.Fatalf("decoding %s: %v", path, err)
		}
		switch v := obj.(type) {
		case *appsv1.Deployment:
			o.Deployment = v
			o.Generation = v.Generation
		case *appsv1.ReplicaSet:
			o.ReplicaSets = append(o.ReplicaSets, *v)
		case *corev1.Pod:
			o.Pods = append(o.Pods, *v)
		case *corev1.Event:
			o.Events = append(o.Events, *v)
		default:
			t.Fatalf("%s: unexpected %T", path, obj)
		}
	}
	return o
}

func TestLastLines(t *testing.T) {
	many := ""
	for i := 1; i <= 15; i++ {
		many += fmt.Sprintf("line %d\n", i)
	}
	long := strings.Repeat("x", 300)
	tests := []struct {
		name, msg string
		want      []string
	}{
		{"empty", "", nil},
		{"blank lines dropped", "a\n\n  \nb\r\n", []string{"a", "b"}},
		{"last ten", many, []string{"line 6", "line 7", "line 8", "line 9", "line 10", "line 11", "line 12", "line 13", "line 14", "line 15"}},
		{"escape sequences", "\x1b[2Jcleared\x07\x1b]0;pwned\x07", []string{`\x1b[2Jcleared\x07\x1b]0;pwned\x07`}},
		{"C1 and bidi", "\u009b2J\u202eexe.txt", []string{`\u009b2J\u202eexe.txt`}},
		{"long line cut", long, []string{strings.Repeat("x", 160) + " [… 140 bytes cut]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := lastLines(tt.msg); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("lastLines(%q) = %q; want %q", tt.msg, got, tt.want)
			}
		})
	}
}
