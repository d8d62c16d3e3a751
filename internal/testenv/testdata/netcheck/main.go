// Command netcheck is the container the real-node tests run: an HTTP server
// on :8080 that answers who it is, and on /dial?addr=HOST:PORT tries a TCP
// connection from inside the pod and reports how it ended and how long it
// took (at most 2 s), so that a test can prove a pod cannot reach outside.
package main

import (
	"encoding/json"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"time"
)

func main() {
	host, _ := os.Hostname()
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintf(w, "netcheck on %s\n", host) })
	mux.HandleFunc("/dial", func(w http.ResponseWriter, r *http.Request) {
		addr := r.URL.Query().Get("addr")
		start := time.Now()
		c, err := net.DialTimeout("tcp", addr, 2*time.Second)
		res := struct {
			Addr      string `json:"addr"`
			Connected bool   `json:"connected"`
			Error     string `json:"error,omitempty"`
			Millis    int64  `json:"ms"`
		}{Addr: addr, Millis: time.Since(start).Milliseconds()}
		if err != nil {
			res.Error = err.Error()
		} else {
			res.Connected = true
			c.Close()
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(res)
	})
	srv := &http.Server{Addr: ":8080", Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	log.Fatal(srv.ListenAndServe())
}
