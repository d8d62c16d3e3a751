// Command hello is a small HTTP service that drains gracefully: once it is
// asked to stop (SIGTERM, after the pod's preStop drain took it out of its
// Service) it answers every request with Connection: close for closeWindow,
// so that clients holding keep-alive connections to it reconnect to other
// pods, then shuts down, finishing the requests in flight.
// HELLO_SHUTDOWN=immediate makes it exit at once on SIGTERM instead, as a
// service without graceful shutdown would (used to show what a deploy
// without a drain costs).
//
// /metrics serves its requests by handler and status code, and their
// durations, in Prometheus's text format. HELLO_FAIL_PERCENT=N makes it
// answer 500 to N in every 100 requests for its page (used to show a
// canary that breaks under load).
package main

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"
)

var version = "dev"

// closeWindow is how long hello answers with Connection: close before it
// stops accepting requests.
const closeWindow = 2 * time.Second

func main() {
	failPercent, err := strconv.Atoi(os.Getenv("HELLO_FAIL_PERCENT"))
	if err != nil || failPercent < 0 || failPercent > 100 {
		failPercent = 0
	}
	var draining atomic.Bool
	srv := &http.Server{Addr: addr(), Handler: newMux(&draining, failPercent), ReadHeaderTimeout: 5 * time.Second}

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
	log.Printf("hello %s listening on %s", version, srv.Addr)
	if err := srv.ListenAndServe(); err != nil && err != http.ErrServerClosed {
		log.Fatal(err)
	}
}

// addr is where hello listens: :8080, or :$PORT.
func addr() string {
	if p := os.Getenv("PORT"); p != "" {
		return ":" + p
	}
	return ":8080"
}

// newMux serves hello's pages, counted in /metrics; failPercent in every
// 100 requests for / are answered 500.
func newMux(draining *atomic.Bool, failPercent int) *http.ServeMux {
	m := newMetrics()
	var pages atomic.Uint64
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", m.count("/healthz", func(w http.ResponseWriter, r *http.Request) {
		if draining.Load() {
			http.Error(w, "draining", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	}))
	mux.HandleFunc("/", m.count("/", func(w http.ResponseWriter, r *http.Request) {
		if draining.Load() {
			w.Header().Set("Connection", "close")
		}
		// The failures are spread evenly: request n fails when it takes
		// n*failPercent/100 to the next whole number.
		if n := pages.Add(1); n*uint64(failPercent)/100 != (n-1)*uint64(failPercent)/100 {
			http.Error(w, "failing on purpose (HELLO_FAIL_PERCENT)", http.StatusInternalServerError)
			return
		}
		fmt.Fprintf(w, "hello from %s\n", version)
	}))
	mux.HandleFunc("/metrics", m.serve)
	return mux
}
