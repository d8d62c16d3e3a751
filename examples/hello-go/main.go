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
	"sort"
	"strconv"
	"strings"
	"sync"
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

// buckets are the upper bounds, in seconds, of the request duration
// histogram's buckets (and +Inf).
var buckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5}

// metrics counts hello's requests, by handler and status code, and their
// durations, by handler, for /metrics.
type metrics struct {
	mu        sync.Mutex
	requests  map[series]uint64
	durations map[string]*histogram
}

// series is one counter of requests.
type series struct {
	handler string
	code    int
}

// histogram is a Prometheus histogram: counts[i] is the requests that
// took at most buckets[i] (cumulative).
type histogram struct {
	counts []uint64
	sum    float64
	count  uint64
}

// newMetrics starts every counter a query is likely to divide by or
// compare at 0, so that its series exist (and a rate over them has a
// value) from the first scrape on, before the first such request.
func newMetrics() *metrics {
	m := &metrics{requests: map[series]uint64{}, durations: map[string]*histogram{}}
	for _, s := range []series{{"/", 200}, {"/", 500}, {"/healthz", 200}} {
		m.requests[s] = 0
		m.histogram(s.handler)
	}
	return m
}

func (m *metrics) histogram(handler string) *histogram {
	h := m.durations[handler]
	if h == nil {
		h = &histogram{counts: make([]uint64, len(buckets))}
		m.durations[handler] = h
	}
	return h
}

// count wraps a handler's function, counting its requests as handler.
func (m *metrics) count(handler string, f http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		f(rec, r)
		took := time.Since(start).Seconds()
		m.mu.Lock()
		defer m.mu.Unlock()
		m.requests[series{handler, rec.code}]++
		h := m.histogram(handler)
		for i, le := range buckets {
			if took <= le {
				h.counts[i]++
			}
		}
		h.sum += took
		h.count++
	}
}

// serve writes the metrics in Prometheus's text format (version 0.0.4).
func (m *metrics) serve(w http.ResponseWriter, _ *http.Request) {
	m.mu.Lock()
	var b strings.Builder
	b.WriteString("# HELP http_requests_total Requests answered, by handler and status code.\n# TYPE http_requests_total counter\n")
	keys := make([]series, 0, len(m.requests))
	for s := range m.requests {
		keys = append(keys, s)
	}
	sort.Slice(keys, func(i, j int) bool {
		return keys[i].handler < keys[j].handler || keys[i].handler == keys[j].handler && keys[i].code < keys[j].code
	})
	for _, s := range keys {
		fmt.Fprintf(&b, "http_requests_total{handler=%q,code=\"%d\"} %d\n", s.handler, s.code, m.requests[s])
	}
	b.WriteString("# HELP http_request_duration_seconds How long requests took to answer, by handler.\n# TYPE http_request_duration_seconds histogram\n")
	handlers := make([]string, 0, len(m.durations))
	for h := range m.durations {
		handlers = append(handlers, h)
	}
	sort.Strings(handlers)
	for _, name := range handlers {
		h := m.durations[name]
		for i, le := range buckets {
			fmt.Fprintf(&b, "http_request_duration_seconds_bucket{handler=%q,le=%q} %d\n", name, strconv.FormatFloat(le, 'g', -1, 64), h.counts[i])
		}
		fmt.Fprintf(&b, "http_request_duration_seconds_bucket{handler=%q,le=\"+Inf\"} %d\n", name, h.count)
		fmt.Fprintf(&b, "http_request_duration_seconds_sum{handler=%q} %s\n", name, strconv.FormatFloat(h.sum, 'g', -1, 64))
		fmt.Fprintf(&b, "http_request_duration_seconds_count{handler=%q} %d\n", name, h.count)
	}
	m.mu.Unlock()
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	fmt.Fprint(w, b.String())
}

// statusRecorder remembers the status code a handler answered with.
type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.code = code
	r.ResponseWriter.WriteHeader(code)
}
