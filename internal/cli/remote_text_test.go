package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/slipwayhq/slipway/internal/deploy"
	"github.com/slipwayhq/slipway/internal/registry"
)

// hostile is remote text that retitles the window, clears the screen,
// writes the clipboard and reverses what follows, were it printed raw.
const hostile = "\x1b]0;pwned\x07\x1b[2J\x1b]52;c;ZXZpbA==\x07\u009b8m\u202eevil"

// checkClean fails when text output holds a control character other
// than newline, or a C1 or bidi character, and when it does not show the
// hostile text's visible escape want times or more.
func checkClean(t *testing.T, what, got string, want int) {
	t.Helper()
	for _, r := range got {
		if r < 0x20 && r != '\n' || r == 0x7f || r >= 0x80 && r <= 0x9f || r >= 0x202a && r <= 0x202e || r >= 0x2066 && r <= 0x2069 {
			t.Errorf("%s holds %U:\n%s", what, r, got)
			return
		}
	}
	if n := strings.Count(got, `\x1b]0;pwned\x07\x1b[2J`); n < want {
		t.Errorf("%s shows the escaped text %d times, want %d or more:\n%s", what, n, want, got)
	}
}

// run runs slipway with args in dir, without colour, and returns its
// exit code, stdout and stderr.
func run(t *testing.T, dir string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(context.Background(), append([]string{"slipway", "-C", dir, "--no-color"}, args...),
		Stdio{In: strings.NewReader(""), Out: &out, Err: &errb})
	return code, out.String(), errb.String()
}

// remoteProject writes a project whose dev environment lives on the API
// server at server (through a kubeconfig in KUBECONFIG) and whose
// registry is host.
func remoteProject(t *testing.T, server, host string) string {
	t.Helper()
	t.Setenv("HOME", t.TempDir())
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	dir := t.TempDir()
	project := fmt.Sprintf(`apiVersion: slipway/v1
app: hello
image: {base: scratch, entrypoint: [/app/hello]}
registries:
  dev: {url: %s/team, insecure: true}
environments:
  dev: {registry: dev, namespace: hello-dev, context: test}
deploy: {port: 8080}
`, host)
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	cfg := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: %q}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: test, context: {cluster: c, user: u}}]
current-context: test
`, server)
	for path, text := range map[string]string{filepath.Join(dir, "slipway.yaml"): project, kc: cfg} {
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("KUBECONFIG", kc)
	return dir
}

// fakeAPI is a Kubernetes API server answering GETs from objects, by
// path; anything else is a 404 Status.
func fakeAPI(t *testing.T, objects map[string]any) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		obj, ok := objects[r.URL.Path]
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			obj = metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}, Status: metav1.StatusFailure,
				Reason: metav1.StatusReasonNotFound, Code: http.StatusNotFound, Message: "not found"}
		}
		if st, ok := obj.(metav1.Status); ok && st.Code != 0 {
			w.WriteHeader(int(st.Code))
		}
		if err := json.NewEncoder(w).Encode(obj); err != nil {
			t.Error(err)
		}
	}))
	t.Cleanup(s.Close)
	return s
}

// hostileDeployment is the dev environment's Deployment, its ReplicaSet
// and its pod, with hostile text in the annotations Slipway records and
// in the pod's waiting reason.
func hostileDeployment() map[string]any {
	labels := map[string]string{"app": "hello"}
	ann := map[string]string{deploy.AnnotationVersion: "1.0.0", deploy.AnnotationBy: hostile, deploy.AnnotationReason: hostile,
		deploy.AnnotationRevision: "1", deploy.AnnotationAt: "2026-01-02T03:04:05Z"}
	one := int32(1)
	d := appsv1.Deployment{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{Name: "hello", Namespace: "hello-dev", UID: "d1", Annotations: ann},
		Spec: appsv1.DeploymentSpec{Replicas: &one, Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example/hello:1.0.0"}}}}}}
	yes := true
	rs := appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "hello-1", Namespace: "hello-dev", Labels: labels, Annotations: ann,
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: "hello", UID: "d1", Controller: &yes}}}}
	pod := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "hello-1-a", Namespace: "hello-dev", Labels: labels},
		Status: corev1.PodStatus{Phase: corev1.PodPending, ContainerStatuses: []corev1.ContainerStatus{{Name: "app",
			State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: hostile}}}}}}
	return map[string]any{
		"/apis/apps/v1/namespaces/hello-dev/deployments/hello": d,
		"/apis/apps/v1/namespaces/hello-dev/replicasets": appsv1.ReplicaSetList{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "ReplicaSetList"},
			Items: []appsv1.ReplicaSet{rs}},
		"/api/v1/namespaces/hello-dev/pods": corev1.PodList{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "PodList"},
			Items: []corev1.Pod{pod}},
	}
}

// TestStatusAndHistoryCleanAnnotations checks that annotations and pod
// states written by anyone with access to the namespace reach the text
// output of status and history only as visible escapes, and -o json
// exactly.
func TestStatusAndHistoryCleanAnnotations(t *testing.T) {
	dir := remoteProject(t, fakeAPI(t, hostileDeployment()).URL, "127.0.0.1:1")
	for _, tc := range []struct {
		args  []string
		shown int    // how often the table shows the text
		field string // a JSON field that holds it exactly
	}{
		{[]string{"status"}, 1, "deployedBy"},
		{[]string{"status", "dev"}, 2, "deployedBy"},
		{[]string{"history", "dev"}, 2, "reason"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			code, out, errs := run(t, dir, tc.args...)
			if code != ExitOK {
				t.Fatalf("exit %d: %s", code, errs)
			}
			checkClean(t, "stdout", out, tc.shown)
			checkClean(t, "stderr", errs, 0)
			code, out, errs = run(t, dir, append(tc.args, "-o", "json")...)
			if code != ExitOK {
				t.Fatalf("exit %d with -o json: %s", code, errs)
			}
			if want, _ := json.Marshal(hostile); !strings.Contains(out, fmt.Sprintf("%q: %s", tc.field, want)) {
				t.Errorf("-o json does not hold %s exactly as encoding/json writes it:\n%s", want, out)
			}
		})
	}
}

// TestAPIServerMessageIsCleaned checks an API server's own message, in
// the error of a refused request.
func TestAPIServerMessageIsCleaned(t *testing.T) {
	forbidden := metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}, Status: metav1.StatusFailure,
		Reason: metav1.StatusReasonForbidden, Code: http.StatusForbidden, Message: hostile}
	dir := remoteProject(t, fakeAPI(t, map[string]any{"/apis/apps/v1/namespaces/hello-dev/deployments/hello": forbidden}).URL, "127.0.0.1:1")
	code, out, errs := run(t, dir, "history", "dev")
	if code == ExitOK {
		t.Fatalf("history succeeded: %s", out)
	}
	checkClean(t, "stderr", errs, 1)
	checkJSONError(t, dir, "history", "dev")
}

// checkJSONError checks that the command fails and that its -o json error
// holds the hostile text exactly.
func checkJSONError(t *testing.T, dir string, args ...string) {
	t.Helper()
	code, out, errs := run(t, dir, append(args, "-o", "json")...)
	var j jsonError
	if err := json.Unmarshal([]byte(out), &j); err != nil || code == ExitOK {
		t.Fatalf("exit %d, -o json error %q (%v); stderr %s", code, out, err, errs)
	}
	if !strings.Contains(j.Error, hostile) {
		t.Errorf("-o json error lost the exact text: %q", j.Error)
	}
}

// TestRegistryMessageIsCleaned checks a registry's error message, here
// from the token service of a registry that denies every request.
func TestRegistryMessageIsCleaned(t *testing.T) {
	reg := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/v2/" {
			w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="http://%s/token",service="registry"`, r.Host))
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusForbidden)
		msg, _ := json.Marshal(hostile)
		fmt.Fprintf(w, `{"errors":[{"code":"DENIED","message":%s}]}`, msg)
	}))
	t.Cleanup(reg.Close)
	dir := remoteProject(t, "https://127.0.0.1:1", strings.TrimPrefix(reg.URL, "http://"))
	code, out, errs := run(t, dir, "deploy", "dev", "--dry-run", "--version", "1.0.0")
	if code == ExitOK {
		t.Fatalf("deploy --dry-run succeeded: %s", out)
	}
	checkClean(t, "stderr", errs, 1)
	checkJSONError(t, dir, "deploy", "dev", "--dry-run", "--version", "1.0.0")
}

// TestErrorTextIsCleaned checks report, through which every error
// reaches the terminal, with errors that carry remote text: a lock
// holder's fields from a Lease, a registry's reason, a git server's
// rejection.
func TestErrorTextIsCleaned(t *testing.T) {
	holder := deploy.Holder{Identity: "x", Who: hostile, Host: hostile, Operation: "deploy", Env: "dev", Version: hostile, Job: hostile,
		Since: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	for _, tc := range []struct {
		name string
		err  error
	}{
		{"lock holder", &deploy.LockedError{Env: "dev", Namespace: "hello-dev", Lease: "slipway-lock-hello-dev", Holder: holder, Expiry: 30 * time.Second}},
		{"registry reason", &registry.AuthError{Target: registry.Target{Host: "registry.example.com", Tried: "T"}, Status: http.StatusForbidden, Reason: "HTTP 403 DENIED: " + hostile}},
		{"git rejection", fmt.Errorf("pushing tag v1.0.0: %w", errors.New("command error on refs/tags/v1.0.0: "+hostile))},
		{"multi-line", fmt.Errorf("first line %s\nsecond line %s", hostile, hostile)},
		{"many lines", fmt.Errorf("reading: %s%s", hostile, strings.Repeat("\n<p>"+strings.Repeat("x", 3000), 1000))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errs bytes.Buffer
			report(Stdio{Out: &out, Err: &errs}, []string{"slipway", "deploy", "dev"}, tc.err)
			checkClean(t, "stderr", errs.String(), 1)
			if n := strings.Count(errs.String(), "\n"); n > maxErrorLines+2 || errs.Len() > 100_000 {
				t.Errorf("stderr has %d lines, %d bytes", n, errs.Len())
			}
			out.Reset()
			report(Stdio{Out: &out, Err: &errs}, []string{"slipway", "-o", "json", "deploy", "dev"}, tc.err)
			var j jsonError
			if err := json.Unmarshal(out.Bytes(), &j); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(j.Error, hostile) {
				t.Errorf("-o json error lost the exact text: %q", j.Error)
			}
		})
	}
}

// TestPipelineDriftIsCleaned checks the diff pipeline check prints: a
// committed file is a pull request's content.
func TestPipelineDriftIsCleaned(t *testing.T) {
	dir := t.TempDir()
	for name, text := range map[string]string{
		"slipway.yaml": "apiVersion: slipway/v1\napp: hello\nregistries: {dev: registry.example.com/team}\nenvironments: {dev: {registry: dev, namespace: hello}}\n",
		"ci.yaml":      "apiVersion: slipway/v1\ntasks: {ciBuild: make}\npipeline: [ciBuild, build, {push: dev}]\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if code, _, errs := run(t, dir, "pipeline", "generate", "-t", "drone"); code != ExitOK {
		t.Fatalf("generate: exit %d: %s", code, errs)
	}
	f, err := os.OpenFile(filepath.Join(dir, ".drone.yml"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("# " + hostile + "\n"); err != nil {
		t.Fatal(err)
	}
	f.Close()
	code, out, errs := run(t, dir, "pipeline", "check")
	if code == ExitOK {
		t.Fatalf("check passed a changed file: %s", errs)
	}
	checkClean(t, "the diff", out, 1)
	checkClean(t, "stderr", errs, 0)
}
