package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/slipwayhq/slipway/internal/deploy"
)

// TestStatusAllCleansClusterText reads a cluster whose Slipway-managed
// Deployment carries hostile annotations: the table shows them as
// visible escapes, -o json exactly, and the page as text only.
func TestStatusAllCleansClusterText(t *testing.T) {
	const markup = `<script>alert(1)</script>`
	d := appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "hello", Namespace: "hello-dev", UID: "d1",
		Labels: map[string]string{deploy.LabelName: "hello", deploy.LabelEnv: "dev", deploy.LabelService: "dev", deploy.LabelManagedBy: deploy.ManagedBy},
		Annotations: map[string]string{deploy.AnnotationVersion: "1.0.0", deploy.AnnotationBy: hostile, deploy.AnnotationReason: markup + hostile,
			deploy.AnnotationAt: "2026-01-02T03:04:05Z"}}}
	list := appsv1.DeploymentList{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "DeploymentList"}, Items: []appsv1.Deployment{d}}
	rss := appsv1.ReplicaSetList{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "ReplicaSetList"}}
	dir := remoteProject(t, fakeAPI(t, map[string]any{"/apis/apps/v1/deployments": list, "/apis/apps/v1/replicasets": rss}).URL, "127.0.0.1:1")
	code, out, errs := run(t, dir, "status", "--all", "--html", "out/fleet.html")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	checkClean(t, "stdout", out, 2)
	if !strings.Contains(out, "hello") || !strings.Contains(errs, filepath.Join(dir, "out", "fleet.html")) {
		t.Errorf("status --all printed:\n%s\n%s", out, errs)
	}
	page, err := os.ReadFile(filepath.Join(dir, "out", "fleet.html"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(page), markup) || strings.Contains(string(page), "\x1b") || !strings.Contains(string(page), `&lt;script&gt;alert(1)&lt;/script&gt;\x1b]0;pwned`) {
		t.Errorf("the page does not hold the annotations as inert text")
	}
	code, out, errs = run(t, dir, "status", "--all", "-o", "json")
	if code != ExitOK {
		t.Fatalf("exit %d with -o json: %s", code, errs)
	}
	if want, _ := json.Marshal(hostile); !strings.Contains(out, fmt.Sprintf("%q: %s", "deployedBy", want)) {
		t.Errorf("-o json does not hold %s exactly:\n%s", want, out)
	}
}

func TestStatusFleetFlagsNeedAll(t *testing.T) {
	for _, args := range [][]string{{"--failed"}, {"--app", "x"}, {"--html", "f.html"}, {"--context", "a", "--context", "b"}} {
		code, _, errs := run(t, t.TempDir(), append([]string{"status"}, args...)...)
		if code != ExitUsage || !strings.Contains(errs, "--") {
			t.Errorf("status %s: exit %d, %s; want a usage error", strings.Join(args, " "), code, errs)
		}
	}
}

func TestServeRefreshIsAtLeastASecond(t *testing.T) {
	code, _, errs := run(t, t.TempDir(), "serve", "--refresh", "10ms")
	if code != ExitUsage || !strings.Contains(errs, "at least 1s") {
		t.Errorf("serve --refresh 10ms: exit %d, %s; want a usage error", code, errs)
	}
}
