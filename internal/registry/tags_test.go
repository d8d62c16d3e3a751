package registry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

func TestTagNames(t *testing.T) {
	if got := VersionTag("1.2.3+build.4"); got != "1.2.3_build.4" {
		t.Errorf("VersionTag = %q", got)
	}
	if got := GitTag("0123456789abcdef"); got != "git-0123456" {
		t.Errorf("GitTag = %q", got)
	}
	if got := GitTag("0123"); got != "" {
		t.Errorf("GitTag of a short revision = %q, want none", got)
	}
}

func TestTagPolicy(t *testing.T) {
	tag := name.MustParseReference("registry.example.com/team/hello:1.0.0").(name.Tag)
	a := v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%064d", 1)}
	b := v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%064d", 2)}
	tests := []struct {
		name      string
		existing  v1.Hash
		force     bool
		wantMoved bool
		conflict  bool
	}{
		{"free", v1.Hash{}, false, false, false},
		{"this image's", a, false, false, false},
		{"another image's", b, false, false, true},
		{"another image's, forced", b, true, true, false},
	}
	for _, tt := range tests {
		moved, err := CheckVersionTag(tag, tt.existing, a, tt.force)
		var tce *TagConflictError
		if moved != tt.wantMoved || errors.Is(err, ErrTagConflict) != tt.conflict || (tt.conflict && (!errors.As(err, &tce) || tce.Concurrent)) {
			t.Errorf("%s: moved %v, err %v", tt.name, moved, err)
		}
	}
	for _, got := range []v1.Hash{{}, a} {
		if err := CheckTagWon(tag, got, a); err != nil {
			t.Errorf("CheckTagWon with the tag at %v: %v", got, err)
		}
	}
	var tce *TagConflictError
	if err := CheckTagWon(tag, b, a); !errors.As(err, &tce) || !tce.Concurrent {
		t.Errorf("CheckTagWon with the tag taken meanwhile: %v, want a concurrent conflict", err)
	}
}

func TestIsNotFound(t *testing.T) {
	if !IsNotFound(fmt.Errorf("heading: %w", &transport.Error{StatusCode: http.StatusNotFound})) {
		t.Error("a wrapped 404 is not found")
	}
	if IsNotFound(&transport.Error{StatusCode: http.StatusUnauthorized}) || IsNotFound(errors.New("x")) {
		t.Error("a 401 or another error is found")
	}
}

// TestSettleTime: twice the look and write, within 50ms and 2s, so that a
// fast registry's promotion waits 50ms, not a fixed quarter second.
func TestSettleTime(t *testing.T) {
	tests := []struct {
		took, want time.Duration
	}{
		{0, 50 * time.Millisecond},
		{10 * time.Millisecond, 50 * time.Millisecond},
		{40 * time.Millisecond, 80 * time.Millisecond},
		{300 * time.Millisecond, 600 * time.Millisecond},
		{5 * time.Second, 2 * time.Second},
	}
	for _, tt := range tests {
		if got := SettleTime(tt.took); got != tt.want {
			t.Errorf("SettleTime(%s) = %s, want %s", tt.took, got, tt.want)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := SettleTag(ctx, time.Second); !errors.Is(err, context.Canceled) {
		t.Errorf("SettleTag with an ended context: %v", err)
	}
}
