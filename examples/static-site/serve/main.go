// Command serve serves a directory of files over HTTP, the server of the
// static-site image. On SIGTERM it fails its readiness check and answers
// with Connection: close while the pod is taken out of the Service, then
// shuts down once in-flight requests are done.
package main

import (
	"context"
	"flag"
	"log"
	"net/http"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	dir := flag.String("dir", "/srv/www", "directory to serve")
	addr := flag.String("addr", ":8080", "address to listen on")
	flag.Parse()

	var stopping atomic.Bool
	files := http.FileServer(http.Dir(*dir))
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			if stopping.Load() {
				http.Error(w, "stopping", http.StatusServiceUnavailable)
				return
			}
			w.Write([]byte("ok\n"))
			return
		}
		if stopping.Load() {
			w.Header().Set("Connection", "close")
		}
		files.ServeHTTP(w, r)
	})
	srv := &http.Server{Addr: *addr, Handler: handler, ReadHeaderTimeout: 5 * time.Second}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	go func() {
		<-ctx.Done()
		stopping.Store(true)
		shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(shutdown); err != nil {
			log.Printf("shutting down: %v", err)
		}
	}()
	log.Printf("serving %s on %s", *dir, *addr)
	if err := srv.ListenAndServe(); err != nil && err != http.ErrServerClosed {
		log.Fatal(err)
	}
}
