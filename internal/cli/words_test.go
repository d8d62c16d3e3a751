package cli

import (
	"strconv"
	"testing"

	"github.com/slipwayhq/slipway/internal/remedy"
)

// TestEveryKindWorded checks that each kind of next step a core error may
// carry has words here, the one place next steps are worded.
func TestEveryKindWorded(t *testing.T) {
	n := 0
	for k := remedy.None + 1; k.String() != "Kind("+strconv.Itoa(int(k))+")"; k++ {
		n++
		if words(remedy.Remedy{Kind: k, Env: "dev", Registry: "dev", Host: "registry.example.com"}) == "" {
			t.Errorf("remedy.%s has no words", k)
		}
	}
	if n < len(wording) {
		t.Errorf("%d kinds of next step, but %d worded", n, len(wording))
	}
}
