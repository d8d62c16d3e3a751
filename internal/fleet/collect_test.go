package fleet

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/rest"
)

// TestCollectListsOncePerCluster reads 50 apps in 4 environments with
// two list calls, and no call per app.
func TestCollectListsOncePerCluster(t *testing.T) {
	var objs []runtime.Object
	for i := range 50 {
		for _, env := range []string{"dev", "showcase", "canary", "prod"} {
			a := app{name: fmt.Sprintf("app%02d", i), env: env, ns: fmt.Sprintf("app%02d-%s", i, env), version: "1.0.0"}
			d := a.deployment()
			objs = append(objs, &d)
		}
	}
	client := fake.NewClientset(objs...)
	f := Collect(context.Background(), []Source{{Context: "prod", Client: client}}, Options{Now: func() time.Time { return now }})
	if len(f.Rows) != 200 || f.Clusters[0].Deployments != 200 || !f.Clusters[0].Reachable {
		t.Fatalf("rows = %d, cluster = %+v", len(f.Rows), f.Clusters[0])
	}
	var verbs []string
	for _, a := range client.Actions() {
		verbs = append(verbs, a.GetVerb()+" "+a.GetResource().Resource)
	}
	if got := strings.Join(verbs, ", "); got != "list deployments, list replicasets" {
		t.Errorf("API calls = %s, want one list of Deployments and one of ReplicaSets", got)
	}
	if f.APIVersion != APIVersion || !f.GeneratedAt.Equal(now) {
		t.Errorf("fleet = %s at %s", f.APIVersion, f.GeneratedAt)
	}
}

// TestCollectBoundsEachCluster shows a cluster that refuses, one that
// never answers and one whose kubeconfig failed as unreachable, in
// bounded time, while the one that answers still counts.
func TestCollectBoundsEachCluster(t *testing.T) {
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	defer hang.Close()
	refused := httptest.NewServer(http.NotFoundHandler())
	refusedURL := refused.URL
	refused.Close()
	d := app{name: "web", env: "prod", ns: "web", version: "1.0.0"}.deployment()
	srcs := []Source{
		{Context: "good", Client: fake.NewClientset(&d)},
		{Context: "hangs", Client: restClient(t, hang.URL)},
		{Context: "refused", Client: restClient(t, refusedURL)},
		{Context: "missing", Err: errors.New(`kubeconfig context "missing" not found`)},
	}
	start := time.Now()
	f := Collect(context.Background(), srcs, Options{Timeout: 300 * time.Millisecond})
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("Collect took %s with a 300ms bound per cluster", took)
	}
	if len(f.Rows) != 1 || f.Rows[0].Context != "good" {
		t.Errorf("rows = %+v, want web in good", f.Rows)
	}
	for i, want := range []string{"", "no answer within 300ms", "listing Deployments", "not found"} {
		c := f.Clusters[i]
		if c.Reachable != (want == "") || !strings.Contains(c.Error, want) {
			t.Errorf("cluster %s = %+v, want error with %q", c.Context, c, want)
		}
	}
}

func restClient(t *testing.T, host string) kubernetes.Interface {
	c, err := kubernetes.NewForConfig(&rest.Config{Host: host})
	if err != nil {
		t.Fatal(err)
	}
	return c
}
