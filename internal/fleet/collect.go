package fleet

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/slipwayhq/slipway/internal/deploy"
)

// Source is one kubeconfig context to read: its client, or why there is
// none.
type Source struct {
	Context string
	Client  kubernetes.Interface
	Err     error
}

// Options configure Collect.
type Options struct {
	// Timeout bounds each cluster's list calls (default 10s): one that
	// does not answer in time is unreachable, and the rest still count.
	Timeout time.Duration
	// Now is the time the fleet is read at (default time.Now).
	Now func() time.Time
}

// DefaultTimeout is Options.Timeout when zero.
const DefaultTimeout = 10 * time.Second

// Collect reads every Slipway-managed Deployment of each source, the
// sources in parallel, each with two list calls across its namespaces
// (Deployments, and ReplicaSets for deploys that were rolled back).
func Collect(ctx context.Context, srcs []Source, o Options) Fleet {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	f := Fleet{APIVersion: APIVersion, GeneratedAt: o.Now().UTC().Truncate(time.Second),
		Clusters: make([]Cluster, len(srcs)), Rows: []Row{}}
	rows := make([][]Row, len(srcs))
	var wg sync.WaitGroup
	for i, s := range srcs {
		wg.Go(func() { f.Clusters[i], rows[i] = read(ctx, s, o.Timeout) })
	}
	wg.Wait()
	for _, r := range rows {
		f.Rows = append(f.Rows, r...)
	}
	f.Rows = sorted(f.Rows)
	return f
}

// read lists one source within timeout.
func read(ctx context.Context, s Source, timeout time.Duration) (Cluster, []Row) {
	c := Cluster{Context: s.Context}
	if s.Err != nil {
		c.Error = s.Err.Error()
		return c, nil
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	deps, rss, err := List(ctx, s.Client)
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			err = fmt.Errorf("no answer within %s: %w", timeout, err)
		}
		c.Error = err.Error()
		return c, nil
	}
	rows := Rows(s.Context, deps, rss)
	c.Reachable, c.Deployments = true, len(rows)
	return c, rows
}

// List reads, across all namespaces of one cluster, the Deployments
// Slipway manages and the ReplicaSets of Slipway's environments: two
// list calls, whatever the number of apps.
func List(ctx context.Context, c kubernetes.Interface) ([]appsv1.Deployment, []appsv1.ReplicaSet, error) {
	deps, err := c.AppsV1().Deployments(metav1.NamespaceAll).List(ctx,
		metav1.ListOptions{LabelSelector: deploy.LabelManagedBy + "=" + deploy.ManagedBy})
	if err != nil {
		return nil, nil, fmt.Errorf("listing Deployments: %w", err)
	}
	if len(deps.Items) == 0 {
		return nil, nil, nil
	}
	rss, err := c.AppsV1().ReplicaSets(metav1.NamespaceAll).List(ctx,
		metav1.ListOptions{LabelSelector: deploy.LabelEnv + "," + deploy.LabelName})
	if err != nil {
		return nil, nil, fmt.Errorf("listing ReplicaSets: %w", err)
	}
	return deps.Items, rss.Items, nil
}
