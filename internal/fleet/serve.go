package fleet

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"sync"
	"time"
)

// Handler serves the fleet, read-only: the page at / (reloading itself
// every refresh) and its JSON at /fleet.json, GET and HEAD only. Clusters
// are read on request at most once per refresh, however many readers
// reload. When the server listens on loopback (addr), only requests
// naming a loopback host are answered, so that a web page elsewhere
// cannot reach the fleet by pointing a name of its own at 127.0.0.1.
func Handler(read func(context.Context) Fleet, refresh time.Duration, addr string) http.Handler {
	s := &server{read: read, refresh: refresh, loopback: IsLoopback(addr)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.page)
	mux.HandleFunc("GET /fleet.json", s.json)
	return s.guard(mux)
}

type server struct {
	read     func(context.Context) Fleet
	refresh  time.Duration
	loopback bool

	mu   sync.Mutex
	last Fleet
	at   time.Time
}

// fleet is the last fleet read, read again when older than refresh.
func (s *server) fleet(ctx context.Context) Fleet {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.at.IsZero() || time.Since(s.at) >= s.refresh {
		s.last, s.at = s.read(ctx), time.Now()
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
		default:
			next.ServeHTTP(w, r)
		}
	})
}

// IsLoopback reports whether hostport names a loopback host: localhost,
// or an address of 127.0.0.0/8 or ::1.
func IsLoopback(hostport string) bool {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		host = hostport
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
