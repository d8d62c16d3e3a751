package check

import (
	"context"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/slipwayhq/slipway/internal/config"
)

// jobCluster is a fake cluster whose Jobs end as status says (nil: they
// run on), whose Job pods wait for waiting ("" for none), and which
// records the Job created and whether it was deleted.
type jobCluster struct {
	cs      *fake.Clientset
	created *batchv1.Job
	deleted bool
}

func newJobCluster(status *batchv1.JobCondition, waiting string) *jobCluster {
	jc := &jobCluster{cs: fake.NewClientset()}
	jc.cs.PrependReactor("create", "jobs", func(a k8stesting.Action) (bool, runtime.Object, error) {
		jc.created = a.(k8stesting.CreateAction).GetObject().(*batchv1.Job).DeepCopy()
		return false, nil, nil
	})
	jc.cs.PrependReactor("get", "jobs", func(a k8stesting.Action) (bool, runtime.Object, error) {
		j := jc.created.DeepCopy()
		if status != nil {
			j.Status.Conditions = []batchv1.JobCondition{*status}
		}
		return true, j, nil
	})
	jc.cs.PrependReactor("list", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		p := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: jc.created.Name + "-x1", Namespace: "hello", Labels: map[string]string{"job-name": jc.created.Name}}}
		if waiting != "" {
			p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "check",
				State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: waiting, Message: "Back-off pulling image \"smoke:9\""}}}}
		}
		return true, &corev1.PodList{Items: []corev1.Pod{p}}, nil
	})
	jc.cs.PrependReactor("delete", "jobs", func(a k8stesting.Action) (bool, runtime.Object, error) {
		jc.deleted = true
		return false, nil, nil
	})
	return jc
}

func TestJobCheck(t *testing.T) {
	defer func(p time.Duration) { jobPoll = p }(jobPoll)
	jobPoll = time.Millisecond
	failed := &batchv1.JobCondition{Type: batchv1.JobFailed, Status: corev1.ConditionTrue, Reason: "BackoffLimitExceeded",
		Message: "Job has reached the specified backoff limit\x1b[2J"}
	tests := []struct {
		name    string
		status  *batchv1.JobCondition
		waiting string
		passed  bool
		message string
	}{
		{"completes", &batchv1.JobCondition{Type: batchv1.JobComplete, Status: corev1.ConditionTrue}, "", true, "the Job completed"},
		{"fails", failed, "", false, `the Job failed: BackoffLimitExceeded: Job has reached the specified backoff limit\x1b[2J; the Job stays an hour: kubectl -n hello logs job/hello-check-`},
		{"cannot pull", nil, "ImagePullBackOff", false, `cannot start: ImagePullBackOff: Back-off pulling image "smoke:9"`},
		{"runs on", nil, "ContainerCreating", false, "the Job did not finish within 1s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			jc := newJobCluster(tt.status, tt.waiting)
			j := config.JobCheck{Env: map[string]string{"TARGET": "http://hello", "A": "1"}, Timeout: config.Duration{Duration: time.Second}}
			r := &Runner{Checks: []config.Check{{Job: &j}}, Client: jc.cs}
			got, err := r.Check(context.Background(), target)
			if err != nil || len(got) != 1 {
				t.Fatalf("Check = %v, %v", got, err)
			}
			res := got[0]
			if res.Check != "job of the deployed image" || res.Passed != tt.passed || !strings.Contains(res.Message, tt.message) {
				t.Errorf("result = %+v, want passed %v with %q", res, tt.passed, tt.message)
			}
			if jc.deleted != tt.passed {
				t.Errorf("deleted %v, want %v: a passed Job goes, a failed one stays to read", jc.deleted, tt.passed)
			}
			if !tt.passed && strings.Join(res.Output, "\n") != "fake logs" {
				t.Errorf("output %q, want the pod's logs", res.Output)
			}
		})
	}
}

// TestJobFor checks the Job a check makes: the deployed image by default,
// Slipway's variables then the check's, no retries, bounded in time, and
// none of the Deployment's labels (no Service sends its pod traffic).
func TestJobFor(t *testing.T) {
	j := jobFor(config.JobCheck{Command: []string{"/app/smoke"}, Env: map[string]string{"B": "2", "A": "1"},
		Timeout: config.Duration{Duration: 90 * time.Second}}, target)
	c := j.Spec.Template.Spec.Containers[0]
	var env []string
	for _, e := range c.Env {
		env = append(env, e.Name+"="+e.Value)
	}
	want := "SLIPWAY_ENVIRONMENT=prod SLIPWAY_NAMESPACE=hello SLIPWAY_VERSION=1.2.4 SLIPWAY_DIGEST=sha256:abc A=1 B=2"
	if strings.Join(env, " ") != want {
		t.Errorf("env = %v, want %s", env, want)
	}
	if c.Image != target.Image || c.Command[0] != "/app/smoke" || j.Namespace != "hello" || !strings.HasPrefix(j.Name, "hello-check-") {
		t.Errorf("job %s/%s runs %s %v", j.Namespace, j.Name, c.Image, c.Command)
	}
	if *j.Spec.BackoffLimit != 0 || *j.Spec.ActiveDeadlineSeconds != 90 || j.Spec.Template.Spec.RestartPolicy != corev1.RestartPolicyNever {
		t.Errorf("spec = %+v", j.Spec)
	}
	if len(j.Spec.Template.Labels) != 1 || j.Spec.Template.Labels[LabelCheck] != "hello" {
		t.Errorf("pod labels = %v, want only %s", j.Spec.Template.Labels, LabelCheck)
	}
	if long := jobName(strings.Repeat("a", 63)); len(long) > 63 {
		t.Errorf("jobName = %q, longer than a DNS label", long)
	}
}
