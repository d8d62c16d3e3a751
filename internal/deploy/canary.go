package deploy

import (
	"context"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// RetireCanary deletes a canary's Deployment, and its canary Service and
// Ingress, when it runs digest; it reports whether it did. On a Cluster
// of WithProgress, each call rides out an API server that restarts.
func (c *Cluster) RetireCanary(ctx context.Context, ns, name, digest string) (bool, error) {
	d, err := c.deployment(ctx, ns, name)
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, c.explain(err, "reading canary "+ns+"/"+name)
	}
	if d.Annotations[AnnotationDigest] != digest {
		return false, nil
	}
	del := metav1.DeleteOptions{}
	remove := func(what string, f func(context.Context, string, metav1.DeleteOptions) error) error {
		err := c.call(ctx, "removing canary "+what+" "+ns+"/"+name, func(ctx context.Context) error { return f(ctx, name, del) })
		if err != nil && !apierrors.IsNotFound(err) && (what != "PodDisruptionBudget" || !apierrors.IsForbidden(err)) {
			return c.explain(err, "removing canary "+what+" "+ns+"/"+name)
		}
		return nil
	}
	if err := remove("Deployment", c.Client.AppsV1().Deployments(ns).Delete); err != nil {
		return false, err
	}
	if err := remove("Ingress", c.Client.NetworkingV1().Ingresses(ns).Delete); err != nil {
		return true, err
	}
	if err := remove("PodDisruptionBudget", c.Client.PolicyV1().PodDisruptionBudgets(ns).Delete); err != nil {
		return true, err
	}
	if err := remove("Service", c.Client.CoreV1().Services(ns).Delete); err != nil {
		return true, err
	}
	return true, nil
}
