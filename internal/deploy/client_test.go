package deploy

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slipwayhq/slipway/internal/config"
)

// TestConnectNamesTheMissingContext checks the words of a kubeconfig that
// lacks the context asked for, or has no current one.
func TestConnectNamesTheMissingContext(t *testing.T) {
	const kubeconfig = `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {}}]
contexts: [{name: dev, context: {cluster: c, user: u}}]
`
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(path, []byte(kubeconfig), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ context, want string }{
		{"", "has no current context; valid: dev"},
		{"prod", `has no context "prod"; valid: dev`},
	} {
		_, err := Connect(config.Environment{Name: "dev"}, ClusterOptions{Kubeconfig: path, Context: tc.context})
		if !errors.Is(err, ErrNoContext) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("context %q: error %v, want ErrNoContext saying %q", tc.context, err, tc.want)
		}
	}
}
