package flow

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/internal/config"
	"github.com/slipwayhq/slipway/internal/deploy"
)

func TestGate(t *testing.T) {
	now := time.Date(2026, 1, 2, 12, 0, 0, 0, time.UTC)
	req := config.Requirement{Env: "canary"}
	soak := config.Requirement{Env: "canary", Soak: config.Duration{Duration: 30 * time.Minute}}
	healthy := deploy.EnvStatus{Health: deploy.Healthy, Digest: "sha256:aa", Version: "1.0.0", DeployedAt: now.Add(-10 * time.Minute)}
	for _, tc := range []struct {
		name string
		req  config.Requirement
		st   deploy.EnvStatus
		want string // "" passes
	}{
		{"same digest, healthy", req, healthy, ""},
		{"other digest", req, deploy.EnvStatus{Health: deploy.Healthy, Digest: "sha256:bb", Version: "0.9.0"}, "it runs 0.9.0 (sha256:bb), not sha256:aa"},
		{"not deployed", req, deploy.EnvStatus{Health: deploy.Missing}, "nothing is deployed there"},
		{"unhealthy", req, deploy.EnvStatus{Health: deploy.Degraded, Digest: "sha256:aa"}, "is degraded"},
		{"unreachable", req, deploy.EnvStatus{Health: deploy.Unreachable, Error: "no route"}, "cannot be read (no route)"},
		{"soak not over", soak, healthy, "for 10m0s of the 30m0s soak; 20m0s to go"},
		{"soak over", soak, deploy.EnvStatus{Health: deploy.Healthy, Digest: "sha256:aa", DeployedAt: now.Add(-time.Hour)}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Gate("prod", tc.req, tc.st, "sha256:aa", now)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, ErrGate) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "prod requires canary") {
				t.Errorf("got %v, want %q", err, tc.want)
			}
		})
	}
}
