package engine

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/dynamic/fake"
)

var automated = map[string]any{"automated": map[string]any{"prune": true}}

func argoGitSource(url, targetRevision, path string) map[string]any {
	return map[string]any{"repoURL": url, "targetRevision": targetRevision, "path": path}
}

// argoApp is an Application with spec.source src, or spec.sources when src
// is a []any; policy is its spec.syncPolicy (nil for none).
func argoApp(ns, name string, src any, policy map[string]any) *unstructured.Unstructured {
	spec := map[string]any{"project": "default", "destination": map[string]any{"server": "https://kubernetes.default.svc"}}
	if srcs, ok := src.([]any); ok {
		spec["sources"] = srcs
	} else {
		spec["source"] = src
	}
	if policy != nil {
		spec["syncPolicy"] = policy
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
		"metadata": map[string]any{"namespace": ns, "name": name}, "spec": spec,
	}}
}

func fakeArgoCD(objs ...runtime.Object) *ArgoCD {
	c := fake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schemaGVR]string{
		ApplicationGVR: "ApplicationList",
	}, objs...)
	return &ArgoCD{Client: c}
}

var argoCompareFailed = AppCondition{Type: "ComparisonError", Message: "Failed to load target state: failed to generate manifest for source 1 of 1: rpc error: code = Unknown desc = authentication required"}

// classifyApplicationCases are ClassifyApplication's specification by
// example, for the commit ours.
var classifyApplicationCases = []struct {
	name          string
	s             ApplicationStatus
	state         State
	commit        string
	reason, quote string
}{
	{name: "nothing yet", s: ApplicationStatus{Revision: older, Sync: "Synced", OpRevision: older, Phase: "Succeeded"}, state: Pending},
	{name: "refreshed, not synced yet", s: ApplicationStatus{Revision: ours, Sync: "OutOfSync", OpRevision: older, Phase: "Succeeded"}, state: Pending},
	{name: "sync running", s: ApplicationStatus{Revision: ours, Sync: "OutOfSync", OpRevision: ours, Phase: "Running", OpMessage: "one or more tasks are running"},
		state: Pending},
	{name: "sync succeeded", s: ApplicationStatus{Revision: ours, Sync: "Synced", OpRevision: ours, Phase: "Succeeded", OpMessage: "successfully synced (all tasks run)"},
		state: Applied, commit: ours},
	{name: "revision in upper case", s: ApplicationStatus{Revision: strings.ToUpper(ours), OpRevision: strings.ToUpper(ours), Phase: "Succeeded"},
		state: Applied, commit: ours},
	// Argo CD syncs nothing when the commit changes nothing of the
	// Application's: it is Synced at our commit, its last operation an
	// older one's.
	{name: "synced without a sync", s: ApplicationStatus{Revision: ours, Sync: "Synced", OpRevision: older, Phase: "Succeeded"},
		state: Applied, commit: ours},
	{name: "sync failed", s: ApplicationStatus{Revision: ours, Sync: "OutOfSync", OpRevision: ours, Phase: "Failed",
		OpMessage: "one or more objects failed to apply, reason: Deployment.apps \"web\" is invalid:\n spec.template.spec.containers[0].image: Required value"},
		state: Failed, commit: ours, reason: "SyncFailed", quote: `one or more objects failed to apply, reason: Deployment.apps "web" is invalid: spec.template`},
	{name: "sync error without a message", s: ApplicationStatus{Revision: ours, OpRevision: ours, Phase: "Error"},
		state: Failed, commit: ours, reason: "SyncError", quote: "ended in phase Error"},
	{name: "ours failed wins over a newer commit", s: ApplicationStatus{Revision: later, OpRevision: ours, Phase: "Failed", OpMessage: "boom", Newer: later},
		state: Failed, commit: ours, reason: "SyncFailed", quote: "boom"},
	{name: "ours running waits for its end despite a newer commit", s: ApplicationStatus{Revision: later, OpRevision: ours, Phase: "Running", Newer: later},
		state: Pending},
	{name: "ours still running at the deadline", s: ApplicationStatus{Revision: ours, OpRevision: ours, Phase: "Running",
		OpMessage: "Retrying attempt #3 at 10:00AM: one or more objects failed to apply", Expired: true},
		state: Failed, commit: ours, reason: "SyncNotFinished", quote: "still running at the deadline: Retrying attempt #3"},
	{name: "superseded", s: ApplicationStatus{Revision: later, Sync: "OutOfSync", OpRevision: later, Phase: "Running", Newer: later},
		state: Superseded, commit: later},
	{name: "no automated sync, at once", s: ApplicationStatus{NoAutoSync: "spec.syncPolicy.automated is not set", Revision: ours, Sync: "OutOfSync", OpRevision: older, Phase: "Succeeded"},
		state: NotPickedUp, commit: ours, reason: "AutoSyncOff", quote: "spec.syncPolicy.automated is not set"},
	{name: "no automated sync, synced by hand", s: ApplicationStatus{NoAutoSync: "spec.syncPolicy.automated is not set", Revision: ours, Sync: "Synced", OpRevision: ours, Phase: "Succeeded"},
		state: Applied, commit: ours},
	{name: "comparison error, not expired", s: ApplicationStatus{Revision: older, Sync: "Unknown", Conditions: []AppCondition{argoCompareFailed}}, state: Pending},
	{name: "comparison error, expired", s: ApplicationStatus{Revision: older, Sync: "Unknown", Conditions: []AppCondition{{Type: "SharedResourceWarning", Message: "shared"}, argoCompareFailed}, Expired: true},
		state: NotPickedUp, commit: ours, reason: "ComparisonError", quote: "authentication required"},
	{name: "never compared, expired", s: ApplicationStatus{Revision: older, Sync: "Synced", Expired: true},
		state: NotPickedUp, commit: ours, reason: "RevisionNotSeen", quote: "it last compared it to " + older},
	{name: "compared, never synced, expired", s: ApplicationStatus{Revision: ours, Sync: "OutOfSync", Expired: true},
		state: NotPickedUp, commit: ours, reason: "NotSynced", quote: "sync status OutOfSync"},
	// status.health is not read: a Degraded app that synced our commit
	// is applied, and the caller judges the pods.
}

func TestArgoCDClassifyApplication(t *testing.T) {
	for _, tt := range classifyApplicationCases {
		t.Run(tt.name, func(t *testing.T) {
			o := ClassifyApplication(tt.s, ours)
			if o.State != tt.state {
				t.Fatalf("state %s, want %s (%+v)", o.State, tt.state, o)
			}
			if !o.Final() {
				return
			}
			if o.Commit != tt.commit || o.Reason != tt.reason || !strings.Contains(o.Message, tt.quote) {
				t.Errorf("outcome %+v, want commit %s, reason %q, message with %q", o, tt.commit, tt.reason, tt.quote)
			}
			if strings.ContainsAny(o.Message, "\n\x1b") || len(o.Message) > MaxMessage+len("…")+100 {
				t.Errorf("message %q is not one clean, short line", o.Message)
			}
		})
	}
}

// argoFindObjects are the Applications TestArgoCDFind looks among.
func argoFindObjects() []runtime.Object {
	return []runtime.Object{
		argoApp("argocd", "dev", argoGitSource("ssh://git@git.example.test/org/env", "main", "./envs/dev"), automated),
		argoApp("argocd", "prod", argoGitSource(envURL, "refs/heads/env/prod", ""), automated),
		argoApp("argocd", "other", argoGitSource("https://git.example.test/org/other.git", "main", "envs/dev"), automated),
		argoApp("team", "dev-copy", argoGitSource(envURL, "main", "envs/dev/"), automated),
		argoApp("argocd", "legacy", argoGitSource("https://git.example.test/org/legacy.git", "", "deploy"), automated),
		argoApp("argocd", "head", argoGitSource("https://git.example.test/org/legacy.git", "HEAD", "other"), automated),
		argoApp("argocd", "pinned", argoGitSource("https://git.example.test/org/legacy.git", "trunk", "other"), automated),
		argoApp("argocd", "chart", map[string]any{"repoURL": "https://charts.example.test", "chart": "web", "targetRevision": "1.2.3"}, automated),
		argoApp("argocd", "multi", []any{
			map[string]any{"repoURL": "https://charts.example.test", "chart": "web", "targetRevision": "1.2.3"},
			map[string]any{"repoURL": envURL, "targetRevision": "main", "ref": "values"},
			argoGitSource(envURL, "main", "envs/staging"),
		}, automated),
	}
}

func TestArgoCDFind(t *testing.T) {
	objs := argoFindObjects()
	tests := []struct {
		name, object, url, branch, path string
		want                            string
		index                           int
		err                             error
		says                            []string
	}{
		{name: "branch per environment", url: envURL, branch: "env/prod", path: ".", want: "argocd/prod", index: -1},
		{name: "directory per environment, multi-source", url: "git@git.example.test:org/env.git", branch: "main", path: "envs/staging", want: "argocd/multi", index: 2},
		{name: "empty targetRevision follows the default branch", url: "https://git.example.test/org/legacy", branch: "master", path: "deploy", want: "argocd/legacy", index: -1},
		{name: "HEAD matches when no Application names the branch", url: "https://git.example.test/org/legacy", branch: "main", path: "other", want: "argocd/head", index: -1},
		{name: "a named branch wins over HEAD", url: "https://git.example.test/org/legacy", branch: "trunk", path: "other", want: "argocd/pinned", index: -1},
		{name: "several", url: envURL, branch: "main", path: "envs/dev", err: ErrAmbiguous,
			says: []string{"argocd/dev", "team/dev-copy", "gitops.object"}},
		{name: "named resolves several", object: "team/dev-copy", url: envURL, branch: "main", path: "envs/dev", want: "team/dev-copy", index: -1},
		{name: "named in argocd", object: "dev", url: envURL, branch: "main", path: "./envs/dev", want: "argocd/dev", index: -1},
		{name: "wrong path", url: envURL, branch: "main", path: "envs/prod", err: ErrNotFound,
			says: []string{"path envs/prod", "argocd/dev (", `path "envs/dev"`, "gitops repo, branch and path", "argocd/chart (nothing from a git repository)", "spec.sources[2]"}},
		{name: "named is missing", object: "nope", url: envURL, branch: "main", path: "envs/dev", err: ErrNotFound,
			says: []string{`"nope"`, "gitops.object"}},
		{name: "named applies another path", object: "argocd/multi", url: envURL, branch: "main", path: "envs/dev",
			says: []string{"argocd/multi applies", `spec.sources[2] "git.example.test/org/env" branch "main" path "envs/staging"`}},
		{name: "named applies another branch", object: "argocd/dev", url: envURL, branch: "env/dev", path: "envs/dev",
			says: []string{"argocd/dev applies", `branch "main"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := fakeArgoCD(objs...)
			a.Object = tt.object
			app, err := a.Find(context.Background(), tt.url, tt.branch, tt.path)
			if tt.want != "" {
				if err != nil || app.String() != tt.want || app.SourceIndex != tt.index {
					t.Fatalf("Find = %s (source %d), %v; want %s (source %d)", app, app.SourceIndex, err, tt.want, tt.index)
				}
				return
			}
			if err == nil {
				t.Fatalf("Find = %s, want an error", app)
			}
			if tt.err != nil && !errors.Is(err, tt.err) {
				t.Errorf("error %v is not %v", err, tt.err)
			}
			for _, s := range tt.says {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not say %q", err, s)
				}
			}
		})
	}
}

func TestArgoCDFindInOneNamespace(t *testing.T) {
	a := fakeArgoCD(
		argoApp("argocd", "dev", argoGitSource(envURL, "main", "envs/dev"), automated),
		argoApp("team", "dev", argoGitSource(envURL, "main", "envs/dev"), automated),
	)
	a.Namespace = "team"
	app, err := a.Find(context.Background(), envURL, "main", "envs/dev")
	if err != nil || app.String() != "team/dev" {
		t.Fatalf("Find = %s, %v; want team/dev", app, err)
	}
	a.Object = "dev" // NAME is in Namespace when it is set
	if app, err := a.Find(context.Background(), envURL, "main", "envs/dev"); err != nil || app.String() != "team/dev" {
		t.Fatalf("Find of dev = %s, %v; want team/dev", app, err)
	}
}

func TestArgoCDNudgeSetsTheRefreshAnnotation(t *testing.T) {
	a := fakeArgoCD(argoApp("argocd", "dev", argoGitSource(envURL, "main", "envs/dev"), automated))
	at := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	a.Now = func() time.Time { return at }
	app, err := a.Find(context.Background(), envURL, "main", "envs/dev")
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Nudge(context.Background(), app); err != nil {
		t.Fatal(err)
	}
	var verbs []string
	for _, act := range a.Client.(*fake.FakeDynamicClient).Actions() {
		verbs = append(verbs, act.GetVerb()+" "+act.GetResource().Resource)
	}
	if got := strings.Join(verbs, ","); got != "list applications,patch applications" {
		t.Errorf("calls %s, want a list (Find) and one patch", got)
	}
	u, err := a.Client.Resource(ApplicationGVR).Namespace("argocd").Get(context.Background(), "dev", getOptions)
	if err != nil {
		t.Fatal(err)
	}
	ann := u.GetAnnotations()
	if ann[RefreshAnnotation] != "normal" || ann[RefreshTimestampAnnotation] != "2026-01-02T03:04:05.000000006Z" {
		t.Errorf("annotations %v, want %s: normal and the time", ann, RefreshAnnotation)
	}
}

func TestArgoCDApplicationStatus(t *testing.T) {
	u := argoApp("argocd", "multi", []any{argoGitSource(envURL, "main", "envs/a"), argoGitSource(envURL, "main", "envs/b")},
		map[string]any{"automated": map[string]any{"enabled": false}})
	u.Object["status"] = map[string]any{
		"sync": map[string]any{"status": "OutOfSync", "revisions": []any{older, ours}},
		"operationState": map[string]any{"phase": "Running", "message": "one or more tasks are running",
			"operation": map[string]any{"sync": map[string]any{"revisions": []any{older, later}}}},
		"conditions": []any{map[string]any{"type": "SyncError", "message": "Failed last sync attempt"}},
	}
	s := applicationStatus(u.Object, 1)
	want := ApplicationStatus{NoAutoSync: "spec.syncPolicy.automated.enabled is false", Revision: ours, Sync: "OutOfSync",
		OpRevision: later, Phase: "Running", OpMessage: "one or more tasks are running",
		Conditions: []AppCondition{{Type: "SyncError", Message: "Failed last sync attempt"}}}
	if s.NoAutoSync != want.NoAutoSync || s.Revision != want.Revision || s.Sync != want.Sync || s.OpRevision != want.OpRevision ||
		s.Phase != want.Phase || s.OpMessage != want.OpMessage || len(s.Conditions) != 1 || s.Conditions[0] != want.Conditions[0] {
		t.Errorf("status %+v\nwant   %+v", s, want)
	}
	single := argoApp("argocd", "dev", argoGitSource(envURL, "main", "envs/dev"), automated)
	single.Object["status"] = map[string]any{
		"sync":           map[string]any{"status": "Synced", "revision": ours},
		"operationState": map[string]any{"phase": "Succeeded", "syncResult": map[string]any{"revision": ours}, "operation": map[string]any{"sync": map[string]any{"revision": older}}},
	}
	if s := applicationStatus(single.Object, -1); s.NoAutoSync != "" || s.Revision != ours || s.OpRevision != ours {
		t.Errorf("single-source status %+v, want automated, revision and syncResult.revision %s", s, ours)
	}
}

// TestArgoCDWaitReadsRevisions drives Wait through a fake client.
func TestArgoCDWaitReadsRevisions(t *testing.T) {
	tests := []struct {
		name     string
		status   map[string]any
		policy   map[string]any
		descends bool
		state    State
		commit   string
	}{
		{name: "applied", status: map[string]any{"sync": map[string]any{"status": "Synced", "revision": ours},
			"operationState": map[string]any{"phase": "Succeeded", "syncResult": map[string]any{"revision": ours}}},
			policy: automated, state: Applied, commit: ours},
		{name: "not picked up", status: map[string]any{"sync": map[string]any{"status": "Synced", "revision": older}},
			policy: automated, state: NotPickedUp, commit: ours},
		{name: "superseded", status: map[string]any{"sync": map[string]any{"status": "OutOfSync", "revision": later}},
			policy: automated, descends: true, state: Superseded, commit: later},
		{name: "newer that does not descend", status: map[string]any{"sync": map[string]any{"status": "OutOfSync", "revision": later}},
			policy: automated, state: NotPickedUp, commit: ours},
		{name: "no automated sync", status: map[string]any{"sync": map[string]any{"status": "OutOfSync", "revision": ours}},
			state: NotPickedUp, commit: ours},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := argoApp("argocd", "dev", argoGitSource(envURL, "main", "envs/dev"), tt.policy)
			u.Object["status"] = tt.status
			a := fakeArgoCD(u)
			a.Timeout, a.Poll = 50*time.Millisecond, 10*time.Millisecond
			asked := 0
			descends := func(_ context.Context, c, ancestor string) (bool, error) {
				asked++
				return tt.descends && c == later && ancestor == ours, nil
			}
			app, err := a.Find(context.Background(), envURL, "main", "envs/dev")
			if err != nil {
				t.Fatal(err)
			}
			o, err := a.Wait(context.Background(), app, ours, descends)
			if err != nil {
				t.Fatal(err)
			}
			if o.State != tt.state || o.Commit != tt.commit {
				t.Errorf("Wait = %+v, want %s of %s", o, tt.state, tt.commit)
			}
			if asked > 1 {
				t.Errorf("descends asked %d times, want each commit once", asked)
			}
		})
	}
}

func TestArgoCDWaitEndsWithTheContext(t *testing.T) {
	u := argoApp("argocd", "dev", argoGitSource(envURL, "main", "envs/dev"), automated)
	a := fakeArgoCD(u)
	a.Poll = 10 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := a.Wait(ctx, Application{Namespace: "argocd", Name: "dev", SourceIndex: -1}, ours, nil)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "waiting for Application argocd/dev") {
		t.Errorf("Wait = %v, want the context's end, wrapped", err)
	}
	if _, err := a.Wait(context.Background(), Application{Namespace: "argocd", Name: "gone"}, ours, nil); err == nil || !strings.Contains(err.Error(), "reading Application argocd/gone") {
		t.Errorf("Wait of a missing Application = %v, want a reading error", err)
	}
}

func TestArgoCDTargetLooksOnce(t *testing.T) {
	// Automated sync turned off after our commit was synced undoes nothing:
	// Look says applied.
	u := argoApp("argocd", "dev", argoGitSource(envURL, "main", "envs/dev"), nil)
	u.Object["status"] = map[string]any{"sync": map[string]any{"status": "Synced", "revision": ours},
		"operationState": map[string]any{"phase": "Succeeded", "syncResult": map[string]any{"revision": ours}}}
	a := fakeArgoCD(u)
	tg, err := a.Target(context.Background(), envURL, "main", "envs/dev")
	if err != nil {
		t.Fatal(err)
	}
	if tg.String() != "Application argocd/dev" {
		t.Errorf("target %q, want Application argocd/dev", tg)
	}
	for commit, want := range map[string]State{ours: Applied, later: Pending} {
		if o, err := tg.Look(context.Background(), commit); err != nil || o.State != want {
			t.Errorf("Look of %.12s = %+v, %v; want %s", commit, o, err, want)
		}
	}
	if _, err := a.Target(context.Background(), envURL, "main", "envs/prod"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Target of envs/prod: %v, want ErrNotFound", err)
	}
}
