package deploy

// The new pods and their containers: which are failing, which are still
// on their way, and which are blocked.

import (
	"cmp"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/slipwayhq/slipway/internal/termtext"
)

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

// surveyPods sorts the new pods of rs into failing and waiting, and says
// whether they are blocked.
func surveyPods(o Observation, rs *appsv1.ReplicaSet) survey {
	r := survey{o: o, rs: rs}
	var oldTerminating int
	r.newPods, oldTerminating = splitPods(o, rs)
	canFreeUp := oldTerminating > 0 || scaleUpTriggered(o.Events, r.newPods)
	for i := range r.newPods {
		p := &r.newPods[i]
		if p.DeletionTimestamp == nil && podReady(p) {
			r.readyPods++
		}
		probs, fatal := podProblems(p, o)
		if fatal {
			r.failing = append(r.failing, probs...)
			continue
		}
		for _, pr := range probs {
			if pr.Reason == ReasonUnschedulable && !canFreeUp {
				r.blocked = true
			}
		}
		r.waiting = append(r.waiting, probs...)
	}
	// Pods the ReplicaSet could not create.
	r.failedCreate = replicaFailure(o.Deployment, rs, o)
	r.quota = r.failedCreate != "" && strings.Contains(r.failedCreate, "exceeded quota")
	if r.quota && oldTerminating == 0 {
		r.blocked = true
	}
	return r
}

// splitPods returns the pods of rs, and counts the pods of other
// ReplicaSets that are terminating (they free resources when gone).
func splitPods(o Observation, rs *appsv1.ReplicaSet) (newPods []corev1.Pod, oldTerminating int) {
	hash := cmp.Or(rs.Labels[appsv1.DefaultDeploymentUniqueLabelKey], rs.Spec.Template.Labels[appsv1.DefaultDeploymentUniqueLabelKey])
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
	if podIgnored(p, o) {
		return nil, false
	}
	terminal := podTerminal(p)
	statuses := append(append([]corev1.ContainerStatus(nil), p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...)
	for _, cs := range statuses {
		pr, ok, f := containerProblem(p.Name, cs, terminal)
		if ok {
			probs = append(probs, pr)
			fatal = fatal || f
		}
	}
	if fatal {
		return slices.DeleteFunc(probs, func(pr PodProblem) bool { return podFailureRank(pr.Reason) < 0 }), true
	}
	if len(probs) > 0 || podReady(p) || terminal {
		return probs, false
	}
	return []PodProblem{podNotStarted(p)}, false
}

// podIgnored reports whether p says nothing about this rollout's template:
// it ended before the rollout began, was stopped from outside, or is being
// removed.
func podIgnored(p *corev1.Pod, o Observation) bool {
	terminal := podTerminal(p)
	if terminal && !o.Started.IsZero() && p.CreationTimestamp.Time.Before(o.Started.Add(-staleAllowance)) {
		// A pod that ended before this rollout began (a reused ReplicaSet).
		return true
	}
	if terminal && p.Status.Reason != "" {
		// Stopped from outside (Evicted, NodeShutdown, a kubelet admission
		// refusal): the ReplicaSet replaces it, and it says nothing about
		// the template.
		return true
	}
	// Being removed (scale down, eviction, a rollback): its containers
	// exiting, or the kubelet reporting it Failed as it goes, tell nothing
	// about the template.
	return p.DeletionTimestamp != nil
}

// containerProblem is what keeps container cs of pod from running, ok
// false when nothing does; fatal says it fails the rollout now. A crash
// fails it in a pod that ended (terminal) or from the second crash.
func containerProblem(pod string, cs corev1.ContainerStatus, terminal bool) (pr PodProblem, ok, fatal bool) {
	pr = PodProblem{Pod: pod, Container: cs.Name, Restarts: cs.RestartCount}
	switch {
	case cs.State.Waiting != nil:
		w := cs.State.Waiting
		pr.Reason, pr.Message = w.Reason, w.Message
		if t := cs.LastTerminationState.Terminated; t != nil {
			pr.ExitCode, pr.Logs = t.ExitCode, lastLines(t.Message)
			if w.Reason == ReasonCrashLoopBackOff && t.Reason != "" && t.Reason != "Error" {
				pr.Message = strings.TrimSpace(t.Reason + "; " + w.Message)
			}
		}
		if podFailureRank(w.Reason) >= 0 && !runtimeUnavailable(w.Message) {
			fatal = true
		} else if w.Reason == "" {
			pr.Reason = ReasonPending
		}
		return pr, true, fatal
	case cs.State.Terminated != nil:
		t := cs.State.Terminated
		if t.ExitCode == 0 {
			return pr, false, false
		}
		pr.Reason, pr.ExitCode = ReasonContainerCrashed, t.ExitCode
		pr.Message, pr.Logs = t.Reason, lastLines(t.Message)
		return pr, true, terminal || cs.RestartCount >= 1
	case !cs.Ready && cs.State.Running != nil && !terminal:
		pr.Reason = ReasonNotReady
		pr.Message = "running, not ready"
		return pr, true, false
	}
	return pr, false, false
}

// podNotStarted is the problem of a pod whose containers report nothing
// yet: unschedulable, pending, or running but not ready.
func podNotStarted(p *corev1.Pod) PodProblem {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable {
			return PodProblem{Pod: p.Name, Reason: ReasonUnschedulable, Message: c.Message}
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
	return PodProblem{Pod: p.Name, Reason: reason, Message: msg}
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

// maxLogLines is how many of a crashed container's last lines a verdict
// keeps.
const maxLogLines = 10

// maxLogLine is the most bytes of one such line a verdict keeps.
const maxLogLine = 200

// lastLines is the last maxLogLines non-empty lines of a termination
// message, each cut to maxLogLine bytes. A container's output is
// untrusted: each line is cleaned by the same sanitizer as every other
// remote text (terminal control characters shown as visible escapes),
// here already, since the verdict quotes these lines in its message.
func lastLines(msg string) []string {
	var out []string
	for _, l := range strings.Split(strings.TrimRight(msg, "\n"), "\n") {
		if l = strings.TrimRight(l, "\r \t"); l != "" {
			out = append(out, termtext.CleanLines(l, maxLogLine))
		}
	}
	if len(out) > maxLogLines {
		out = out[len(out)-maxLogLines:]
	}
	return out
}

// runtimeUnavailable reports whether a container's waiting message says
// the kubelet lost its connection to the container runtime in the middle
// of a call (containerd restarting, say), or that the restarted runtime
// still holds the name of a container it was creating then: the kubelet
// tries again, so it says nothing about the pod's template and fails no
// rollout.
func runtimeUnavailable(msg string) bool {
	for _, s := range []string{"code = Unavailable", "transport is closing", "error reading from server", "failed to reserve container name"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return strings.Contains(msg, ".sock") &&
		(strings.Contains(msg, "connection reset by peer") || strings.Contains(msg, "connection refused") || strings.Contains(msg, "broken pipe"))
}
