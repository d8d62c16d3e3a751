package flow

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/slipwayhq/slipway/internal/config"
	"github.com/slipwayhq/slipway/internal/deploy"
)

func fleetDeployment(app, env, ns, reason string) *appsv1.Deployment {
	return &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: app, Namespace: ns, UID: types.UID("u-" + ns),
		Labels:      map[string]string{deploy.LabelName: app, deploy.LabelEnv: env, deploy.LabelService: env, deploy.LabelManagedBy: deploy.ManagedBy},
		Annotations: map[string]string{deploy.AnnotationVersion: "1.0.0", deploy.AnnotationBy: "ann", deploy.AnnotationReason: reason}}}
}

// TestReadFleetAcrossContexts reads two contexts, one of which cannot be
// connected to, filters by environment, and writes the page inside the
// directory it is given only.
func TestReadFleetAcrossContexts(t *testing.T) {
	clusters := map[string]*deploy.Cluster{
		"eu": deploy.NewCluster(fake.NewClientset(fleetDeployment("web", "prod", "web", "<b>x</b>"), fleetDeployment("web", "dev", "web-dev", "")), "eu"),
	}
	connect := func(env config.Environment, o deploy.ClusterOptions) (*deploy.Cluster, error) {
		if c, ok := clusters[o.Context]; ok {
			return c, nil
		}
		return nil, errors.New("no context " + o.Context)
	}
	f, err := ReadFleet(t.Context(), FleetOptions{Contexts: []string{"eu", "us"}, Cluster: connect,
		Filter: FleetFilter{Envs: []string{"prod"}}, Now: func() time.Time { return time.Unix(0, 0) }})
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Rows) != 1 || f.Rows[0].App != "web" || f.Rows[0].Env != "prod" {
		t.Fatalf("rows = %+v, want web in prod", f.Rows)
	}
	if len(f.Clusters) != 2 || f.Clusters[1].Reachable || !strings.Contains(f.Clusters[1].Error, "no context us") {
		t.Errorf("clusters = %+v, want us unreachable", f.Clusters)
	}
	dir := t.TempDir()
	path, err := WriteFleetPage(dir, "out/fleet.html", f)
	if err != nil || path != filepath.Join(dir, "out", "fleet.html") {
		t.Fatalf("WriteFleetPage = %s, %v", path, err)
	}
	if b, _ := os.ReadFile(path); !strings.Contains(string(b), "&lt;b&gt;x&lt;/b&gt;") {
		t.Errorf("the page does not hold the escaped reason")
	}
	if _, err := WriteFleetPage(dir, "../outside.html", f); err == nil {
		t.Errorf("WriteFleetPage wrote outside its directory")
	}
	if _, err := WriteFleetPage(dir, filepath.Join(t.TempDir(), "abs.html"), f); err != nil {
		t.Errorf("WriteFleetPage to an absolute path: %v", err)
	}
}

// TestServeFleet serves the fleet on a loopback port until the context
// ends.
func TestServeFleet(t *testing.T) {
	client := deploy.NewCluster(fake.NewClientset(fleetDeployment("web", "prod", "web", "because")), "eu")
	connect := func(config.Environment, deploy.ClusterOptions) (*deploy.Cluster, error) { return client, nil }
	ctx, cancel := context.WithCancel(t.Context())
	urls := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- ServeFleet(ctx, ServeOptions{FleetOptions: FleetOptions{Cluster: connect}, Addr: "127.0.0.1:0",
			Listening: func(url string) { urls <- url }})
	}()
	url := <-urls
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "because") || !strings.Contains(string(body), `content="30"`) {
		t.Errorf("GET %s: %d\n%.400s", url, resp.StatusCode, body)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("ServeFleet = %v after the context ended, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ServeFleet did not stop with its context")
	}
}
