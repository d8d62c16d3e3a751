// Command gomodules is a Go binary with a module dependency, built by the
// SBOM tests to read its build info.
package main

import (
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
)

func main() {
	r, err := name.ParseReference("example.com/app:1")
	fmt.Println(r, err)
}
