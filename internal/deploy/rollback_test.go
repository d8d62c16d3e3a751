package deploy

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

func TestPreviousRevision(t *testing.T) {
	rs := func(name, rev string) appsv1.ReplicaSet {
		r := appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: map[string]string{}}}
		if rev != "" {
			r.Annotations[AnnotationRevision] = rev
		}
		return r
	}
	rss := []appsv1.ReplicaSet{rs("r3", "3"), rs("r1", "1"), rs("r7", "7"), rs("none", ""), rs("bad", "x"), rs("r5", "5")}
	tests := []struct {
		current int64
		want    string
	}{
		{7, "r5"},
		{6, "r5"},
		{5, "r3"},
		{2, "r1"},
		{1, ""},
		{0, "r7"}, // no ReplicaSet of its own: what still runs
		{100, "r7"},
	}
	for _, tt := range tests {
		got, ok := PreviousRevision(rss, tt.current)
		name := ""
		if ok {
			name = got.Name
		}
		if name != tt.want || ok != (tt.want != "") {
			t.Errorf("PreviousRevision(%d) = %q, %v; want %q", tt.current, name, ok, tt.want)
		}
	}
	if _, ok := PreviousRevision(nil, 3); ok {
		t.Error("PreviousRevision(nil) found something")
	}
}

// applied is the Deployment slipway applies for version, in the form it
// sends (a server-side apply body).
func applied(version string, env ...corev1.EnvVar) *appsv1.Deployment {
	replicas := int32(3)
	labels := map[string]string{LabelName: "hello", LabelEnv: "dev"}
	return &appsv1.Deployment{
		TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{Name: "hello", Namespace: testNS, Labels: labels,
			Annotations: map[string]string{
				AnnotationVersion: version, AnnotationCommit: "commit-" + version,
				AnnotationDigest: "sha256:" + version, AnnotationReason: "release " + version,
			}},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{LabelName: "hello", LabelEnv: "dev"}, Annotations: map[string]string{AnnotationVersion: version}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: "app", Image: "registry.example.com/hello:" + version, Env: env,
				}}},
			},
		},
	}
}

func applyDeployment(t *testing.T, c *fake.Clientset, d *appsv1.Deployment, force bool) (*appsv1.Deployment, error) {
	t.Helper()
	data, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	return c.AppsV1().Deployments(d.Namespace).Patch(context.Background(), d.Name, types.ApplyPatchType, data,
		metav1.PatchOptions{FieldManager: FieldManager, Force: &force})
}

// replicaSetFor is the ReplicaSet the controller makes for d at revision
// rev: d's template with a pod-template-hash, d's annotations.
func replicaSetFor(d *appsv1.Deployment, hash, rev string) *appsv1.ReplicaSet {
	tmpl := d.Spec.Template.DeepCopy()
	tmpl.Labels[appsv1.DefaultDeploymentUniqueLabelKey] = hash
	ann := map[string]string{AnnotationRevision: rev}
	for k, v := range d.Annotations {
		if k != AnnotationRevision {
			ann[k] = v
		}
	}
	return &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{
			Name: "hello-" + hash, Namespace: testNS, Labels: tmpl.Labels, Annotations: ann,
			OwnerReferences: []metav1.OwnerReference{controllerRef("Deployment", d.Name, d.UID)},
		},
		Spec: appsv1.ReplicaSetSpec{Template: *tmpl},
	}
}

// history sets up hello deployed at 1.0.0 (revision 1) then 2.0.0
// (revision 2, with an extra variable), and returns the first ReplicaSet.
func history(t *testing.T) (*fake.Clientset, *appsv1.ReplicaSet) {
	t.Helper()
	c := fake.NewClientset()
	d1, err := applyDeployment(t, c, applied("1.0.0"), false)
	if err != nil {
		t.Fatal(err)
	}
	rs1 := replicaSetFor(d1, "aaa", "1")
	d2, err := applyDeployment(t, c, applied("2.0.0", corev1.EnvVar{Name: "NEW_FLAG", Value: "on"}), false)
	if err != nil {
		t.Fatal(err)
	}
	rs2 := replicaSetFor(d2, "bbb", "2")
	for _, rs := range []*appsv1.ReplicaSet{rs1, rs2} {
		if _, err := c.AppsV1().ReplicaSets(testNS).Create(context.Background(), rs, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	return c, rs1
}

func TestRollback(t *testing.T) {
	c, rs1 := history(t)
	ctx := context.Background()
	deployments := c.AppsV1().Deployments(testNS)

	// Another manager scales the Deployment and annotates it: a rollback
	// must leave what it owns alone.
	d, err := deployments.Get(ctx, "hello", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	five := int32(5)
	d.Spec.Replicas = &five
	d.Annotations["team.example.com/owner"] = "payments"
	if _, err := deployments.Update(ctx, d, metav1.UpdateOptions{FieldManager: "kubectl-scale"}); err != nil {
		t.Fatal(err)
	}

	gen, err := Rollback(ctx, c, testNS, "hello", rs1, "")
	if err != nil {
		t.Fatalf("Rollback: %v", err)
	}
	got, err := deployments.Get(ctx, "hello", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if gen != got.Generation {
		t.Errorf("generation %d, Deployment has %d", gen, got.Generation)
	}

	c0 := got.Spec.Template.Spec.Containers[0]
	if c0.Image != "registry.example.com/hello:1.0.0" || len(c0.Env) != 0 {
		t.Errorf("container after rollback = %+v, want 1.0.0 without NEW_FLAG", c0)
	}
	if _, ok := got.Spec.Template.Labels[appsv1.DefaultDeploymentUniqueLabelKey]; ok {
		t.Errorf("template labels keep the hash: %v", got.Spec.Template.Labels)
	}
	if got.Spec.Template.Annotations[AnnotationVersion] != "1.0.0" {
		t.Errorf("template annotations = %v", got.Spec.Template.Annotations)
	}
	if *got.Spec.Replicas != 5 {
		t.Errorf("replicas = %d, want the other manager's 5", *got.Spec.Replicas)
	}
	wantAnn := map[string]string{
		AnnotationVersion: "1.0.0", AnnotationCommit: "commit-1.0.0", AnnotationDigest: "sha256:1.0.0",
		AnnotationReason: "release 1.0.0", "team.example.com/owner": "payments",
	}
	for k, v := range wantAnn {
		if got.Annotations[k] != v {
			t.Errorf("annotation %s = %q, want %q", k, got.Annotations[k], v)
		}
	}
	if got.Labels[LabelEnv] != "dev" || got.Spec.Selector.MatchLabels[LabelEnv] != "dev" {
		t.Errorf("labels/selector lost: %v %v", got.Labels, got.Spec.Selector)
	}

}

// TestRollbackKeepsOwnership: after a rollback the template is still
// owned by slipway's apply, so the next deploy applies without forcing
// and without conflicts. An update in its place would not allow that.
func TestRollbackKeepsOwnership(t *testing.T) {
	ctx := context.Background()
	c, rs1 := history(t)
	if _, err := Rollback(ctx, c, testNS, "hello", rs1, FieldManager); err != nil {
		t.Fatal(err)
	}
	got, err := c.AppsV1().Deployments(testNS).Get(ctx, "hello", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var managers []string
	for _, m := range got.ManagedFields {
		managers = append(managers, m.Manager+"/"+string(m.Operation))
	}
	if s := strings.Join(managers, " "); s != "slipway/Apply" {
		t.Errorf("managers after rollback: %s, want slipway/Apply alone", s)
	}
	next, err := applyDeployment(t, c, applied("3.0.0"), false)
	if err != nil {
		t.Fatalf("next deploy after rollback: %v", err)
	}
	if next.Spec.Template.Spec.Containers[0].Image != "registry.example.com/hello:3.0.0" {
		t.Errorf("next deploy image = %s", next.Spec.Template.Spec.Containers[0].Image)
	}

	// The same rollback as an update (kubectl rollout undo's way).
	c, rs1 = history(t)
	d, _ := c.AppsV1().Deployments(testNS).Get(ctx, "hello", metav1.GetOptions{})
	d.Spec.Template = *rs1.Spec.Template.DeepCopy()
	delete(d.Spec.Template.Labels, appsv1.DefaultDeploymentUniqueLabelKey)
	if _, err := c.AppsV1().Deployments(testNS).Update(ctx, d, metav1.UpdateOptions{FieldManager: "rollback"}); err != nil {
		t.Fatal(err)
	}
	if _, err := applyDeployment(t, c, applied("3.0.0"), false); err == nil || !apierrors.IsConflict(err) {
		t.Errorf("next deploy after an update-style rollback: err = %v, want a conflict", err)
	}
}

// TestRollbackDropsAnnotations drops the slipway annotations the target
// ReplicaSet does not have, rather than leaving the failed version's.
func TestRollbackDropsAnnotations(t *testing.T) {
	c, rs1 := history(t)
	delete(rs1.Annotations, AnnotationCommit)
	delete(rs1.Annotations, AnnotationReason)
	if _, err := Rollback(context.Background(), c, testNS, "hello", rs1, FieldManager); err != nil {
		t.Fatal(err)
	}
	got, err := c.AppsV1().Deployments(testNS).Get(context.Background(), "hello", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := got.Annotations[AnnotationCommit]; ok {
		t.Errorf("commit annotation %q left from 2.0.0", v)
	}
	if got.Annotations[AnnotationVersion] != "1.0.0" {
		t.Errorf("annotations = %v", got.Annotations)
	}
}

func TestRollbackRetriesConflicts(t *testing.T) {
	c, rs1 := history(t)
	conflicts := 0
	c.PrependReactor("patch", "deployments", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if conflicts < 2 {
			conflicts++
			return true, nil, apierrors.NewConflict(schema.GroupResource{Group: "apps", Resource: "deployments"}, "hello",
				errors.New("the object has been modified"))
		}
		return false, nil, nil
	})
	if _, err := Rollback(context.Background(), c, testNS, "hello", rs1, FieldManager); err != nil {
		t.Fatalf("Rollback: %v", err)
	}
	if conflicts != 2 {
		t.Errorf("%d conflicts seen", conflicts)
	}
	got, _ := c.AppsV1().Deployments(testNS).Get(context.Background(), "hello", metav1.GetOptions{})
	if got.Spec.Template.Spec.Containers[0].Image != "registry.example.com/hello:1.0.0" {
		t.Errorf("image = %s", got.Spec.Template.Spec.Containers[0].Image)
	}
}

func TestRollbackErrors(t *testing.T) {
	ctx := context.Background()
	c, rs1 := history(t)

	if _, err := Rollback(ctx, c, testNS, "hello", nil, ""); !errors.Is(err, ErrNoRevision) {
		t.Errorf("nil target: err = %v, want ErrNoRevision", err)
	}
	if _, err := Rollback(ctx, c, testNS, "gone", rs1, ""); !apierrors.IsNotFound(err) {
		t.Errorf("missing Deployment: err = %v, want NotFound", err)
	}

	foreign := rs1.DeepCopy()
	foreign.OwnerReferences = []metav1.OwnerReference{controllerRef("Deployment", "other", "uid-other")}
	if _, err := Rollback(ctx, c, testNS, "hello", foreign, ""); err == nil || !strings.Contains(err.Error(), "belongs to another deployment") {
		t.Errorf("foreign ReplicaSet: err = %v", err)
	}

	d, _ := c.AppsV1().Deployments(testNS).Get(ctx, "hello", metav1.GetOptions{})
	d.Spec.Paused = true
	if _, err := c.AppsV1().Deployments(testNS).Update(ctx, d, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := Rollback(ctx, c, testNS, "hello", rs1, ""); err == nil || !strings.Contains(err.Error(), "kubectl rollout resume") {
		t.Errorf("paused: err = %v", err)
	}
}
