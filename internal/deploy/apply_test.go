package deploy

import (
	"context"
	"errors"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"

	"github.com/slipwayhq/slipway/internal/remedy"
)

// TestApplyOnAPIServer applies an environment of every kind Slipway
// deploys to a real API server (the package's control plane, see
// useFaultCluster), where server-side apply's semantics show: applying
// again changes nothing and Diff finds nothing, a dry run persists
// nothing, fields another manager took are a conflict until forced, and
// the disruption budget goes with the replicas that needed it.
func TestApplyOnAPIServer(t *testing.T) {
	kc := useFaultCluster(t)
	c, client := faultClient(t, kc)
	ctx := context.Background()
	p, pod := example(t)
	env, _ := p.Environments.Get("prod")
	env.Namespace = faultNamespace("apply", 0)
	in := RenderInput{Project: p, Env: env, Pod: pod, Version: "1.2.3", Commit: "0123abc",
		Image: "r.example.com/hello@" + digest, PullSecret: []byte(`{"auths":{}}`)}
	m, err := Render(in)
	if err != nil {
		t.Fatal(err)
	}
	if m.Budget == nil || m.Ingress == nil || m.Secret == nil || m.Namespace == nil {
		t.Fatalf("prod renders without some kind: %+v", m)
	}
	deployments := client.AppsV1().Deployments(env.Namespace)

	first, err := c.Apply(ctx, m, ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(first.Objects) != len(m.Objects()) || first.Deployment == nil || first.Deployment.Generation != 1 {
		t.Fatalf("Apply = %d objects, deployment %v", len(first.Objects), first.Deployment)
	}

	t.Run("again, nothing changes", func(t *testing.T) {
		again, err := c.Apply(ctx, m, ApplyOptions{})
		if err != nil || again.Deployment.Generation != 1 {
			t.Errorf("Apply again = generation %d, %v; want 1", again.Deployment.Generation, err)
		}
		if d, err := c.Diff(ctx, m); err != nil || d != "" {
			t.Errorf("Diff after Apply = %v\n%s\nwant nothing", err, d)
		}
	})

	t.Run("a dry run persists nothing", func(t *testing.T) {
		changed := m
		changed.Deployment = m.Deployment.DeepCopy()
		changed.Deployment.Spec.Template.Spec.Containers[0].Image = "r.example.com/other@" + digest
		dry, err := c.Apply(ctx, changed, ApplyOptions{DryRun: true})
		if err != nil || dry.Deployment.Generation != 2 {
			t.Fatalf("dry run = generation %d, %v; want 2", dry.Deployment.Generation, err)
		}
		if live, err := deployments.Get(ctx, m.Deployment.Name, metav1.GetOptions{}); err != nil || live.Generation != 1 {
			t.Errorf("after a dry run the live Deployment is at generation %d, %v", live.Generation, err)
		}
		d, err := c.Diff(ctx, changed)
		if err != nil || strings.Count(d, "--- live ") != 1 || !strings.Contains(d, "--- live Deployment "+env.Namespace+"/hello") ||
			!strings.Contains(d, "+      - image: r.example.com/other@") {
			t.Errorf("Diff of a new image = %v\n%s", err, d)
		}
	})

	t.Run("a conflict until forced", func(t *testing.T) {
		other := appsv1ac.Deployment(m.Deployment.Name, env.Namespace).WithSpec(appsv1ac.DeploymentSpec().WithReplicas(5))
		if _, err := deployments.Apply(ctx, other, metav1.ApplyOptions{FieldManager: "other", Force: true}); err != nil {
			t.Fatal(err)
		}
		_, err := c.Apply(ctx, m, ApplyOptions{})
		if r, _ := remedy.Of(err); !errors.Is(err, ErrConflict) || r.Kind != remedy.ForceConflicts || !strings.Contains(err.Error(), "applying Deployment "+env.Namespace+"/hello") {
			t.Fatalf("Apply over another manager's replicas = %v (%v), want a conflict", err, r.Kind)
		}
		forced, err := c.Apply(ctx, m, ApplyOptions{Force: true})
		if err != nil || *forced.Deployment.Spec.Replicas != *m.Deployment.Spec.Replicas {
			t.Errorf("forced Apply = %v, %v", forced.Deployment.Spec.Replicas, err)
		}
	})

	t.Run("the budget goes with the replicas", func(t *testing.T) {
		one := 1
		in := in
		in.Env.Replicas = &one
		single, err := Render(in)
		if err != nil || single.Budget != nil {
			t.Fatalf("Render with one replica = budget %v, %v", single.Budget, err)
		}
		if _, err := c.Apply(ctx, single, ApplyOptions{Force: true}); err != nil {
			t.Fatal(err)
		}
		_, err = client.PolicyV1().PodDisruptionBudgets(env.Namespace).Get(ctx, m.Budget.Name, metav1.GetOptions{})
		if !apierrors.IsNotFound(err) {
			t.Errorf("the budget of one replica: %v, want it removed", err)
		}
	})
}
