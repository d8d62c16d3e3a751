package deploy

import (
	"cmp"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
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
	// Logs are the last lines a crashed container wrote: its termination
	// message, which the kubelet fills from the log's tail
	// (terminationMessagePolicy FallbackToLogsOnError, as Render sets).
	Logs []string `json:"logs,omitempty"`
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
	// Checks are the results of the after-rollout checks, run once the
	// pods passed; a failed one fails the rollout (ReasonCheckFailed).
	Checks []CheckResult `json:"checks,omitempty"`

	// ReadySince and BlockedSince are carried into the next Observation.
	ReadySince   time.Time `json:"-"`
	BlockedSince time.Time `json:"-"`
}

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
	if judgeDeployment(&v, o) {
		return v
	}
	progressing := deploymentCondition(d, appsv1.DeploymentProgressing)
	deadline := deadlineExceeded(d, progressing, o)
	rs := newReplicaSet(d, o.ReplicaSets)
	if rs == nil {
		judgeMissingReplicaSet(&v, d, progressing, deadline)
		v.Events = relevantEvents(o, d, nil, nil)
		return v
	}
	v.Revision = replicaSetRevision(rs)
	v.Ready = rs.Status.ReadyReplicas
	v.Available = rs.Status.AvailableReplicas

	r := surveyPods(o, rs)
	if r.blocked {
		v.BlockedSince = o.BlockedSince
		if v.BlockedSince.IsZero() {
			v.BlockedSince = o.Now
		}
	}
	blockedTooLong := r.blocked && o.Now.Sub(v.BlockedSince) >= cmp.Or(o.SchedulingGrace, DefaultSchedulingGrace)
	complete := rolloutComplete(d, &v, r.readyPods)
	judgeFailure(&v, r, blockedTooLong, deadline && !complete)
	if v.Phase == PhaseFailed {
		v.Events = relevantEvents(o, d, rs, r.newPods)
		return v
	}
	if !complete {
		judgeWaiting(&v, r)
		return v
	}
	judgeStability(&v, o)
	return v
}

// survey is what Judge learns from the new ReplicaSet and its pods.
type survey struct {
	o       Observation
	rs      *appsv1.ReplicaSet
	newPods []corev1.Pod
	// failing fail the rollout on sight; waiting are still on their way.
	failing, waiting []PodProblem
	readyPods        int32
	// blocked: new pods cannot be scheduled or created, and nothing in
	// flight (old pods terminating, a cluster-autoscaler scale-up) could
	// unblock them.
	blocked bool
	// failedCreate is why the ReplicaSet could not create pods, "" when it
	// could; quota says a full ResourceQuota refused them.
	failedCreate string
	quota        bool
}

// judgeFailure fails v when the survey shows a pod failing, pods that
// cannot be created, pods blocked for longer than the grace, or the
// progress deadline passed (stuck) before the rollout completed.
func judgeFailure(v *Verdict, r survey, blockedTooLong, stuck bool) {
	d := r.o.Deployment
	ns := d.Namespace
	switch {
	case len(r.failing) > 0:
		sortProblems(r.failing)
		v.Phase, v.Pods = PhaseFailed, r.failing
		v.Reason, v.Message, v.Hint = describeProblem(ns, d, r.failing, r.newPods, r.o.Events, 0)
		v.BlockedSince = time.Time{}
	case r.failedCreate != "" && (!r.quota || blockedTooLong):
		v.Phase, v.Reason = PhaseFailed, ReasonFailedCreate
		v.Message = fmt.Sprintf("ReplicaSet %s cannot create pods: %s", r.rs.Name, r.failedCreate)
		if r.quota {
			v.Hint = fmt.Sprintf("the namespace's ResourceQuota has no room for the new pods: lower their requests/limits or replicas, or raise the quota (kubectl describe resourcequota -n %s)", ns)
		} else {
			v.Hint = fmt.Sprintf("the API server refused the new pods: change pod.yml to satisfy the policy named above (kubectl describe replicaset -n %s %s)", ns, r.rs.Name)
		}
		v.Pods = r.waiting
	case blockedTooLong && hasReason(r.waiting, ReasonUnschedulable):
		var un []PodProblem
		for _, pr := range r.waiting {
			if pr.Reason == ReasonUnschedulable {
				un = append(un, pr)
			}
		}
		v.Phase, v.Pods = PhaseFailed, un
		v.Reason, v.Message, v.Hint = describeProblem(ns, d, un, r.newPods, r.o.Events, r.o.Now.Sub(v.BlockedSince))
	case stuck:
		v.Phase, v.Reason = PhaseFailed, ReasonProgressDeadlineExceeded
		v.Pods = r.waiting
		v.Message = fmt.Sprintf("Deployment %s exceeded its progress deadline (%ds): %s", d.Name, progressDeadline(d), v.Counts())
		v.Hint = stuckHint(ns, d, r.waiting)
	}
}

// judgeWaiting says what an incomplete rollout that has not failed waits
// for; it shows events only while pods are blocked.
func judgeWaiting(v *Verdict, r survey) {
	v.Pods = r.waiting
	v.Message = "waiting for the rollout: " + v.Counts()
	if len(r.waiting) > 0 {
		v.Message += "; " + describeWaiting(r.waiting)
	}
	if v.BlockedSince.IsZero() {
		v.Events = nil
	} else {
		v.Events = relevantEvents(r.o, r.o.Deployment, r.rs, r.newPods)
	}
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

func roundDuration(d time.Duration) time.Duration {
	if d < 10*time.Second {
		return d.Round(100 * time.Millisecond)
	}
	return d.Round(time.Second)
}
