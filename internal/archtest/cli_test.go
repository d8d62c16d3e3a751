package archtest

import (
	"os/exec"
	"strings"
	"testing"
)

// cliVocabulary are the packages of the module that internal/cli may
// import: flow, which makes every decision of a run, and the vocabulary
// the command line prints with (short: digests written the one short way
// the core packages write them).
var cliVocabulary = []string{"internal/flow", "internal/config", "internal/remedy", "internal/progress", "internal/ui", "internal/deadline", "internal/short"}

// TestCLIMakesNoFlowDecision keeps internal/cli thin: flags in, options
// to one call of flow, the result out. Of the module's packages it imports
// flow and its vocabulary only; what it needs of the core packages (their
// types, the class of an error for its exit code) flow names.
func TestCLIMakesNoFlowDecision(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("needs the go command")
	}
	out, err := exec.Command("go", "list", "-f", `{{join .Imports " "}}`, module+"internal/cli").Output()
	if err != nil {
		t.Fatalf("listing the imports of internal/cli: %v", err)
	}
	allowed := map[string]bool{}
	for _, p := range cliVocabulary {
		allowed[module+p] = true
	}
	for _, imp := range strings.Fields(string(out)) {
		if strings.HasPrefix(imp, module) && !allowed[imp] {
			t.Errorf("internal/cli imports %s; reach it through internal/flow (one of %s)", imp, strings.Join(cliVocabulary, ", "))
		}
	}
}
