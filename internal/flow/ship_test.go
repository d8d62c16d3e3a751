package flow

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/slipwayhq/slipway/internal/config"
	"github.com/slipwayhq/slipway/internal/registry"
	"github.com/slipwayhq/slipway/internal/release"
	"github.com/slipwayhq/slipway/internal/remedy"
)

// TestBuildAndPush builds the fixture's image for HEAD and pushes it to
// each registry a target names; a second push is up to date.
func TestBuildAndPush(t *testing.T) {
	f := newFixture(t)
	r := f.runner()
	b, err := r.Build(context.Background(), BuildOptions{Options: f.options()})
	if err != nil {
		t.Fatal(err)
	}
	if b.Version != head.Version || b.Record.Revision != head.Commit {
		t.Errorf("built %s of %s, want %s of %s", b.Version, b.Record.Revision, head.Version, head.Commit)
	}
	tests := []struct {
		target   string
		wantRepo string
		upToDate bool
	}{
		{"dev", "/team/hello@", false},
		{"dev", "/team/hello@", true},
		{"showcase", "/rc/hello@", false}, // an environment means its registry
		{"rc", "/rc/hello@", true},
	}
	for _, tt := range tests {
		res, err := r.Push(context.Background(), tt.target, PushOptions{Options: f.options()})
		if err != nil {
			t.Fatalf("Push(%s) = %v", tt.target, err)
		}
		if res.Digest != b.Digest || !strings.Contains(res.Reference, tt.wantRepo) || res.UpToDate != tt.upToDate {
			t.Errorf("Push(%s) = %s (up to date: %t), want %s in %s (%t)", tt.target, res.Reference, res.UpToDate, b.Digest, tt.wantRepo, tt.upToDate)
		}
	}
}

// TestBuildMissingSource: a layer source that is missing names the
// ci.yaml task that should make it, as a next step (with NoDeps, as CI's
// build step runs after that task's own job).
func TestBuildMissingSource(t *testing.T) {
	tests := []struct {
		name, ci, want string
	}{
		{"the task that names it", "apiVersion: slipway/v1\ntasks: {ciLint: 'true', ciBuild: 'echo hi > hello.txt'}\npipeline: [ciLint, ciBuild, build]\n", "ciBuild"},
		{"no ci.yaml", "", ""},
		{"a ci.yaml that does not load", "apiVersion: slipway/v0\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			if err := os.Remove(filepath.Join(f.p.Dir, "hello.txt")); err != nil {
				t.Fatal(err)
			}
			if tt.ci != "" {
				if err := os.WriteFile(filepath.Join(f.p.Dir, config.CIFile), []byte(tt.ci), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			o := f.options()
			o.NoDeps = true
			_, err := f.runner().Build(context.Background(), BuildOptions{Options: o})
			r, _ := remedy.Of(err)
			if !errors.Is(err, fs.ErrNotExist) || r.Kind != remedy.RunBuildTask || r.Task != tt.want || r.File != config.CIFile {
				t.Errorf("Build = %v (next step %+v); want a missing source with the task %q of %s", err, r, tt.want, config.CIFile)
			}
			if err != nil && !strings.HasPrefix(err.Error(), "layer 1 (linux/amd64, from hello.txt): ") {
				t.Errorf("the error does not say which layer: %v", err)
			}
		})
	}
}

// TestBuildRunsMakerTask: without NoDeps, a missing layer source that a
// ci.yaml task should make is made by running that task first, its output
// to TaskOutput; a task that fails fails the build with its exit code.
func TestBuildRunsMakerTask(t *testing.T) {
	tests := []struct {
		name, task string
		ok         bool
	}{
		{"the task makes it", "echo made the source; echo hi > hello.txt", true},
		{"the task fails", "echo broken; exit 3", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			if err := os.Remove(filepath.Join(f.p.Dir, "hello.txt")); err != nil {
				t.Fatal(err)
			}
			ci := "apiVersion: slipway/v1\ntasks: {ciBuild: '" + tt.task + "'}\npipeline: [ciBuild, build]\n"
			if err := os.WriteFile(filepath.Join(f.p.Dir, config.CIFile), []byte(ci), 0o644); err != nil {
				t.Fatal(err)
			}
			var out strings.Builder
			o := f.options()
			o.TaskOutput = &out
			_, err := f.runner().Build(context.Background(), BuildOptions{Options: o})
			var te *TaskError
			switch {
			case tt.ok && (err != nil || !strings.Contains(out.String(), "made the source")):
				t.Errorf("Build = %v, task output %q; want the task run, then the build", err, out.String())
			case !tt.ok && (!errors.As(err, &te) || te.Code != 3 || !strings.Contains(out.String(), "broken")):
				t.Errorf("Build = %v, task output %q; want the task's exit 3", err, out.String())
			}
		})
	}
}

// TestPushRefusals refuses an unknown target and a build of another
// commit than HEAD, unless AllowStale.
func TestPushRefusals(t *testing.T) {
	f := newFixture(t)
	if _, err := f.runner().Build(context.Background(), BuildOptions{Options: f.options()}); err != nil {
		t.Fatal(err)
	}
	later := f.factory()
	next := head
	next.Commit, next.ShortCommit = "beef000000000000000000000000000000000000", "beef000"
	later.Version = func(release.VersionOptions) (release.Info, error) { return next, nil }
	tests := []struct {
		name    string
		f       Factory
		target  string
		o       PushOptions
		wantErr error
		want    string
	}{
		{"unknown target", f.factory(), "nowhere", PushOptions{}, config.ErrInvalid, "pushing to nowhere: "},
		{"stale build", later, "dev", PushOptions{}, ErrStale, "it was built from c0ffee0 but HEAD is beef000; next: BuildFirst"},
		{"stale build allowed", later, "dev", PushOptions{AllowStale: true}, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewRunner(f.p, tt.f).Push(context.Background(), tt.target, tt.o)
			if !matches(err, tt.wantErr) || (err != nil && !strings.Contains(said(err), tt.want)) {
				t.Errorf("Push = %v, want %v saying %q", err, tt.wantErr, tt.want)
			}
		})
	}
}

// TestPushWithoutBuild says to build first.
func TestPushWithoutBuild(t *testing.T) {
	f := newFixture(t)
	if _, err := f.runner().Push(context.Background(), "dev", PushOptions{}); err == nil {
		t.Error("Push without a build succeeded")
	}
}

// TestPromote promotes the version at HEAD, a named version and a digest
// between the fixture's registries, and refuses what it cannot do.
func TestPromote(t *testing.T) {
	tests := []struct {
		name     string
		from, to string
		o        PromoteOptions
		twice    bool
		wantErr  error
		want     string
	}{
		{name: "the version at HEAD", from: "dev", to: "rc", want: "/rc/hello@"},
		{name: "again: up to date", from: "dev", to: "rc", twice: true, want: "/rc/hello@"},
		{name: "environments name registries", from: "dev", to: "prod", want: "/rc/hello@"},
		{name: "a named version", from: "dev", to: "rc", o: PromoteOptions{Version: "1.0.0"}, want: "/rc/hello@"},
		{name: "no record", from: "dev", to: "rc", o: PromoteOptions{NoRecord: true}, want: "/rc/hello@"},
		{name: "a missing version", from: "dev", to: "rc", o: PromoteOptions{Version: "9.9.9"}, wantErr: registry.ErrNotFound},
		{name: "an unknown source", from: "nowhere", to: "rc", wantErr: config.ErrInvalid, want: "promoting from nowhere: "},
		{name: "an unknown target", from: "dev", to: "nowhere", wantErr: config.ErrInvalid, want: "promoting to nowhere: "},
		{name: "sign without a signing section", from: "dev", to: "rc", o: PromoteOptions{Sign: true}, wantErr: config.ErrInvalid, want: "has no signing section"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			digest := f.push("dev", "1.2.3")
			if tt.o.Version == "1.0.0" {
				digest = f.push("dev", "1.0.0")
			}
			o := tt.o
			o.Options = f.options()
			r := f.runner()
			if tt.twice {
				if _, err := r.Promote(context.Background(), tt.from, tt.to, o); err != nil {
					t.Fatal(err)
				}
			}
			res, err := r.Promote(context.Background(), tt.from, tt.to, o)
			if !matches(err, tt.wantErr) {
				t.Fatalf("Promote = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				if !strings.Contains(err.Error(), tt.want) {
					t.Errorf("Promote = %v, want it to say %q", err, tt.want)
				}
				return
			}
			if res.Digest != digest || !strings.Contains(res.Target, tt.want) || res.UpToDate != tt.twice {
				t.Errorf("Promote = %+v, want %s in %s (up to date: %t)", res, digest, tt.want, tt.twice)
			}
			if (res.RecordDigest == "") != tt.o.NoRecord {
				t.Errorf("record %q with NoRecord %t", res.RecordDigest, tt.o.NoRecord)
			}
		})
	}
}

// TestEnvironmentNamed names environments for promotion records, and
// not registries (whose names win).
func TestEnvironmentNamed(t *testing.T) {
	p := &config.Project{
		Registries:   config.Registries{{Name: "dev"}, {Name: "rc"}},
		Environments: config.Environments{{Name: "dev", Registry: "dev"}, {Name: "prod", Registry: "rc"}},
	}
	for name, want := range map[string]string{"dev": "", "rc": "", "prod": "prod", "nowhere": ""} {
		if got := environmentNamed(p, name); got != want {
			t.Errorf("environmentNamed(%s) = %q, want %q", name, got, want)
		}
	}
}

// TestPromoteSigner loads no key without signing, and fails before
// copying anything when the key cannot be read.
func TestPromoteSigner(t *testing.T) {
	t.Setenv("SLIPWAY_SIGNING_PASSWORD", "pw")
	tests := []struct {
		name    string
		signing *config.Signing
		always  bool
		wantErr bool
	}{
		{"no signing", nil, false, false},
		{"signing, not at promote", &config.Signing{Key: "missing.key"}, false, false},
		{"signing at promote, no key", &config.Signing{Key: "missing.key", Promote: true}, false, true},
		{"sign asked, no key", &config.Signing{Key: "missing.key"}, true, true},
		{"sign asked, no section", nil, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := promoteSigner(&config.Project{Dir: t.TempDir(), Signing: tt.signing}, tt.always)
			if (err != nil) != tt.wantErr || (err == nil && s != nil) {
				t.Errorf("promoteSigner = %v, %v; want an error: %t", s, err, tt.wantErr)
			}
			if err != nil && errors.Is(err, config.ErrInvalid) != (tt.signing == nil) {
				t.Errorf("promoteSigner = %v: ErrInvalid only without a section", err)
			}
		})
	}
}

// TestBuildOpensRegistriesThroughFactory: the registries a build reads
// (its base image's among them) are opened by Factory.Registry.
func TestBuildOpensRegistriesThroughFactory(t *testing.T) {
	f := newFixture(t)
	fac := f.factory()
	var opened []string
	fac.Registry = func(o registry.Options) (*registry.Client, error) {
		opened = append(opened, o.Name)
		return registry.New(o)
	}
	if _, err := NewRunner(f.p, fac).Build(context.Background(), BuildOptions{Options: f.options()}); err != nil {
		t.Fatal(err)
	}
	for _, r := range f.p.Registries {
		if !slices.Contains(opened, r.Name) {
			t.Errorf("registry %s was not opened through the Factory (opened %q)", r.Name, opened)
		}
	}
}
