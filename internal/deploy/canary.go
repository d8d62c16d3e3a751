package deploy

import (
	"context"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// RetireCanary deletes a canary's Deployment, and its canary Service and
// Ingress, when it runs digest; it reports whether it did.
func (c *Cluster) RetireCanary(ctx context.Context, ns, name, digest string) (bool, error) {
	d, err := c.Client.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
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
	if err := c.Client.AppsV1().Deployments(ns).Delete(ctx, name, del); err != nil && !apierrors.IsNotFound(err) {
		return false, c.explain(err, "removing canary "+ns+"/"+name)
	}
	if err := c.Client.NetworkingV1().Ingresses(ns).Delete(ctx, name, del); err != nil && !apierrors.IsNotFound(err) {
		return true, c.explain(err, "removing canary Ingress "+ns+"/"+name)
	}
	if err := c.Client.PolicyV1().PodDisruptionBudgets(ns).Delete(ctx, name, del); err != nil && !apierrors.IsNotFound(err) && !apierrors.IsForbidden(err) {
		return true, c.explain(err, "removing canary PodDisruptionBudget "+ns+"/"+name)
	}
	if err := c.Client.CoreV1().Services(ns).Delete(ctx, name, del); err != nil && !apierrors.IsNotFound(err) {
		return true, c.explain(err, "removing canary Service "+ns+"/"+name)
	}
	return true, nil
}
