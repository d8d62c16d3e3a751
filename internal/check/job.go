package check

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/slipwayhq/slipway/internal/config"
	"github.com/slipwayhq/slipway/internal/deploy"
)

// LabelCheck marks the Jobs of checks (and their pods) with the name of
// the Deployment they check. Their pods carry none of the Deployment's
// labels, so no Service sends them traffic.
const LabelCheck = "slipway.dev/check-of"

// jobPoll is how often a Job check looks at its Job.
var jobPoll = 500 * time.Millisecond

// jobFailFast are the waiting reasons of a Job's container that fail the
// check at once, as they fail a rollout: waiting on would not help.
var jobFailFast = []string{"ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull",
	"CreateContainerConfigError", "CreateContainerError", "RunContainerError"}

// job runs Job check j in t's namespace: it passes when the Job completes,
// and fails when it fails, when its container cannot start, or after
// j.Timeout, with the tail of its logs. A passed Job is deleted; a failed
// one is kept for an hour, to read.
func (r *Runner) job(ctx context.Context, j config.JobCheck, t deploy.CheckTarget) (deploy.CheckResult, error) {
	var res deploy.CheckResult
	if r.Client == nil {
		res.Message = "no way to reach the cluster was given"
		return res, nil
	}
	jobs := r.Client.BatchV1().Jobs(t.Namespace)
	created, err := jobs.Create(ctx, jobFor(j, t), metav1.CreateOptions{FieldManager: deploy.FieldManager})
	if err != nil {
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
		res.Message = "creating the Job: " + clean(err.Error())
		return res, nil
	}
	name := created.Name
	res.Message, res.Passed, err = r.watchJob(ctx, t.Namespace, name, j.Timeout.Duration)
	if err != nil {
		return res, err
	}
	if res.Passed {
		del := metav1.DeletePropagationBackground
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		_ = jobs.Delete(dctx, name, metav1.DeleteOptions{PropagationPolicy: &del})
		return res, nil
	}
	res.Message += fmt.Sprintf("; the Job stays an hour: kubectl -n %s logs job/%s", t.Namespace, name)
	res.Output = r.jobLogs(ctx, t.Namespace, name)
	return res, nil
}

// jobFor is the Job of check j on t.
func jobFor(j config.JobCheck, t deploy.CheckTarget) *batchv1.Job {
	image := j.Image
	if image == "" {
		image = t.Image
	}
	env := TaskEnv(t)
	vars := make([]corev1.EnvVar, 0, len(env)+len(j.Env))
	for _, e := range env {
		k, v, _ := strings.Cut(e, "=")
		vars = append(vars, corev1.EnvVar{Name: k, Value: v})
	}
	for _, k := range slices.Sorted(maps.Keys(j.Env)) {
		vars = append(vars, corev1.EnvVar{Name: k, Value: j.Env[k]})
	}
	labels := map[string]string{LabelCheck: t.Deployment}
	zero, ttl := int32(0), int32(3600)
	deadline := int64(max(j.Timeout.Duration, time.Second) / time.Second)
	return &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: jobName(t.Deployment), Namespace: t.Namespace, Labels: labels},
		Spec: batchv1.JobSpec{
			BackoffLimit: &zero, ActiveDeadlineSeconds: &deadline, TTLSecondsAfterFinished: &ttl,
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{
					Name: "check", Image: image, Command: j.Command, Args: j.Args, Env: vars,
					TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
				}}},
			},
		},
	}
}

// jobName is DEPLOYMENT-check-RANDOM, within a DNS label.
func jobName(deployment string) string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	prefix := deployment
	if len(prefix) > 63-len("-check-")-6 {
		prefix = prefix[:63-len("-check-")-6]
	}
	return prefix + "-check-" + hex.EncodeToString(b)
}

// watchJob looks at Job ns/name every jobPoll until it completes (passed),
// fails, its container cannot start, or limit runs out; message says how
// it ended. The error is ctx's.
func (r *Runner) watchJob(ctx context.Context, ns, name string, limit time.Duration) (message string, passed bool, err error) {
	limit = max(limit, time.Second)
	end := time.Now().Add(limit)
	for {
		if msg, done, ok := r.lookAtJob(ctx, ns, name); done {
			return msg, ok, nil
		}
		if time.Now().After(end) {
			return fmt.Sprintf("the Job did not finish within %s", limit), false, nil
		}
		if err := sleep(ctx, jobPoll); err != nil {
			return "", false, err
		}
	}
}

// lookAtJob reads Job ns/name and its pods once: done when it ended, ok
// when it completed. Errors reading are looked past: the next look may do.
func (r *Runner) lookAtJob(ctx context.Context, ns, name string) (message string, done, ok bool) {
	j, err := r.Client.BatchV1().Jobs(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return "", false, false
	}
	for _, c := range j.Status.Conditions {
		if c.Status != corev1.ConditionTrue {
			continue
		}
		switch c.Type {
		case batchv1.JobComplete, batchv1.JobSuccessCriteriaMet:
			return "the Job completed", true, true
		case batchv1.JobFailed, batchv1.JobFailureTarget:
			return "the Job failed: " + clean(c.Reason+": "+c.Message), true, false
		}
	}
	pods, err := r.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "job-name=" + name})
	if err != nil {
		return "", false, false
	}
	for _, p := range pods.Items {
		for _, cs := range p.Status.ContainerStatuses {
			if w := cs.State.Waiting; w != nil && slices.Contains(jobFailFast, w.Reason) {
				return fmt.Sprintf("the Job's pod %s cannot start: %s", p.Name, clean(w.Reason+": "+w.Message)), true, false
			}
		}
	}
	return "", false, false
}

// jobLogs returns the tail of the logs of Job ns/name's pods, at most
// maxTaskOutput bytes of each read.
func (r *Runner) jobLogs(ctx context.Context, ns, name string) []string {
	pods, err := r.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "job-name=" + name})
	if err != nil || len(pods.Items) == 0 {
		return nil
	}
	tailLines, limit := int64(maxTailLines), int64(maxTaskOutput)
	rc, err := r.Client.CoreV1().Pods(ns).GetLogs(pods.Items[0].Name, &corev1.PodLogOptions{TailLines: &tailLines, LimitBytes: &limit}).Stream(ctx)
	if err != nil {
		return nil
	}
	defer rc.Close()
	b, _ := io.ReadAll(io.LimitReader(rc, limit))
	return tail(string(b))
}
