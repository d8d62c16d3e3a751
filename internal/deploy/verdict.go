package deploy

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Phase is where a rollout stands.
type Phase string

// Phases of a rollout.
const (
	PhaseProgressing Phase = "progressing"
	PhaseSucceeded   Phase = "succeeded"
	PhaseFailed      Phase = "failed"
)

// Reasons a Verdict gives. Pod-level reasons are the kubelet's own words
// where it has them (ImagePullBackOff, CrashLoopBackOff, ...).
const (
	ReasonSucceeded                  = "Succeeded"
	ReasonProgressing                = "Progressing"
	ReasonStabilizing                = "Stabilizing"
	ReasonImagePullBackOff           = "ImagePullBackOff"
	ReasonErrImagePull               = "ErrImagePull"
	ReasonInvalidImageName           = "InvalidImageName"
	ReasonErrImageNeverPull          = "ErrImageNeverPull"
	ReasonCreateContainerConfigError = "CreateContainerConfigError"
	ReasonCreateContainerError       = "CreateContainerError"
	ReasonRunContainerError          = "RunContainerError"
	ReasonCrashLoopBackOff           = "CrashLoopBackOff"
	ReasonContainerCrashed           = "ContainerCrashed"
	ReasonUnschedulable              = "Unschedulable"
	ReasonFailedCreate               = "FailedCreate"
	ReasonProgressDeadlineExceeded   = "ProgressDeadlineExceeded"
	ReasonPaused                     = "Paused"
	ReasonTimeout                    = "Timeout"
	// ReasonNotReady marks a pod problem: the pod runs but is not ready.
	ReasonNotReady = "NotReady"
	// ReasonPending marks a pod problem: the pod has not started yet.
	ReasonPending = "Pending"
)

// DefaultSchedulingGrace is how long new pods may stay blocked (unschedulable,
// or refused by a full ResourceQuota) with nothing in flight that could
// unblock them, before Judge fails the rollout.
const DefaultSchedulingGrace = 5 * time.Second

// Observation is everything Judge looks at: one snapshot of a Deployment
// and what belongs to it, plus the little state carried between snapshots.
type Observation struct {
	Deployment  *appsv1.Deployment
	ReplicaSets []appsv1.ReplicaSet // of this Deployment
	Pods        []corev1.Pod        // of this Deployment (any ReplicaSet)
	Events      []corev1.Event      // in the namespace, recent; may be nil
	// Generation is the Deployment generation this rollout produced; the
	// verdict stays progressing until the controller has observed it.
	// 0 means the Deployment's current generation.
	Generation int64
	Now        time.Time
	// Started is when this rollout began (before the apply). It is read on
	// the local clock only and compared with Now, never with server times,
	// except to drop events and pods older than the rollout.
	Started time.Time
	// ReadySince is zero until the rollout was first seen complete; pass
	// back Verdict.ReadySince from the previous Judge.
	ReadySince time.Time
	// BlockedSince is zero until new pods were first seen blocked with
	// nothing in flight that could unblock them; pass back
	// Verdict.BlockedSince from the previous Judge.
	BlockedSince time.Time
	// Stability is how long a complete rollout must stay complete before it
	// succeeds; 0 succeeds at once.
	Stability time.Duration
	// SchedulingGrace is how long blocked pods are tolerated; 0 means
	// DefaultSchedulingGrace.
	SchedulingGrace time.Duration
}

// PodProblem is why one pod (or one of its containers) is not running as
// it should.
type PodProblem struct {
	Pod       string `json:"pod"`
	Container string `json:"container,omitempty"`
	Reason    string `json:"reason"`
	Message   string `json:"message,omitempty"`
	ExitCode  int32  `json:"exitCode,omitempty"`
	Restarts  int32  `json:"restarts,omitempty"`
}

// Verdict is where a rollout stands and why.
type Verdict struct {
	Phase Phase `json:"phase"`
	// Reason is short and machine-readable: one of the Reason* constants.
	Reason string `json:"reason"`
	// Message is one sentence for people, naming the pods and containers
	// at fault.
	Message string `json:"message"`
	// Revision is the new ReplicaSet's deployment.kubernetes.io/revision,
	// 0 while there is none.
	Revision int64 `json:"revision,omitempty"`
	// Desired is spec.replicas; Updated counts the pods of the new
	// ReplicaSet (Deployment status); Ready and Available count the ready
	// and available pods of the new ReplicaSet; Old counts pods of older
	// ReplicaSets still there.
	Desired   int32 `json:"desired"`
	Updated   int32 `json:"updated"`
	Ready     int32 `json:"ready"`
	Available int32 `json:"available"`
	Old       int32 `json:"old,omitempty"`
	// Pods are the new pods at fault (failed), or the new pods not ready
	// yet (progressing).
	Pods []PodProblem `json:"pods,omitempty"`
	// Events are recent warnings about the new pods, the new ReplicaSet and
	// the Deployment, oldest first, as "Reason: message".
	Events []string `json:"events,omitempty"`
	// Hint is the next step to take, often a command.
	Hint string `json:"hint,omitempty"`

	// ReadySince and BlockedSince are carried into the next Observation.
	ReadySince   time.Time `json:"-"`
	BlockedSince time.Time `json:"-"`
}

// podFailureReasons are container waiting reasons that fail a rollout on
// sight, most telling first: when several pods fail, the verdict takes the
// reason that comes first here.
var podFailureReasons = []string{
	ReasonInvalidImageName,
	ReasonErrImageNeverPull,
	ReasonImagePullBackOff,
	ReasonErrImagePull,
	ReasonCreateContainerConfigError,
	ReasonCreateContainerError,
	ReasonRunContainerError,
	"PreStartHookError",
	"PostStartHookError",
	ReasonCrashLoopBackOff,
	ReasonContainerCrashed,
	ReasonUnschedulable,
}

func podFailureRank(reason string) int {
	for i, r := range podFailureReasons {
		if r == reason {
			return i
		}
	}
	return -1
}

// staleAllowance is how much older than Started (by the server's clock) a
// terminated pod or an event may be and still count as part of this
// rollout: server and local clocks differ, and event times have whole
// seconds.
const staleAllowance = 30 * time.Second

// Judge says whether a rollout is progressing, succeeded or failed, and
// why. It is a pure function of the observation.
//
// The rollout is the Deployment's new ReplicaSet: the one whose pod
// template equals the Deployment's (ignoring pod-template-hash) and whose
// revision is the Deployment's. Only its pods can fail the rollout; old
// pods crashing do not. It fails at once when a new pod cannot pull its
// image, cannot create its container, crash-loops, or has crashed in a pod
// that will not restart it (phase Failed: kwok's chaos stage, restartPolicy
// Never); a crash in a pod that will restart the container fails only from
// the second crash (RestartCount >= 1 or CrashLoopBackOff), as a single
// exit may be a race with a dependency. It fails when new pods stay
// unschedulable, or creating them is refused by a full ResourceQuota, for
// SchedulingGrace while nothing could unblock them (no old pods
// terminating, no cluster-autoscaler scale-up); when creating them is
// refused for any other reason (admission); when the Deployment is paused;
// and when its progress deadline has passed. It succeeds when the rollout
// is complete as kubectl rollout status sees it (all replicas updated,
// ready and available, no old ones left) and has stayed so for Stability.
func Judge(o Observation) Verdict {
	v := Verdict{Phase: PhaseProgressing, Reason: ReasonProgressing}
	d := o.Deployment
	if d == nil {
		v.Message = "waiting for the Deployment"
		return v
	}
	ns := d.Namespace
	v.Desired = 1
	if d.Spec.Replicas != nil {
		v.Desired = *d.Spec.Replicas
	}
	v.Updated = d.Status.UpdatedReplicas
	if old := d.Status.Replicas - d.Status.UpdatedReplicas; old > 0 {
		v.Old = old
	}
	gen := o.Generation
	if gen == 0 {
		gen = d.Generation
	}
	if d.Status.ObservedGeneration < gen {
		// The counts are the previous generation's: none of it is updated.
		v.Updated, v.Old = 0, d.Status.Replicas
		v.Message = fmt.Sprintf("waiting for the deployment controller to observe generation %d of %s (it has seen %d)",
			gen, d.Name, d.Status.ObservedGeneration)
		return v
	}
	if d.Spec.Paused {
		v.Phase, v.Reason = PhaseFailed, ReasonPaused
		v.Message = fmt.Sprintf("Deployment %s is paused, so it will not roll out", d.Name)
		v.Hint = fmt.Sprintf("resume it: kubectl rollout resume -n %s deployment/%s", ns, d.Name)
		return v
	}
	progressing := deploymentCondition(d, appsv1.DeploymentProgressing)
	deadline := deadlineExceeded(d, progressing, o)

	rs := newReplicaSet(d, o.ReplicaSets)
	if rs == nil {
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
		v.Events = relevantEvents(o, d, nil, nil)
		return v
	}
	v.Revision = replicaSetRevision(rs)
	v.Ready = rs.Status.ReadyReplicas
	v.Available = rs.Status.AvailableReplicas

	newPods, oldTerminating := splitPods(o, rs)
	scaleUp := scaleUpTriggered(o.Events, newPods)
	grace := o.SchedulingGrace
	if grace == 0 {
		grace = DefaultSchedulingGrace
	}
	canFreeUp := oldTerminating > 0 || scaleUp

	// Pod problems that fail the rollout on sight, and pods still waiting.
	var failing, waiting []PodProblem
	blocked := false
	readyPods := int32(0)
	for i := range newPods {
		p := &newPods[i]
		if p.DeletionTimestamp == nil && podReady(p) {
			readyPods++
		}
		probs, fatal := podProblems(p, o)
		if fatal {
			failing = append(failing, probs...)
			continue
		}
		for _, pr := range probs {
			if pr.Reason == ReasonUnschedulable && !canFreeUp {
				blocked = true
			}
		}
		waiting = append(waiting, probs...)
	}

	// Pods the ReplicaSet could not create.
	failedCreate := replicaFailure(d, rs, o)
	quota := failedCreate != "" && strings.Contains(failedCreate, "exceeded quota")
	if quota && oldTerminating == 0 {
		blocked = true
	}

	if blocked {
		v.BlockedSince = o.BlockedSince
		if v.BlockedSince.IsZero() {
			v.BlockedSince = o.Now
		}
	}
	blockedTooLong := blocked && o.Now.Sub(v.BlockedSince) >= grace

	// Complete, as kubectl rollout status has it, and seen in the pods.
	s := d.Status
	complete := s.UpdatedReplicas == v.Desired && s.Replicas == s.UpdatedReplicas &&
		s.AvailableReplicas >= s.UpdatedReplicas && v.Ready >= v.Desired &&
		v.Available >= v.Desired && readyPods >= v.Desired

	switch {
	case len(failing) > 0:
		sortProblems(failing)
		v.Phase, v.Pods = PhaseFailed, failing
		v.Reason, v.Message, v.Hint = describeProblem(ns, d, failing, newPods, o.Events, 0)
		v.BlockedSince = time.Time{}
	case failedCreate != "" && (!quota || blockedTooLong):
		v.Phase, v.Reason = PhaseFailed, ReasonFailedCreate
		v.Message = fmt.Sprintf("ReplicaSet %s cannot create pods: %s", rs.Name, failedCreate)
		if quota {
			v.Hint = fmt.Sprintf("the namespace's ResourceQuota has no room for the new pods: lower their requests/limits or replicas, or raise the quota (kubectl describe resourcequota -n %s)", ns)
		} else {
			v.Hint = fmt.Sprintf("the API server refused the new pods: change pod.yml to satisfy the policy named above (kubectl describe replicaset -n %s %s)", ns, rs.Name)
		}
		v.Pods = waiting
	case blockedTooLong && hasReason(waiting, ReasonUnschedulable):
		var un []PodProblem
		for _, pr := range waiting {
			if pr.Reason == ReasonUnschedulable {
				un = append(un, pr)
			}
		}
		v.Phase, v.Pods = PhaseFailed, un
		v.Reason, v.Message, v.Hint = describeProblem(ns, d, un, newPods, o.Events, o.Now.Sub(v.BlockedSince))
	case deadline && !complete:
		v.Phase, v.Reason = PhaseFailed, ReasonProgressDeadlineExceeded
		v.Pods = waiting
		v.Message = fmt.Sprintf("Deployment %s exceeded its progress deadline (%ds): %s", d.Name, progressDeadline(d), v.Counts())
		v.Hint = stuckHint(ns, d, waiting)
	}
	if v.Phase == PhaseFailed {
		v.Events = relevantEvents(o, d, rs, newPods)
		return v
	}

	if !complete {
		v.Pods = waiting
		v.Message = "waiting for the rollout: " + v.Counts()
		if len(waiting) > 0 {
			v.Message += "; " + describeWaiting(waiting)
		}
		if v.BlockedSince.IsZero() {
			v.Events = nil
		} else {
			v.Events = relevantEvents(o, d, rs, newPods)
		}
		return v
	}
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
		return v
	}
	v.Phase, v.Reason = PhaseSucceeded, ReasonSucceeded
	v.Message = fmt.Sprintf("Deployment %s rolled out revision %d: %d of %d pods ready", d.Name, v.Revision, v.Ready, v.Desired)
	return v
}

// Counts says how far the rollout has come, e.g.
// "2/3 updated, 1 ready, 0 available, 1 old".
func (v Verdict) Counts() string {
	s := fmt.Sprintf("%d/%d updated, %d ready, %d available", v.Updated, v.Desired, v.Ready, v.Available)
	if v.Old > 0 {
		s += fmt.Sprintf(", %d old", v.Old)
	}
	return s
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

// splitPods returns the pods of rs, and counts the pods of other
// ReplicaSets that are terminating (they free resources when gone).
func splitPods(o Observation, rs *appsv1.ReplicaSet) (newPods []corev1.Pod, oldTerminating int) {
	hash := rs.Labels[appsv1.DefaultDeploymentUniqueLabelKey]
	if hash == "" {
		hash = rs.Spec.Template.Labels[appsv1.DefaultDeploymentUniqueLabelKey]
	}
	for _, p := range o.Pods {
		var mine bool
		if ref := metav1.GetControllerOf(&p); ref != nil {
			mine = ref.UID == rs.UID && (rs.UID != "" || ref.Name == rs.Name)
		} else {
			mine = hash != "" && p.Labels[appsv1.DefaultDeploymentUniqueLabelKey] == hash
		}
		switch {
		case mine:
			newPods = append(newPods, p)
		case p.DeletionTimestamp != nil && !podTerminal(&p):
			oldTerminating++
		}
	}
	slices.SortFunc(newPods, func(a, b corev1.Pod) int { return strings.Compare(a.Name, b.Name) })
	return newPods, oldTerminating
}

func podTerminal(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodFailed || p.Status.Phase == corev1.PodSucceeded
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// podProblems lists what keeps p from being ready; fatal says whether any
// of it fails the rollout now.
func podProblems(p *corev1.Pod, o Observation) (probs []PodProblem, fatal bool) {
	terminal := podTerminal(p)
	if terminal && !o.Started.IsZero() && p.CreationTimestamp.Time.Before(o.Started.Add(-staleAllowance)) {
		// A pod that ended before this rollout began (a reused ReplicaSet).
		return nil, false
	}
	if terminal && p.Status.Reason != "" {
		// Stopped from outside (Evicted, NodeShutdown, a kubelet admission
		// refusal): the ReplicaSet replaces it, and it says nothing about
		// the template.
		return nil, false
	}
	if p.DeletionTimestamp != nil {
		// Being removed (scale down, eviction, a rollback): its containers
		// exiting, or the kubelet reporting it Failed as it goes, tell
		// nothing about the template.
		return nil, false
	}
	statuses := append(append([]corev1.ContainerStatus(nil), p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...)
	for _, cs := range statuses {
		pr := PodProblem{Pod: p.Name, Container: cs.Name, Restarts: cs.RestartCount}
		switch {
		case cs.State.Waiting != nil:
			w := cs.State.Waiting
			pr.Reason, pr.Message = w.Reason, w.Message
			if t := cs.LastTerminationState.Terminated; t != nil {
				pr.ExitCode = t.ExitCode
				if w.Reason == ReasonCrashLoopBackOff && t.Reason != "" && t.Reason != "Error" {
					pr.Message = strings.TrimSpace(t.Reason + "; " + w.Message)
				}
			}
			if podFailureRank(w.Reason) >= 0 {
				fatal = true
			} else if w.Reason == "" {
				pr.Reason = ReasonPending
			}
			probs = append(probs, pr)
		case cs.State.Terminated != nil:
			t := cs.State.Terminated
			if t.ExitCode == 0 {
				continue
			}
			pr.Reason, pr.ExitCode = ReasonContainerCrashed, t.ExitCode
			pr.Message = strings.TrimSpace(strings.Trim(t.Reason+": "+t.Message, ": "))
			if terminal || cs.RestartCount >= 1 {
				fatal = true
			}
			probs = append(probs, pr)
		case !cs.Ready && cs.State.Running != nil && !terminal:
			pr.Reason = ReasonNotReady
			pr.Message = "running, not ready"
			probs = append(probs, pr)
		}
	}
	if fatal {
		var out []PodProblem
		for _, pr := range probs {
			if podFailureRank(pr.Reason) >= 0 {
				out = append(out, pr)
			}
		}
		return out, true
	}
	if len(probs) > 0 || podReady(p) || terminal {
		return probs, false
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable {
			return []PodProblem{{Pod: p.Name, Reason: ReasonUnschedulable, Message: c.Message}}, false
		}
	}
	msg := string(p.Status.Phase)
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady && c.Message != "" {
			msg = c.Message
		}
	}
	reason := ReasonPending
	if p.Status.Phase == corev1.PodRunning {
		reason = ReasonNotReady
	}
	return []PodProblem{{Pod: p.Name, Reason: reason, Message: msg}}, false
}

func sortProblems(probs []PodProblem) {
	slices.SortStableFunc(probs, func(a, b PodProblem) int {
		return cmp.Compare(podFailureRank(a.Reason), podFailureRank(b.Reason))
	})
}

func hasReason(probs []PodProblem, reason string) bool {
	for _, p := range probs {
		if p.Reason == reason {
			return true
		}
	}
	return false
}

// describeProblem turns failing pod problems, most telling first, into a
// verdict's reason, message and hint; blocked is how long pods have been unschedulable.
func describeProblem(ns string, d *appsv1.Deployment, probs []PodProblem, pods []corev1.Pod, events []corev1.Event, blocked time.Duration) (reason, msg, hint string) {
	p := probs[0]
	reason = p.Reason
	where := "pod " + p.Pod
	if p.Container != "" {
		where = fmt.Sprintf("container %q of pod %s", p.Container, p.Pod)
	}
	image := containerImage(pods, p.Pod, p.Container)
	detail := p.Message
	switch reason {
	case ReasonImagePullBackOff, ReasonErrImagePull:
		// "Back-off pulling image" says nothing; the kubelet's last
		// "Failed to pull image" event says why.
		if m := lastPullFailure(events, p.Pod); m != "" {
			detail = m
		}
	}
	if detail != "" {
		detail = " (" + detail + ")"
	}
	describe := fmt.Sprintf("kubectl describe pod -n %s %s", ns, p.Pod)
	switch reason {
	case ReasonImagePullBackOff, ReasonErrImagePull, ReasonErrImageNeverPull:
		msg = fmt.Sprintf("%s cannot pull image %s: %s%s", where, image, reason, detail)
		hint = fmt.Sprintf("check that %s exists in its registry and that the namespace can pull it (imagePullSecrets, registry credentials); details: %s", image, describe)
		if unreachableRegistry(detail) {
			hint = fmt.Sprintf("the node cannot reach the registry of %s: check that it runs and that the cluster's nodes can reach its address; details: %s", image, describe)
		}
	case ReasonInvalidImageName:
		msg = fmt.Sprintf("%s has an invalid image reference %s%s", where, image, detail)
		hint = "fix the image reference; it must be a valid registry/repository[:tag][@digest]"
	case ReasonCreateContainerConfigError:
		msg = fmt.Sprintf("%s cannot be configured: %s%s", where, reason, detail)
		hint = fmt.Sprintf("create the Secret or ConfigMap (or the key) the container refers to, or fix the reference in pod.yml; details: %s", describe)
		if strings.Contains(detail, "non-root") || strings.Contains(detail, "runAsUser") || strings.Contains(detail, "runAsNonRoot") {
			hint = fmt.Sprintf("the container would run as root under runAsNonRoot: set a non-root securityContext.runAsUser for it in pod.yml (or a non-root user in its image); details: %s", describe)
		}
	case ReasonCrashLoopBackOff:
		msg = fmt.Sprintf("%s keeps crashing: CrashLoopBackOff, exit code %d after %d restarts%s", where, p.ExitCode, p.Restarts, detail)
		hint = fmt.Sprintf("see why it exits: kubectl logs -n %s %s -c %s --previous", ns, p.Pod, p.Container)
		if strings.Contains(p.Message, "OOMKilled") {
			hint = "it ran out of memory (OOMKilled): raise its memory limit in pod.yml or use less; " + hint
		}
	case ReasonContainerCrashed:
		msg = fmt.Sprintf("%s exited with code %d%s", where, p.ExitCode, detail)
		hint = fmt.Sprintf("see why it exits: kubectl logs -n %s %s -c %s", ns, p.Pod, p.Container)
		if strings.Contains(p.Message, "OOMKilled") {
			hint = "it ran out of memory (OOMKilled): raise its memory limit in pod.yml or use less; " + hint
		}
	case ReasonUnschedulable:
		msg = fmt.Sprintf("%s has been unschedulable for %s: %s", where, roundDuration(blocked), p.Message)
		hint = unschedulableHint(describe)
	default:
		msg = fmt.Sprintf("%s cannot start: %s%s", where, reason, detail)
		hint = "details: " + describe
	}
	if n := distinctPods(probs) - 1; n > 0 {
		msg += fmt.Sprintf("; %d more pod(s) of %s failing", n, d.Name)
	}
	return reason, msg, hint
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

func distinctPods(probs []PodProblem) int {
	seen := map[string]bool{}
	for _, p := range probs {
		seen[p.Pod] = true
	}
	return len(seen)
}

func containerImage(pods []corev1.Pod, pod, container string) string {
	for _, p := range pods {
		if p.Name != pod {
			continue
		}
		for _, c := range append(append([]corev1.Container(nil), p.Spec.InitContainers...), p.Spec.Containers...) {
			if c.Name == container {
				return strconv.Quote(c.Image)
			}
		}
	}
	return "(unknown image)"
}

// describeWaiting summarises pods still on their way, e.g.
// "pod a: Pending (ContainerCreating)".
func describeWaiting(probs []PodProblem) string {
	const max = 3
	var parts []string
	for i, p := range probs {
		if i == max {
			parts = append(parts, fmt.Sprintf("%d more", len(probs)-max))
			break
		}
		s := "pod " + p.Pod
		if p.Container != "" {
			s += " container " + p.Container
		}
		s += ": " + p.Reason
		if p.Message != "" && p.Message != p.Reason {
			s += " (" + p.Message + ")"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ", ")
}

func unschedulableHint(describe string) string {
	return "no node can run the pod: lower its resource requests, relax nodeSelector/affinity/tolerations in pod.yml, or add capacity; details: " + describe
}

// stuckHint is the next step for a rollout that stopped progressing
// without a pod failing outright.
func stuckHint(ns string, d *appsv1.Deployment, waiting []PodProblem) string {
	for _, p := range waiting {
		if p.Reason == ReasonUnschedulable {
			return unschedulableHint(fmt.Sprintf("kubectl describe pod -n %s %s", ns, p.Pod))
		}
	}
	for _, p := range waiting {
		if p.Reason == ReasonNotReady {
			c := ""
			if p.Container != "" {
				c = " -c " + p.Container
			}
			return fmt.Sprintf("pod %s runs but never turns ready: check its readiness probe and its logs (kubectl logs -n %s %s%s)", p.Pod, ns, p.Pod, c)
		}
	}
	if len(waiting) > 0 {
		return fmt.Sprintf("see kubectl describe pod -n %s %s", ns, waiting[0].Pod)
	}
	return fmt.Sprintf("see kubectl describe deployment -n %s %s", ns, d.Name)
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

// unreachableRegistry reports whether a pull failed because the registry
// did not answer, rather than because the image or the credentials are
// wrong.
func unreachableRegistry(detail string) bool {
	for _, s := range []string{"connection refused", "no such host", "i/o timeout", "no route to host", "network is unreachable", "connection reset"} {
		if strings.Contains(detail, s) {
			return true
		}
	}
	return false
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
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

func roundDuration(d time.Duration) time.Duration {
	if d < 10*time.Second {
		return d.Round(100 * time.Millisecond)
	}
	return d.Round(time.Second)
}
