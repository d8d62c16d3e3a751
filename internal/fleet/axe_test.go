package fleet

import (
	"encoding/json"
	"html"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// axeScript finds axe-core, which make test installs from the npm registry
// under bin/ (make deps), or skips the test without it (failing it under
// SLIPWAY_E2E=1).
func axeScript(t *testing.T) []byte {
	t.Helper()
	found, _ := filepath.Glob(filepath.Join("..", "..", "bin", "axe-core-*", "node_modules", "axe-core", "axe.min.js"))
	if len(found) == 0 {
		if os.Getenv("SLIPWAY_E2E") == "1" {
			t.Fatal("SLIPWAY_E2E=1 needs axe-core under bin/: make deps installs it")
		}
		t.Skip("needs axe-core under bin/ (make deps installs it)")
	}
	b, err := os.ReadFile(found[len(found)-1])
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// axeRun runs axe-core on the page once it is built and writes what it
// found into the page, for --dump-dom to show: each violation's id,
// impact, help and how many elements it hit.
const axeRun = `<script>
axe.run(document, {resultTypes: ["violations"]}).then(function (r) {
  var out = document.createElement("pre");
  out.id = "axe-results";
  out.textContent = JSON.stringify(r.violations.map(function (v) {
    return {id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.length,
      targets: v.nodes.slice(0, 3).map(function (n) { return n.target.join(" "); })};
  }));
  document.body.appendChild(out);
}, function (e) {
  var out = document.createElement("pre");
  out.id = "axe-results";
  out.textContent = "error: " + e;
  document.body.appendChild(out);
});
</script>`

var (
	cspMeta    = regexp.MustCompile(`<meta http-equiv="Content-Security-Policy"[^>]*>`)
	axeResults = regexp.MustCompile(`(?s)<pre id="axe-results">(.*?)</pre>`)
)

// violation is what axeRun writes of one of axe-core's violations.
type violation struct {
	ID, Impact, Help string
	Nodes            int
	Targets          []string
}

// TestBrowserAccessibility runs axe-core (from the npm registry) in
// headless Chromium on the page, at desktop and phone widths, with and
// without a search: no serious or critical violation. The copy it loads
// has the axe script added, so it drops the page's policy (which allows
// the page's own script only); the policy has tests of its own.
func TestBrowserAccessibility(t *testing.T) {
	browser(t)
	script := axeScript(t)
	b, err := Page(sample())
	if err != nil {
		t.Fatal(err)
	}
	page := cspMeta.ReplaceAllString(string(b), "")
	if page == string(b) {
		t.Fatal("the page has no Content-Security-Policy meta tag to drop")
	}
	inject := "<script>" + strings.ReplaceAll(string(script), "</script", `<\/script`) + "</script>" + axeRun
	page = strings.Replace(page, "</body>", inject+"</body>", 1)
	path := filepath.Join(t.TempDir(), "fleet-axe.html")
	if err := os.WriteFile(path, []byte(page), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, page, window string }{
		{"desktop", path, "1280,800"}, {"phone", path, "390,844"}, {"searched", path + "#q=pay", "1280,800"},
	} {
		dom := headless(t, c.page, "--dump-dom", "--window-size="+c.window, "--virtual-time-budget=20000")
		m := axeResults.FindStringSubmatch(dom)
		if m == nil {
			t.Fatalf("%s: axe-core wrote no results", c.name)
		}
		text := html.UnescapeString(m[1])
		var found []violation
		if err := json.Unmarshal([]byte(text), &found); err != nil {
			t.Fatalf("%s: axe-core: %s", c.name, text)
		}
		for _, v := range found {
			if v.Impact == "serious" || v.Impact == "critical" {
				t.Errorf("%s: %s violation %s (%s) on %d elements, e.g. %v", c.name, v.Impact, v.ID, v.Help, v.Nodes, v.Targets)
			} else {
				t.Logf("%s: %s violation %s (%s) on %d elements", c.name, v.Impact, v.ID, v.Help, v.Nodes)
			}
		}
	}
}
