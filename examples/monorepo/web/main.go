// Command web serves the monorepo example's site, compiled into the binary.
package main

import (
	"embed"
	"io/fs"
	"log"
	"net/http"
	"time"
)

//go:embed site
var content embed.FS

func main() {
	site, err := fs.Sub(content, "site")
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Addr: ":8080", Handler: http.FileServerFS(site), ReadHeaderTimeout: 5 * time.Second}
	log.Fatal(srv.ListenAndServe())
}
