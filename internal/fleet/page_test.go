package fleet

import (
	"github.com/slipwayhq/slipway/internal/deploy"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"

	"github.com/slipwayhq/slipway/internal/testutil"
)

// sample is a fleet with every state: two clusters that answered and one
// that did not.
func sample() Fleet {
	payProd := app{name: "pay", env: "prod", ns: "pay", version: "2.4.1", by: "ann@example.com", reason: "quarterly fees", revision: 7}.deployment()
	eu := []appsv1.Deployment{
		app{name: "web", env: "dev", ns: "web-dev", version: "1.5.0", by: "ci", at: now.Add(-5 * time.Minute)}.deployment(),
		app{name: "web", env: "canary", canaryOf: "prod", ns: "web", version: "1.5.0", by: "bob", reason: "new header"}.deployment(),
		app{name: "web", env: "prod", ns: "web", version: "1.4.2", by: "bob", at: now.Add(-72 * time.Hour)}.deployment(),
		payProd,
		app{name: "pay", env: "dev", ns: "pay-dev", version: "2.5.0", by: "ci", image: "docker.io/someone/pay:debug"}.deployment(),
	}
	payProd.Annotations[deploy.AnnotationChecks] = `{"version":"2.5.0","digest":"sha256:bbbbbbbbbbbb` + hexA[19:] + `","passed":false,"at":"` +
		now.Add(-19*time.Minute).Format(time.RFC3339) + `","checks":[{"check":"http GET /healthz","passed":true},` +
		`{"check":"http GET /pay","passed":false,"message":"request 2 of 5: answered 500, want 200 <b>\u001b[2J"}]}`
	rss := []appsv1.ReplicaSet{replicaSet(payProd, 6, "2.5.0", "cy", "faster checkout", now.Add(-20*time.Minute)),
		replicaSet(payProd, 5, "2.4.1", "ann@example.com", "quarterly fees", now.Add(-time.Hour))}
	us := []appsv1.Deployment{
		app{name: "search", env: "prod", ns: "search", version: "0.9.0", by: "dee", rolling: true, at: now.Add(-2 * time.Minute)}.deployment(),
		app{name: "search", env: "staging", ns: "search-stg", version: "0.8.0", by: "dee", reason: "0.9.0 leaks memory",
			cause: "slipway rollback staging 0.8.0", at: now.Add(-3 * time.Hour)}.deployment(),
		app{name: "web", env: "prod", ns: "web", version: "1.4.2", by: "bob", degraded: true, at: now.Add(-26 * time.Hour)}.deployment(),
	}
	rows := append(Rows("prod-eu", eu, rss), Rows("prod-us", us, nil)...)
	return Fleet{APIVersion: APIVersion, GeneratedAt: now, Rows: sorted(rows), Clusters: []Cluster{
		{Context: "prod-eu", Reachable: true, Deployments: 5}, {Context: "prod-us", Reachable: true, Deployments: 3},
		{Context: "prod-ap", Error: "listing Deployments: no answer within 10s: context deadline exceeded"},
	}}
}

func TestPageGolden(t *testing.T) {
	b, err := Page(sample())
	if err != nil {
		t.Fatal(err)
	}
	testutil.Golden(t, filepath.Join("testdata", "page.golden"), b)
}

// TestPageFetchesNothing checks the policy and that the page names no
// other place to load from: no src, no href, no url(), no @import.
func TestPageFetchesNothing(t *testing.T) {
	b, err := Page(sample())
	if err != nil {
		t.Fatal(err)
	}
	page := string(b)
	if !strings.Contains(page, `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'sha256-`) {
		t.Errorf("the page has no strict Content-Security-Policy:\n%s", page[:min(len(page), 600)])
	}
	for _, bad := range []string{"src=", "href=", "url(", "@import", "http://", "https://"} {
		if strings.Contains(page, bad) {
			t.Errorf("the page holds %q", bad)
		}
	}
	for _, want := range []string{pageCSS, pageJS} {
		if !strings.Contains(page, want) {
			t.Errorf("the page changed its style or script, whose hash the policy allows")
		}
	}
}

// evil is what anyone who can annotate a Deployment could write: markup,
// script, an attribute break-out, terminal escapes and a bidi override.
const evil = `<script>alert(1)</script><img src=x onerror=alert(2)>"' onmouseover=alert(3) ` +
	"\x1b]0;pwned\x07\x1b[2J\u202eevil</td></tr></table><!--"

func TestHostileDataReachesThePageInert(t *testing.T) {
	d := app{name: "web", env: "prod", ns: "web", version: "1.0.0" + evil, by: evil, reason: evil, image: "x/" + evil}.deployment()
	d.Labels["app.kubernetes.io/name"] = "web" + evil
	f := Fleet{APIVersion: APIVersion, GeneratedAt: now, Rows: Rows(evil, []appsv1.Deployment{d}, nil),
		Clusters: []Cluster{{Context: evil, Reachable: true, Deployments: 1}, {Context: "b" + evil, Error: evil}}}
	b, err := Page(f)
	if err != nil {
		t.Fatal(err)
	}
	page := string(b)
	if n := strings.Count(page, "<script"); n != 1 {
		t.Errorf("the page has %d script elements, want its own only", n)
	}
	for _, bad := range []string{"<img", "<script>alert", "</td></tr></table><!--", "\x1b", "\u202e", "\x07"} {
		if strings.Contains(page, bad) {
			t.Errorf("the page holds %q raw", bad)
		}
	}
	if n := strings.Count(page, `&lt;script&gt;alert(1)&lt;/script&gt;`); n < 5 {
		t.Errorf("the escaped text shows %d times, want it in every place (5 or more)", n)
	}
	if !strings.Contains(page, `\x1b]0;pwned\x07\x1b[2J\u202eevil`) {
		t.Errorf("the terminal escapes do not show as visible escapes")
	}
	for _, tag := range regexp.MustCompile(`<[a-zA-Z][^>]*>`).FindAllString(page, -1) {
		bare := regexp.MustCompile(`"[^"]*"`).ReplaceAllString(tag, `""`)
		if regexp.MustCompile(`\son\w+=|^<(img|iframe|object|embed|a|link|base|form)\b`).MatchString(bare) {
			t.Errorf("the page has the element %s", tag)
		}
	}
}
