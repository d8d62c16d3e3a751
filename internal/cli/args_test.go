package cli

import (
	"strings"
	"testing"
)

func TestIntersperse(t *testing.T) {
	app := newApp(Stdio{})
	for _, tc := range []struct{ in, want string }{
		{"slipway push dev -o json", "slipway push -o json dev"},
		{"slipway -C x push dev --force -j 8", "slipway -C x push --force -j 8 dev"},
		{"slipway config check -o json", "slipway config check -o json"},
		{"slipway release --bump=minor", "slipway release --bump=minor"},
		{"slipway help exit-codes", "slipway help exit-codes"},
		{"slipway push dev -- -o", "slipway push dev -- -o"},
		{"slipway frobnicate a -v", "slipway -v frobnicate a"},
	} {
		got := strings.Join(intersperse(app, strings.Fields(tc.in)), " ")
		if got != tc.want {
			t.Errorf("intersperse(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
