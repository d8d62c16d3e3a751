package deploy

import (
	"context"
	"errors"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/slipwayhq/slipway/internal/remedy"
)

// ErrConflict is matched when another field manager owns fields Slipway
// would set.
var ErrConflict = errors.New("field ownership conflict")

// ErrNoNamespace is matched when the namespace is missing and Slipway may
// not create it.
var ErrNoNamespace = errors.New("namespace does not exist")

// ApplyOptions configure Apply.
type ApplyOptions struct {
	// Force takes ownership of fields another manager owns.
	Force bool
	// DryRun asks the API server to validate and default everything but
	// persist nothing.
	DryRun bool
}

// Applied is what the API server made of the manifests.
type Applied struct {
	Objects    []runtime.Object // as returned by the server, in apply order
	Deployment *appsv1.Deployment
}

// Apply server-side applies the manifests in dependency order with field
// manager "slipway". Without a Namespace in m, the namespace must exist.
// Each call rides out an API server that restarts (see Cluster.call).
func (c *Cluster) Apply(ctx context.Context, m Manifests, o ApplyOptions) (Applied, error) {
	var out Applied
	if m.Namespace == nil {
		ns := m.Deployment.Namespace
		if _, err := retried(ctx, c, "reading namespace "+ns, func(ctx context.Context) (*corev1.Namespace, error) {
			return c.Client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		}); apierrors.IsNotFound(err) {
			return out, fmt.Errorf("deploying to %s: %w: %s, and environments.%s.createNamespace is false; create it or allow Slipway to",
				c.Env, ErrNoNamespace, ns, c.Env)
		} else if err != nil {
			return out, c.explain(err, "reading namespace "+ns)
		}
	}
	for _, mf := range m.manifests() {
		got, err := c.apply(ctx, mf, o)
		if err != nil {
			return out, err
		}
		out.Objects = append(out.Objects, got)
		if d, ok := got.(*appsv1.Deployment); ok {
			out.Deployment = d
		}
	}
	if m.Budget == nil && !o.DryRun {
		if err := c.removeBudget(ctx, m.Deployment.Namespace, m.Deployment.Name); err != nil {
			return out, err
		}
	}
	return out, nil
}

// removeBudget deletes the PodDisruptionBudget Slipway made for an
// environment that no longer has 2 or more replicas (or turned it off);
// one that Slipway did not make is left alone.
func (c *Cluster) removeBudget(ctx context.Context, ns, name string) error {
	pdbs := c.Client.PolicyV1().PodDisruptionBudgets(ns)
	what := "PodDisruptionBudget " + ns + "/" + name
	pdb, err := retried(ctx, c, "reading "+what, func(ctx context.Context) (*policyv1.PodDisruptionBudget, error) {
		return pdbs.Get(ctx, name, metav1.GetOptions{})
	})
	switch {
	case apierrors.IsNotFound(err) || apierrors.IsForbidden(err):
		return nil
	case err != nil:
		return c.explain(err, "reading "+what)
	case pdb.Labels[LabelManagedBy] != ManagedBy:
		return nil
	}
	if err := c.call(ctx, "removing "+what, func(ctx context.Context) error {
		return pdbs.Delete(ctx, name, metav1.DeleteOptions{})
	}); err != nil && !apierrors.IsNotFound(err) {
		return c.explain(err, "removing "+what)
	}
	return nil
}

// apply server-side applies m, as an apply configuration, with field
// manager "slipway".
func (c *Cluster) apply(ctx context.Context, m manifest, o ApplyOptions) (runtime.Object, error) {
	opts := metav1.ApplyOptions{FieldManager: FieldManager, Force: o.Force}
	if o.DryRun {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	// A server-side apply is safe to repeat: the same apply again changes
	// nothing.
	got, err := retried(ctx, c, "applying "+m.String(), func(ctx context.Context) (runtime.Object, error) {
		return m.apply(ctx, c.Client, opts)
	})
	switch {
	case err == nil:
		return got, nil
	case apierrors.IsConflict(err):
		return nil, remedy.With(fmt.Errorf("applying %s: %w: %s", m, ErrConflict, apiMessage(err)),
			remedy.Remedy{Kind: remedy.ForceConflicts})
	case apierrors.IsInvalid(err) || apierrors.IsBadRequest(err):
		return nil, fmt.Errorf("applying %s: the API server rejected it: %s", m, apiMessage(err))
	}
	return nil, c.explain(err, "applying "+m.String())
}
