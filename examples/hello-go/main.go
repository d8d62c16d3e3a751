// Command hello is a small HTTP service that drains gracefully: once it is
// asked to stop (SIGTERM, after the pod's preStop drain took it out of its
// Service) it answers every request with Connection: close for closeWindow,
// so that clients holding keep-alive connections to it reconnect to other
// pods, then shuts down, finishing the requests in flight.
// HELLO_SHUTDOWN=immediate makes it exit at once on SIGTERM instead, as a
// service without graceful shutdown would (used to show what a deploy
// without a drain costs).
package main

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"
)

var version = "dev"

// closeWindow is how long hello answers with Connection: close before it
// stops accepting requests.
const closeWindow = 2 * time.Second

func main() {
	var draining atomic.Bool
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		if draining.Load() {
			http.Error(w, "draining", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if draining.Load() {
			w.Header().Set("Connection", "close")
		}
		fmt.Fprintf(w, "hello from %s\n", version)
	})
	addr := ":8080"
	if p := os.Getenv("PORT"); p != "" {
		addr = ":" + p
	}
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, os.Interrupt)
	go func() {
		<-stop
		if os.Getenv("HELLO_SHUTDOWN") == "immediate" {
			os.Exit(0)
		}
		draining.Store(true)
		time.Sleep(closeWindow)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			log.Printf("shutdown: %v", err)
		}
	}()
	log.Printf("hello %s listening on %s", version, addr)
	if err := srv.ListenAndServe(); err != nil && err != http.ErrServerClosed {
		log.Fatal(err)
	}
}
