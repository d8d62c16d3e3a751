package deploy

// Words: a verdict's message and hint for the problems found.

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

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
	detail := problemDetail(p, events)
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

// problemDetail is what a message adds after a problem's reason: " (why)"
// and the container's last log line, "" when there is neither.
func problemDetail(p PodProblem, events []corev1.Event) string {
	detail := p.Message
	switch p.Reason {
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
	if n := len(p.Logs); n > 0 {
		detail += "; its last log line: " + p.Logs[n-1]
	}
	return detail
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
