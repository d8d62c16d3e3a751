package fleet

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"fmt"
	"html/template"
	"slices"
	"strings"
	"time"

	"github.com/slipwayhq/slipway/internal/deploy"
	"github.com/slipwayhq/slipway/internal/short"
	"github.com/slipwayhq/slipway/internal/termtext"
)

var (
	//go:embed page.html.tmpl
	pageSource string
	//go:embed page.css
	pageCSS string
	//go:embed page.js
	pageJS string
)

// Policy is the page's Content-Security-Policy: nothing from anywhere,
// but its own style and search script, allowed by their hashes.
var Policy = "default-src 'none'; style-src " + hashOf(pageCSS) + "; script-src " + hashOf(pageJS) +
	"; img-src 'none'; base-uri 'none'; form-action 'none'"

// page is parsed once: the style, script and policy are Slipway's own
// text, put in before parsing so that the hashes cover the exact bytes;
// every value from a cluster goes through the template's actions, which
// escape it for where it lands.
var page = template.Must(template.New("page").Parse(strings.NewReplacer(
	"CSP_POLICY", Policy, "STYLE_TEXT", pageCSS, "SCRIPT_TEXT", pageJS).Replace(pageSource)))

func hashOf(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}

// Page renders f as one self-contained HTML page: the app x environment
// matrix, each state in colour and in words with an icon, and the deploys
// newest first. It fetches nothing; values from clusters are cleaned of
// terminal controls and escaped by html/template.
func Page(f Fleet) ([]byte, error) { return render(f, 0) }

// render is Page, reloading itself every refresh when not zero.
func render(f Fleet, refresh time.Duration) ([]byte, error) {
	d := pageOf(f)
	d.Refresh = int(refresh.Seconds())
	var b bytes.Buffer
	if err := page.Execute(&b, d); err != nil {
		return nil, fmt.Errorf("rendering the fleet page: %w", err)
	}
	return b.Bytes(), nil
}

type pageData struct {
	Refresh     int // seconds; 0: the page does not reload itself
	GeneratedAt string
	Clusters    []Cluster
	Count       int
	Legend      []entry
	Envs        []string
	Apps        []appLine
	Timeline    []event
	Details     []appDetail
}

// appDetail is one app's rows in full, an environment a column: where,
// what, and the deploy rolled back since.
type appDetail struct {
	Name   string
	Heads  []string // environment (context)
	Fields []field
}

// field is one line of an appDetail: a name, and per column its lines.
type field struct {
	Name  string
	Cells [][]string
}

type appLine struct {
	Name  string
	Cells [][]entry
}

type entry struct {
	State, Icon, Context, Version, Digest, Ready, Age, By, Reason string
	Notes                                                         []string
}

type event struct {
	At, App, Env, Version, By, Reason, State, Icon, Outcome string
	when                                                    time.Time
}

var icons = map[State]string{Failed: "✗", RolledBack: "↺", Drifted: "≠", InProgress: "◔", Canary: "◐", Healthy: "✓"}

func pageOf(f Fleet) pageData {
	d := pageData{GeneratedAt: f.GeneratedAt.UTC().Format(time.RFC3339), Count: len(f.Rows)}
	for _, c := range f.Clusters {
		d.Clusters = append(d.Clusters, Cluster{Context: clean(c.Context), Reachable: c.Reachable, Error: clean(c.Error), Deployments: c.Deployments})
	}
	for _, s := range []State{Healthy, Canary, InProgress, Drifted, RolledBack, Failed} {
		d.Legend = append(d.Legend, entry{State: string(s), Icon: icons[s]})
	}
	d.Envs, d.Apps = matrix(f.Rows, len(f.Clusters) > 1, f.GeneratedAt)
	d.Timeline = timeline(f.Rows)
	d.Details = details(f.Rows)
	return d
}

// details lists each app's rows in full, in the rows' order.
func details(rows []Row) []appDetail {
	var out []appDetail
	for _, r := range rows {
		if len(out) == 0 || out[len(out)-1].Name != clean(r.App) {
			out = append(out, appDetail{Name: clean(r.App)})
		}
		a := &out[len(out)-1]
		a.Heads = append(a.Heads, clean(r.Env+" ("+r.Context+")"))
		for i, values := range detailValues(r) {
			if i == len(a.Fields) {
				a.Fields = append(a.Fields, field{Name: detailNames[i]})
			}
			for j := range values {
				values[j] = clean(values[j])
			}
			a.Fields[i].Cells = append(a.Fields[i].Cells, values)
		}
	}
	return out
}

var detailNames = []string{"Namespace/Deployment", "Version", "Digest", "Image", "Commit", "Revision", "Ready",
	"Health", "Deployed", "By", "Why", "Drift", "Rolled back since", "Last checks", "History", "Registry", "GitOps"}

// detailValues are r's lines of each of detailNames.
func detailValues(r Row) [][]string {
	last := "-"
	if l := r.Last; l != nil {
		last = fmt.Sprintf("%s: %s (%s) at %s by %s%s", l.Outcome, cmp.Or(l.Version, "-"), cmp.Or(l.Digest, "-"),
			stamp(l.DeployedAt), cmp.Or(l.DeployedBy, "-"), why(l.Reason))
	}
	drift := r.Drift
	if len(drift) == 0 {
		drift = []string{"-"}
	}
	one := func(s string) []string { return []string{cmp.Or(s, "-")} }
	return [][]string{one(r.Namespace + "/" + r.Deployment), one(r.Version), one(r.Digest), one(r.Image), one(r.Commit),
		one(fmt.Sprint(r.Revision)), one(fmt.Sprintf("%d/%d", r.Ready, r.Desired)), one(string(r.Health)),
		one(stamp(r.DeployedAt)), one(r.DeployedBy), one(r.Reason), slices.Clone(drift), one(last),
		checkLines(r.Checks), historyLines(r.History), registryLines(r), gitOpsLines(r.GitOps)}
}

// gitOpsLines are what the environment repository holds and what the
// engine did with it; "-" for a direct environment.
func gitOpsLines(g *GitOpsState) []string {
	if g == nil {
		return []string{"-"}
	}
	out := []string{g.Engine + " " + g.Object}
	if g.Repo != "" {
		out = append(out, fmt.Sprintf("%s branch %s path %s", g.Repo, cmp.Or(g.Branch, "-"), cmp.Or(g.Path, ".")))
	}
	if g.Commit != "" {
		out = append(out, fmt.Sprintf("commit %s: %s (%s) at %s by %s%s", shortCommit(g.Commit), cmp.Or(g.Version, "-"),
			ShortDigest(g.Digest), stamp(g.When), cmp.Or(g.By, "-"), why(g.Reason)))
	}
	if g.Outcome != "" {
		out = append(out, strings.TrimSpace(g.Outcome+" "+g.Message))
	}
	if g.Error != "" {
		out = append(out, "error: "+g.Error)
	}
	return out
}

// registryLines are what the registry says of the image: its signature,
// its newest promotion, and its version tag; "-" when not asked.
func registryLines(r Row) []string {
	g := r.Registry
	if g == nil {
		return []string{"-"}
	}
	sig := "signature: " + g.Signature
	if g.SignatureProblem != "" {
		sig += " (" + g.SignatureProblem + ")"
	}
	out := []string{sig}
	if p := g.Promotion; p != nil {
		out = append(out, fmt.Sprintf("promoted from %s at %s by %s", cmp.Or(p.From, "-"), stamp(p.When), cmp.Or(p.Who, "-")))
	} else {
		out = append(out, "no promotion record")
	}
	switch {
	case g.TagDrift && g.TagDigest == "":
		out = append(out, "tag "+r.Version+": gone")
	case g.TagDigest != "":
		out = append(out, "tag "+r.Version+": "+ShortDigest(g.TagDigest))
	}
	if g.Error != "" {
		out = append(out, "error: "+g.Error)
	}
	return out
}

// checkLines are the lines of the last checks' record: the outcome, then
// each check with its mark.
func checkLines(rec *deploy.ChecksRecord) []string {
	if rec == nil || len(rec.Checks) == 0 {
		return []string{"-"}
	}
	outcome := "✗ failed"
	if rec.Passed {
		outcome = "✓ passed"
	}
	out := []string{fmt.Sprintf("%s: %s (%s) at %s", outcome, cmp.Or(rec.Version, "-"), ShortDigest(rec.Digest), stamp(rec.At))}
	for _, c := range rec.Checks {
		line := "✓ " + c.Check
		if !c.Passed {
			line = "✗ " + c.Check + ": " + c.Message
		}
		out = append(out, line)
	}
	return out
}

// historyLines are a row's revisions, newest first, one line each.
func historyLines(revs []Revision) []string {
	if len(revs) == 0 {
		return []string{"-"}
	}
	out := make([]string, len(revs))
	for i, v := range revs {
		out[i] = fmt.Sprintf("%d: %s (%s) at %s by %s%s", v.Revision, cmp.Or(v.Version, "-"), ShortDigest(v.Digest),
			stamp(v.DeployedAt), cmp.Or(v.DeployedBy, "-"), why(v.Reason))
	}
	return out
}

// stamp is a time as the page writes it in full; "-" for none.
func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

// matrix lays rows out by app (rows) and environment (columns).
func matrix(rows []Row, contexts bool, now time.Time) ([]string, []appLine) {
	var envs []string
	for _, r := range rows {
		if !slices.Contains(envs, r.Env) {
			envs = append(envs, r.Env)
		}
	}
	slices.SortFunc(envs, func(a, b string) int { return cmp.Or(cmp.Compare(envRank(a), envRank(b)), strings.Compare(a, b)) })
	var apps []appLine
	for _, r := range rows {
		if len(apps) == 0 || apps[len(apps)-1].Name != clean(r.App) {
			apps = append(apps, appLine{Name: clean(r.App), Cells: make([][]entry, len(envs))})
		}
		i := slices.Index(envs, r.Env)
		cells := apps[len(apps)-1].Cells
		cells[i] = append(cells[i], entryOf(r, contexts, now))
	}
	for i := range envs {
		envs[i] = clean(envs[i])
	}
	return envs, apps
}

func entryOf(r Row, contexts bool, now time.Time) entry {
	e := entry{State: string(r.State), Icon: icons[r.State], Version: clean(cmp.Or(r.Version, "-")),
		Digest: clean(ShortDigest(r.Digest)), Age: Ago(r.DeployedAt, now), By: clean(r.DeployedBy), Reason: clean(r.Reason)}
	if contexts {
		e.Context = clean(r.Context)
	}
	if r.Health != deploy.Missing {
		e.Ready = fmt.Sprintf("%d/%d ready", r.Ready, r.Desired)
	}
	for _, n := range Notes(r, now) {
		e.Notes = append(e.Notes, clean(n))
	}
	return e
}

// timeline lists each row's deploy and the deploys rolled back since,
// newest first.
func timeline(rows []Row) []event {
	var out []event
	for _, r := range rows {
		ev := event{App: clean(r.App), Env: clean(r.Env), Version: clean(r.Version), By: clean(r.DeployedBy),
			Reason: clean(r.Reason), when: r.DeployedAt, State: string(Healthy), Outcome: "running"}
		switch {
		case r.Last != nil && r.Last.Outcome == "rolled-back":
			ev.State, ev.Outcome = string(RolledBack), "rollback"
		case r.Health == deploy.Degraded:
			ev.State, ev.Outcome = string(Failed), "degraded"
		case r.Health != deploy.Healthy:
			ev.State, ev.Outcome = string(InProgress), string(r.Health)
		}
		out = append(out, ev)
		if l := r.Last; l != nil && l.Outcome == "failed" {
			out = append(out, event{App: ev.App, Env: ev.Env, Version: clean(l.Version), By: clean(l.DeployedBy),
				Reason: clean(l.Reason), when: l.DeployedAt, State: string(Failed), Outcome: "failed, rolled back"})
		}
	}
	slices.SortStableFunc(out, func(a, b event) int { return b.when.Compare(a.when) })
	for i := range out {
		out[i].At = "-"
		if !out[i].when.IsZero() {
			out[i].At = out[i].when.UTC().Format("2006-01-02 15:04")
		}
		out[i].Icon = icons[State(out[i].State)]
	}
	return out
}

// clean is remote text made inert for any reader: terminal controls and
// bidirectional overrides shown as escapes, one line, bounded.
func clean(s string) string {
	return strings.NewReplacer("\n", " ", "\t", " ").Replace(termtext.CleanLines(s, 512))
}

// ShortDigest is a digest as the fleet shows it: short.Digest without
// the algorithm, "-" for none.
func ShortDigest(d string) string {
	if d == "" {
		return "-"
	}
	return strings.TrimPrefix(short.Digest(d), "sha256:")
}

// Ago says coarsely how long before now t was; "-" for no time.
func Ago(t, now time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := now.Sub(t)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds ago", max(0, int(d.Seconds())))
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh ago", int(d.Hours()))
	}
	return fmt.Sprintf("%dd ago", int(d.Hours()/24))
}

// Notes are what a reader should know of a row besides its columns: the
// last deploy that does not run any more, drift, a canary, an error.
func Notes(r Row, now time.Time) []string {
	var notes []string
	if l := r.Last; l != nil && l.Outcome == "failed" {
		notes = append(notes, fmt.Sprintf("last deploy %s (%s) failed %s by %s and was rolled back%s",
			cmp.Or(l.Version, "-"), ShortDigest(l.Digest), Ago(l.DeployedAt, now), cmp.Or(l.DeployedBy, "-"), why(l.Reason)))
	}
	if l := r.Last; l != nil && l.Outcome == "rolled-back" {
		notes = append(notes, "rolled back by "+cmp.Or(l.DeployedBy, "-"))
	}
	if r.Health == deploy.Degraded {
		notes = append(notes, fmt.Sprintf("degraded: %d of %d pods ready, the rollout stopped progressing", r.Ready, r.Desired))
	}
	notes = append(notes, r.Drift...)
	if r.CanaryOf != "" {
		n := "canary of " + r.CanaryOf + " in progress"
		if r.Ahead() {
			n += ", ahead of " + r.CanaryOf + " (" + r.TargetVersion + ")"
		}
		notes = append(notes, n)
	}
	notes = append(notes, registryNotes(r)...)
	notes = append(notes, gitOpsNotes(r)...)
	if r.Error != "" {
		notes = append(notes, r.Error)
	}
	return notes
}

// gitOpsNotes say what a GitOps environment's repository holds, when it
// is not what runs, and what the engine did with it.
func gitOpsNotes(r Row) []string {
	g := r.GitOps
	if g == nil {
		return nil
	}
	switch {
	case g.Error != "":
		return []string{"gitops " + g.Object + ": " + g.Error}
	case g.Commit == "":
		return []string{"gitops " + g.Object + ": the repository holds no commit of the app"}
	case g.Pending:
		return []string{fmt.Sprintf("pending: the repository holds %s (%s, commit %s by %s), not applied yet", cmp.Or(g.Version, "-"),
			ShortDigest(g.Digest), shortCommit(g.Commit), cmp.Or(g.By, "-"))}
	case g.Outcome == "failed" || g.Outcome == "notPickedUp":
		return []string{fmt.Sprintf("gitops %s %s commit %s: %s", g.Object, g.Outcome, shortCommit(g.Commit), g.Message)}
	case g.Digest != "" && g.Digest != r.Digest:
		return []string{fmt.Sprintf("drift: the repository holds %s (%s, commit %s), the engine applied it, but %s runs", cmp.Or(g.Version, "-"),
			ShortDigest(g.Digest), shortCommit(g.Commit), ShortDigest(r.Digest))}
	}
	return nil
}

// shortCommit is a commit's first 12 hex digits.
func shortCommit(c string) string { return c[:min(len(c), 12)] }

// registryNotes are what a reader should know of what the registry says:
// an image without a valid signature, a version tag moved or gone, a
// registry that could not be read.
func registryNotes(r Row) []string {
	g := r.Registry
	if g == nil {
		return nil
	}
	var notes []string
	switch g.Signature {
	case SigUnsigned:
		notes = append(notes, "unsigned: no cosign signature in the registry")
	case SigUnverified:
		notes = append(notes, "signature not verified: "+g.SignatureProblem)
	}
	switch {
	case g.TagDrift && g.TagDigest == "":
		notes = append(notes, "tag "+r.Version+" is gone from the registry")
	case g.TagDrift:
		notes = append(notes, "tag "+r.Version+" now points at "+ShortDigest(g.TagDigest)+", not what runs")
	}
	if g.Error != "" {
		notes = append(notes, "registry: "+g.Error)
	}
	return notes
}

func why(reason string) string {
	if reason == "" {
		return ""
	}
	return ": " + reason
}
