package deploy

import (
	"context"
	"fmt"
	"strings"

	"github.com/pmezard/go-difflib/difflib"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	sigsyaml "sigs.k8s.io/yaml"
)

// Diff shows what applying m would change: a server-side dry run of each
// object against what is live, as a unified diff. Secret values never
// appear. An empty string means nothing would change.
func (c *Cluster) Diff(ctx context.Context, m Manifests) (string, error) {
	var b strings.Builder
	for _, obj := range m.Objects() {
		kind, name := describeObject(obj)
		live, err := c.live(ctx, obj)
		if err != nil {
			return "", err
		}
		after, err := c.apply(ctx, obj, ApplyOptions{DryRun: true})
		if err != nil {
			return "", err
		}
		from, to := comparable(live), comparable(after)
		if from == to {
			continue
		}
		d, err := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
			A: difflib.SplitLines(from), B: difflib.SplitLines(to),
			FromFile: "live " + kind + " " + name, ToFile: "slipway " + kind + " " + name, Context: 3,
		})
		if err != nil {
			return "", fmt.Errorf("diffing %s %s: %w", kind, name, err)
		}
		b.WriteString(d)
	}
	return b.String(), nil
}

// live returns the object as it is in the cluster, or nil.
func (c *Cluster) live(ctx context.Context, obj runtime.Object) (runtime.Object, error) {
	var (
		got runtime.Object
		err error
	)
	get := metav1.GetOptions{}
	switch v := obj.(type) {
	case *corev1.Namespace:
		got, err = c.Client.CoreV1().Namespaces().Get(ctx, v.Name, get)
	case *corev1.Secret:
		got, err = c.Client.CoreV1().Secrets(v.Namespace).Get(ctx, v.Name, get)
	case *corev1.Service:
		got, err = c.Client.CoreV1().Services(v.Namespace).Get(ctx, v.Name, get)
	case *appsv1.Deployment:
		got, err = c.Client.AppsV1().Deployments(v.Namespace).Get(ctx, v.Name, get)
	case *networkingv1.Ingress:
		got, err = c.Client.NetworkingV1().Ingresses(v.Namespace).Get(ctx, v.Name, get)
	}
	if apierrors.IsNotFound(err) || (err == nil && got == nil) {
		return nil, nil
	}
	if err != nil {
		kind, name := describeObject(obj)
		return nil, c.explain(err, "reading "+kind+" "+name)
	}
	return got, nil
}

// comparable is obj as YAML without what the server alone maintains, and
// with secret values redacted.
func comparable(obj runtime.Object) string {
	if obj == nil {
		return ""
	}
	obj = obj.DeepCopyObject()
	if s, ok := obj.(*corev1.Secret); ok {
		obj = redacted(s)
	}
	if a, ok := obj.(metav1.Object); ok {
		a.SetManagedFields(nil)
		a.SetResourceVersion("")
		a.SetUID("")
		a.SetGeneration(0)
		a.SetCreationTimestamp(metav1.Time{})
		ann := a.GetAnnotations()
		delete(ann, AnnotationRevision)
		a.SetAnnotations(ann)
	}
	switch v := obj.(type) {
	case *appsv1.Deployment:
		v.Status = appsv1.DeploymentStatus{}
	case *corev1.Service:
		v.Status = corev1.ServiceStatus{}
	case *networkingv1.Ingress:
		v.Status = networkingv1.IngressStatus{}
	case *corev1.Namespace:
		v.Status = corev1.NamespaceStatus{}
	}
	y, err := sigsyaml.Marshal(obj)
	if err != nil {
		return fmt.Sprintf("(cannot encode %T: %v)", obj, err)
	}
	return string(stripStatus(y))
}
