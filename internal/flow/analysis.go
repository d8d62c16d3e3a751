package flow

import (
	"context"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/slipwayhq/slipway/internal/check"
	"github.com/slipwayhq/slipway/internal/config"
	"github.com/slipwayhq/slipway/internal/deploy"
	"github.com/slipwayhq/slipway/internal/progress"
)

// analysisReadTimeout bounds the gate's read of a canary's analysis.
const analysisReadTimeout = 10 * time.Second

// withAnalysis returns the checker of a deploy to env: for a canary with
// an analysis, checker (nil for none) followed by the analysis against
// the pods of the environment it is a canary of, on cluster c; else
// checker itself.
func (r *Runner) withAnalysis(env config.Environment, c *deploy.Cluster, checker deploy.Checker, o DeployOptions) deploy.Checker {
	a, ok := r.Project.AnalysisOf(env)
	if !ok {
		return checker
	}
	main, _ := r.Project.Environments.Get(env.CanaryOf)
	sel := labels.SelectorFromSet(labels.Set{deploy.LabelName: r.Project.App, deploy.LabelEnv: main.Name})
	return &check.Analysis{Config: a, Checks: checker, Client: c.Client, Progress: o.Progress,
		Main: check.Baseline{Env: main.Name, Namespace: main.Namespace, Selector: sel.String()}}
}

// analysisGate applies the analysis of req, the environment env requires,
// to digest: when req has one, it must have passed for digest (see
// AnalysisGate).
func (r *Runner) analysisGate(ctx context.Context, env, req config.Environment, digest string, o DeployOptions) error {
	if req.Analysis == nil {
		return nil
	}
	rec, err := r.analysisRecord(ctx, req, o)
	if err := AnalysisGate(env.Name, *env.Requires, rec, err, digest); err != nil {
		return err
	}
	progress.Or(o.Progress).Report(progress.Event{Kind: progress.Info, Step: "gate",
		Msg: fmt.Sprintf("%s's analysis of this digest passed at %s", req.Name, rec.At.Format(time.RFC3339))})
	return nil
}

// analysisRecord reads the analysis recorded on the Deployment of canary
// env: nil when there is none; an error when the Deployment cannot be
// read, or is missing.
func (r *Runner) analysisRecord(ctx context.Context, env config.Environment, o DeployOptions) (*check.AnalysisRecord, error) {
	c, err := r.cluster(env, deploy.ClusterOptions{Kubeconfig: o.Cluster.Kubeconfig})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, analysisReadTimeout)
	defer cancel()
	name := deploy.Name(r.Project, env)
	d, err := c.Client.AppsV1().Deployments(env.Namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("reading Deployment %s/%s: %w", env.Namespace, name, err)
	}
	return check.ReadAnalysisRecord(d.Annotations)
}
