package fleet

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"
)

// Handler serves the fleet, read-only: the page at / (reloading itself
// every refresh) and its JSON at /fleet.json, GET and HEAD only. Clusters
// are read on request at most once per refresh, however many readers
// reload, and a reader that goes away does not end the read the others
// wait for. Only requests naming a host the server may be reached by are
// answered, so that a web page elsewhere cannot read the fleet through a
// name of its own pointed at this server (DNS rebinding): when it listens
// on loopback (addr), a loopback host; otherwise also an IP address, this
// machine's name, or one of hosts.
func Handler(read func(context.Context) Fleet, refresh time.Duration, addr string, hosts ...string) http.Handler {
	s := &server{read: read, refresh: refresh, loopback: IsLoopback(addr), hosts: map[string]bool{}}
	for _, h := range hosts {
		s.hosts[strings.ToLower(h)] = true
	}
	if name, err := os.Hostname(); err == nil && name != "" {
		s.hosts[strings.ToLower(name)] = true
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.page)
	mux.HandleFunc("GET /fleet.json", s.json)
	return s.guard(mux)
}

type server struct {
	read     func(context.Context) Fleet
	refresh  time.Duration
	loopback bool
	hosts    map[string]bool // names answered besides IP addresses and localhost

	mu   sync.Mutex
	last Fleet
	at   time.Time
}

// fleet is the last fleet read, read again when older than refresh.
func (s *server) fleet(ctx context.Context) Fleet {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.at.IsZero() || time.Since(s.at) >= s.refresh {
		// Read for every reader: one that gives up (a closed tab) must not
		// leave the others a fleet of clusters "unreachable: context
		// canceled" until the next refresh. The read bounds itself.
		s.last, s.at = s.read(context.WithoutCancel(ctx)), time.Now()
	}
	return s.last
}

func (s *server) page(w http.ResponseWriter, r *http.Request) {
	b, err := render(s.fleet(r.Context()), s.refresh)
	if err != nil {
		http.Error(w, "rendering the fleet page failed", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write(b)
}

func (s *server) json(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(s.fleet(r.Context()))
}

// guard sets the headers of every answer and refuses other methods and,
// on loopback, other hosts.
func (s *server) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", Policy+"; frame-ancestors 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-store")
		switch {
		case r.Method != http.MethodGet && r.Method != http.MethodHead:
			h.Set("Allow", "GET, HEAD")
			http.Error(w, "read-only", http.StatusMethodNotAllowed)
		case s.loopback && !IsLoopback(r.Host):
			http.Error(w, "this server answers requests for a loopback host only", http.StatusMisdirectedRequest)
		case !s.loopback && !s.answers(r.Host):
			http.Error(w, "this server answers requests for its IP addresses, its machine's name and the names given with --host only", http.StatusMisdirectedRequest)
		default:
			next.ServeHTTP(w, r)
		}
	})
}

// answers reports whether a server on a non-loopback address answers a
// request for hostport: an IP address, localhost, or a name it knows.
func (s *server) answers(hostport string) bool {
	host := strings.TrimSuffix(strings.ToLower(hostOf(hostport)), ".")
	return net.ParseIP(strings.Trim(host, "[]")) != nil || host == "localhost" || s.hosts[host]
}

// hostOf is the host of host:port, or hostport when it has no port.
func hostOf(hostport string) string {
	if host, _, err := net.SplitHostPort(hostport); err == nil {
		return host
	}
	return hostport
}

// IsLoopback reports whether hostport names a loopback host: localhost,
// or an address of 127.0.0.0/8 or ::1.
func IsLoopback(hostport string) bool {
	host := hostOf(hostport)
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
