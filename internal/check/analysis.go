package check

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/slipwayhq/slipway/internal/config"
	"github.com/slipwayhq/slipway/internal/deploy"
	"github.com/slipwayhq/slipway/internal/progress"
)

// apiTimeout bounds each call an analysis makes to the API server.
const apiTimeout = 10 * time.Second

// Baseline is what a canary is compared with: the pods of the environment
// it is a canary of.
type Baseline struct {
	Env, Namespace string
	// Selector selects the environment's pods (a label selector).
	Selector string
}

// Analysis is the deploy.Checker of a canary with an analysis: it runs
// the canary's own checks, then, once they pass, compares the canary's
// pods with Main's by Prometheus queries, every Config.Interval for
// Config.Window (see compare), and records the outcome on the canary's
// Deployment (AnnotationAnalysis) for the gate of the environments that
// require the canary.
type Analysis struct {
	// Config is the analysis, its defaults filled in
	// (config.Project.AnalysisOf).
	Config config.Analysis
	// Checks are the canary's own checks, nil for none.
	Checks deploy.Checker
	Main   Baseline
	// Client lists Main's pods and records the outcome.
	Client kubernetes.Interface
	// HTTPClient sends the queries (default http.DefaultClient).
	HTTPClient *http.Client
	Progress   progress.Reporter
}

var _ deploy.Checker = (*Analysis)(nil)

// AnalysisCheck names a canary analysis among a deploy's checks.
const AnalysisCheck = deploy.AnalysisCheckName

// Check runs a.Checks on t, then, when they passed, the analysis, whose
// result comes last; the outcome is recorded on t's Deployment, and a
// passed analysis that cannot be recorded fails, since no gate could see
// it. The error is ctx's, when it ends.
func (a *Analysis) Check(ctx context.Context, t deploy.CheckTarget) ([]deploy.CheckResult, error) {
	var out []deploy.CheckResult
	if a.Checks != nil {
		res, err := a.Checks.Check(ctx, t)
		if err != nil || slices.ContainsFunc(res, func(r deploy.CheckResult) bool { return !r.Passed }) {
			return res, err
		}
		out = res
	}
	res, err := a.analyse(ctx, t)
	if err != nil {
		return append(out, res), err
	}
	rec := AnalysisRecord{Digest: deploy.DigestOf(t.Image), Verdict: verdictOf(res.Passed), At: time.Now().UTC(), Message: clip(res.Message, maxRecord/2)}
	if err := a.record(ctx, t, rec); err != nil {
		if ctx.Err() != nil {
			return append(out, res), ctx.Err()
		}
		res.Passed = false
		res.Message = fmt.Sprintf("%s; but recording it on Deployment %s/%s failed, so no gate can see it: %s", res.Message, t.Namespace, t.Deployment, clean(err.Error()))
	}
	if !res.Passed {
		progress.Or(a.Progress).Report(progress.Event{Kind: progress.Warn, Step: "checks", Msg: AnalysisCheck + " failed: " + res.Message})
	}
	return append(out, res), nil
}

// analyse compares t's pods with a.Main's, round after round, until the
// window has gone by (the last round at its end) or a metric breaks its
// bounds.
func (a *Analysis) analyse(ctx context.Context, t deploy.CheckTarget) (deploy.CheckResult, error) {
	cfg := a.Config
	res := deploy.CheckResult{Check: AnalysisCheck}
	rep := progress.Or(a.Progress)
	rep.Report(progress.Event{Kind: progress.Start, Step: "analysis", Msg: fmt.Sprintf("comparing %s's %d pods with %s's for %s, every %s",
		t.Env, len(t.Pods), a.Main.Env, cfg.Window.Duration, cfg.Interval.Duration)})
	canary := side{env: t.Env, namespace: t.Namespace, version: t.Version, pods: t.Pods}
	tallies := make([]tally, len(cfg.Metrics))
	start := time.Now()
	for n := 1; ; n++ {
		readings, msg, err := a.round(ctx, canary)
		if err != nil {
			return res, err
		}
		if msg == "" {
			msg = judgeRound(cfg.Metrics, a.Main.Env, readings, tallies)
		}
		at := time.Since(start).Round(time.Second)
		if msg != "" {
			res.Message = fmt.Sprintf("round %d, %s into the %s window: %s", n, at, cfg.Window.Duration, msg)
			res.Output = readingLines(cfg.Metrics, a.Main.Env, readings)
			return res, nil
		}
		rep.Report(progress.Event{Kind: progress.Info, Step: "analysis", Msg: fmt.Sprintf("round %d, %s of %s: %s", n, at, cfg.Window.Duration, roundText(cfg.Metrics, a.Main.Env, readings))})
		left := cfg.Window.Duration - time.Since(start)
		if left <= 0 {
			if msg := noData(cfg.Metrics, a.Main.Env, tallies); msg != "" {
				res.Message = fmt.Sprintf("after %d rounds in %s: %s", n, at, msg)
				return res, nil
			}
			res.Passed, res.Message = true, fmt.Sprintf("held over %s: %d rounds, every metric within its bounds against %s", at, n, a.Main.Env)
			return res, nil
		}
		// The last round comes at the window's end, not before: a soak
		// that the window defaults to is over once the analysis is.
		if err := sleep(ctx, min(cfg.Interval.Duration, left)); err != nil {
			return res, err
		}
	}
}

// round reads every metric once for the canary and for a.Main, whose pods
// are listed anew; msg says what made the round fail, if anything. The
// error is ctx's, when it ends.
func (a *Analysis) round(ctx context.Context, canary side) (readings []reading, msg string, err error) {
	main, err := a.mainSide(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil, "", ctx.Err()
		}
		return nil, fmt.Sprintf("listing the pods of %s: %s", a.Main.Env, clean(err.Error())), nil
	}
	for _, m := range a.Config.Metrics {
		var r reading
		for _, s := range []struct {
			side
			v *value
		}{{canary, &r.canary}, {main, &r.main}} {
			v, problem := a.read(ctx, m.Query, s.side)
			if ctx.Err() != nil {
				return nil, "", ctx.Err()
			}
			if problem != "" {
				return readings, fmt.Sprintf("%s: the query for %s %s", m.Name, s.env, problem), nil
			}
			*s.v = v
		}
		readings = append(readings, r)
	}
	return readings, "", nil
}

// read queries one side's value of the metric whose query is q.
func (a *Analysis) read(ctx context.Context, q string, s side) (value, string) {
	query, err := fillQuery(q, s.namespace, s.env, s.version, s.pods)
	if err != nil {
		return value{}, "could not be filled in: " + clean(err.Error())
	}
	if len(s.pods) == 0 {
		return value{}, "" // no pods, no value: {{.Pods}} would match every pod
	}
	samples, err := promQuery(ctx, a.HTTPClient, a.Config.URL, query)
	if err != nil {
		return value{}, "failed: querying Prometheus: " + clean(err.Error())
	}
	return oneValue(samples)
}

// side is one side of an analysis: the canary's pods or its main
// environment's.
type side struct {
	env, namespace, version string
	pods                    []string
}

// mainSide lists the ready pods of a.Main, by name; its version is that
// of their label.
func (a *Analysis) mainSide(ctx context.Context) (side, error) {
	ctx, cancel := context.WithTimeout(ctx, apiTimeout)
	defer cancel()
	s := side{env: a.Main.Env, namespace: a.Main.Namespace}
	list, err := a.Client.CoreV1().Pods(a.Main.Namespace).List(ctx, metav1.ListOptions{LabelSelector: a.Main.Selector})
	if err != nil {
		return s, fmt.Errorf("listing pods %s: %w", a.Main.Selector, err)
	}
	for _, p := range list.Items {
		if p.DeletionTimestamp == nil && ready(&p) {
			s.pods = append(s.pods, p.Name)
			s.version = p.Labels[deploy.LabelVersion]
		}
	}
	return s, nil
}

// ready reports whether pod p is ready.
func ready(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// roundText writes a round's readings on one line, for progress.
func roundText(metrics []config.AnalysisMetric, main string, readings []reading) string {
	text := ""
	for i, m := range metrics {
		if i > 0 {
			text += "; "
		}
		text += fmt.Sprintf("%s canary %s, %s %s", m.Name, readings[i].canary, main, readings[i].main)
	}
	return text
}
