// Command billing is the billing service of the monorepo example: it
// answers /healthz and prices a request, and drains on SIGTERM.
package main

import (
	"context"
	"encoding/json"
	"log"
	"net/http"
	"os/signal"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	var draining atomic.Bool
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		if draining.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	mux.HandleFunc("GET /price", func(w http.ResponseWriter, r *http.Request) {
		units, err := strconv.Atoi(r.URL.Query().Get("units"))
		if err != nil || units < 0 {
			http.Error(w, "units must be a whole number", http.StatusBadRequest)
			return
		}
		json.NewEncoder(w).Encode(map[string]int{"units": units, "cents": units * 125})
	})
	srv := &http.Server{Addr: ":8080", Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		draining.Store(true)
		done, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(done)
	}()
	if err := srv.ListenAndServe(); err != http.ErrServerClosed {
		log.Fatal(err)
	}
}
