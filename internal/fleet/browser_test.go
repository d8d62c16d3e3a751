package fleet

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
)

const chromium = "/usr/bin/chromium"

// browser returns Debian's chromium, or skips the test without it
// (failing it under SLIPWAY_E2E=1).
func browser(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat(chromium); err != nil {
		if os.Getenv("SLIPWAY_E2E") == "1" {
			t.Fatal("SLIPWAY_E2E=1 needs a browser: apt-get install chromium")
		}
		t.Skip("needs " + chromium + " (apt-get install chromium)")
	}
	return chromium
}

// artifacts is where screenshots are kept after the test:
// $SLIPWAY_ARTIFACTS/fleet, or a directory under the system's temporary
// one.
func artifacts(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(os.TempDir(), "slipway-artifacts", "fleet")
	if d := os.Getenv("SLIPWAY_ARTIFACTS"); d != "" {
		dir = filepath.Join(d, "fleet")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// headless runs chromium on page (a path, maybe with a #fragment, or an
// http URL) with args, and returns stdout.
func headless(t *testing.T, page string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--no-first-run", "--user-data-dir=" + t.TempDir()}
	url := page
	if !strings.HasPrefix(page, "http://") {
		url = "file://" + page
	}
	cmd := exec.CommandContext(ctx, browser(t), append(append(base, args...), url)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %s: %v\n%s", strings.Join(args, " "), err, errb.String())
	}
	return out.String()
}

func writePage(t *testing.T, f Fleet) string {
	t.Helper()
	b, err := Page(f)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "fleet.html")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestBrowserShowsTheFleet loads the page from disk in headless Chromium:
// the cells are there with their states in words, the search script ran
// under the page's policy (it shows the search box), and screenshots at
// desktop and phone widths show the states' colours.
func TestBrowserShowsTheFleet(t *testing.T) {
	browser(t)
	page := writePage(t, sample())
	dom := headless(t, page, "--dump-dom")
	for _, want := range []string{"<th scope=\"row\">pay</th>", "✗ failed", "≠ drift", "↺ rolled-back", "◐ canary",
		"◔ progressing", "✓ healthy", "2.4.1", "last deploy 2.5.0", "? unreachable", "prod-ap", "failed, rolled back",
		"<summary>search</summary>", hexA, "failed: 2.5.0 (sha256:bbbbbbbbbbbb",
		"✗ failed: 2.5.0 (bbbbbbbbbbbb)", "✓ http GET /healthz", "✗ http GET /pay: request 2 of 5: answered 500, want 200 &lt;b&gt;\\x1b[2J",
		"6: 2.5.0 (bbbbbbbbbbbb) at", "5: 2.4.1 (bbbbbbbbbbbb) at"} {
		if !strings.Contains(dom, want) {
			t.Errorf("the page as Chromium built it lacks %q", want)
		}
	}
	if !strings.Contains(dom, `id="search"`) || strings.Contains(dom, `aria-label="Search" hidden`) {
		t.Errorf("the search box is still hidden: the page's script did not run under its policy")
	}
	searched := headless(t, page+"#q=ann@example", "--dump-dom")
	if n, all := strings.Count(searched, "<tr hidden"), strings.Count(searched, "<tr"); n == 0 || !strings.Contains(searched, "<tr><th scope=\"row\">pay</th>") {
		t.Errorf("searching for ann@example hid %d of %d rows and kept pay's: want the rest hidden", n, all)
	}
	if !strings.Contains(searched, "<details open=\"\">\n<summary>pay</summary>") || !strings.Contains(searched, "<details hidden=\"\">\n<summary>web</summary>") {
		t.Errorf("searching for ann@example did not open pay's details and hide web's")
	}
	dir := artifacts(t)
	for _, size := range []struct{ name, window string }{{"desktop", "1280,800"}, {"phone", "390,844"}} {
		shot := filepath.Join(dir, "fleet-"+size.name+".png")
		headless(t, page, "--screenshot="+shot, "--window-size="+size.window)
		t.Logf("screenshot (%s): %s", size.name, shot)
		for name, c := range map[string]color.RGBA{"failed": {0xff, 0xeb, 0xe9, 0xff}, "healthy": {0xda, 0xfb, 0xe1, 0xff}} {
			if !hasColour(t, shot, c) {
				t.Errorf("the %s screenshot shows no %s colour", size.name, name)
			}
		}
	}
}

// TestBrowserRunsNoHostileScript loads a page whose annotations hold
// script and markup: Chromium builds no element from them and runs none.
func TestBrowserRunsNoHostileScript(t *testing.T) {
	browser(t)
	const attack = `<script>document.title="pwned"</script><img src=x onerror="document.title='pwned'">`
	d := app{name: "web", env: "prod", ns: "web", version: "1.0.0", by: attack, reason: attack + "\x1b]0;pwned\x07"}.deployment()
	f := Fleet{APIVersion: APIVersion, GeneratedAt: now, Rows: Rows("c", []appsv1.Deployment{d}, nil),
		Clusters: []Cluster{{Context: "c", Reachable: true, Deployments: 1}}}
	dom := headless(t, writePage(t, f), "--dump-dom")
	if !strings.Contains(dom, "<title>Slipway fleet</title>") || strings.Contains(dom, "pwned</title>") {
		t.Errorf("a script from the annotations ran")
	}
	if strings.Contains(dom, "<img") || strings.Count(dom, "<script") != 1 {
		t.Errorf("the annotations made elements:\n%s", dom)
	}
	if !strings.Contains(dom, `&lt;script&gt;document.title="pwned"&lt;/script&gt;`) || !strings.Contains(dom, `\x1b]0;pwned\x07`) {
		t.Errorf("the annotations do not show as text")
	}
}

// hasColour reports whether the PNG at path has a pixel of c.
func hasColour(t *testing.T, path string, c color.RGBA) bool {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("reading %s: %v", path, err)
	}
	return anyPixel(img, func(r, g, b uint32) bool { return r>>8 == uint32(c.R) && g>>8 == uint32(c.G) && b>>8 == uint32(c.B) })
}

func anyPixel(img image.Image, match func(r, g, b uint32) bool) bool {
	bounds := img.Bounds()
	for y := bounds.Min.Y; y < bounds.Max.Y; y++ {
		for x := bounds.Min.X; x < bounds.Max.X; x++ {
			r, g, b, _ := img.At(x, y).RGBA()
			if match(r, g, b) {
				return true
			}
		}
	}
	return false
}

// TestBrowserShowsTheServedFleet loads the page as slipway serve serves
// it, its policy a header too, at desktop and phone widths.
func TestBrowserShowsTheServedFleet(t *testing.T) {
	browser(t)
	s, _ := served(t, time.Minute)
	dom := headless(t, s.URL+"/", "--dump-dom")
	for _, want := range []string{"<th scope=\"row\">pay</th>", "✗ failed", `<meta http-equiv="refresh" content="60">`} {
		if !strings.Contains(dom, want) {
			t.Errorf("the served page as Chromium built it lacks %q", want)
		}
	}
	if strings.Contains(dom, `aria-label="Search" hidden`) {
		t.Errorf("the search box is still hidden: the page's script did not run under its policy")
	}
	dir := artifacts(t)
	for _, size := range []struct{ name, window string }{{"desktop", "1280,800"}, {"phone", "390,844"}} {
		shot := filepath.Join(dir, "served-"+size.name+".png")
		headless(t, s.URL+"/", "--screenshot="+shot, "--window-size="+size.window)
		t.Logf("screenshot (served, %s): %s", size.name, shot)
	}
}
