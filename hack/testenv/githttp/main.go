// Command githttp serves bare git repositories over smart HTTP on 127.0.0.1,
// for scripts (the demo's GitOps leg, trying Flux by hand); Go tests start
// the same server in process with githttp.Start.
//
//	go run ./hack/testenv/githttp -root DIR [-addr 127.0.0.1:0] [-addr-file F] [-user U]
//
// The password comes from GITHTTP_PASS, never the command line (which other
// users can read). Repositories DIR/NAME.git are served at
// http://ADDR/NAME.git. The chosen address is printed on stdout and written
// to -addr-file once the server listens.
package main

import (
	"flag"
	"fmt"
	"log"
	"os"

	"github.com/slipwayhq/slipway/internal/testenv/githttp"
)

func main() {
	root := flag.String("root", "", "directory holding the bare repositories NAME.git (required)")
	addr := flag.String("addr", "127.0.0.1:0", "listen address: 127.0.0.1:PORT only")
	addrFile := flag.String("addr-file", "", "write the chosen address here once listening")
	user := flag.String("user", "", "basic-auth user; the password is GITHTTP_PASS (no user: anonymous fetch, no push)")
	flag.Parse()
	if err := run(*root, *addr, *addrFile, *user, os.Getenv("GITHTTP_PASS")); err != nil {
		log.Fatalf("githttp: %v", err)
	}
}

func run(root, addr, addrFile, user, pass string) error {
	if root == "" {
		return fmt.Errorf("-root is required")
	}
	if fi, err := os.Stat(root); err != nil || !fi.IsDir() {
		return fmt.Errorf("-root %.64q is not a directory", root)
	}
	if user != "" && pass == "" {
		return fmt.Errorf("-user needs a password in GITHTTP_PASS")
	}
	ln, err := githttp.Listen(addr)
	if err != nil {
		return err
	}
	a := ln.Addr().String()
	if addrFile != "" {
		if err := os.WriteFile(addrFile+".tmp", []byte(a+"\n"), 0o644); err != nil {
			return fmt.Errorf("writing the address file: %w", err)
		}
		if err := os.Rename(addrFile+".tmp", addrFile); err != nil {
			return fmt.Errorf("writing the address file: %w", err)
		}
	}
	fmt.Println(a)
	logger := log.New(os.Stderr, "githttp: ", log.LstdFlags)
	srv := githttp.HTTPServer(&githttp.Server{Root: root, User: user, Pass: pass, Logf: logger.Printf})
	return srv.Serve(ln)
}
