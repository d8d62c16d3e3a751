package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/rogpeppe/go-internal/testscript"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/slipwayhq/slipway/internal/notify"
)

// notifySchema is docs/notify.schema.json, compiled once.
var notifySchema = sync.OnceValues(func() (*jsonschema.Schema, error) {
	return jsonschema.NewCompiler().Compile(filepath.Join("..", "..", "docs", "notify.schema.json"))
})

// receiver MODE NAME starts a notification receiver on 127.0.0.1 for the
// script and sets $NAME_URL. MODE ok records each request and answers
// 201; fail records and answers 500; hang records and never answers; down
// sets a URL where nothing listens. Each request adds a line to
// $WORK/NAME.log: the method, path, the event or state, whether the body
// matches docs/notify.schema.json (webhook bodies only), and whether its
// X-Slipway-Signature-256 verifies under $HOOK_SECRET.
func receiver(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: receiver ok|fail|hang|down NAME")
	}
	mode, name := args[0], args[1]
	if mode == "down" {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		ts.Check(err)
		ts.Setenv(name+"_URL", "http://"+l.Addr().String())
		ts.Check(l.Close())
		return
	}
	logPath := ts.MkAbs(name + ".log")
	secret := ts.Getenv("HOOK_SECRET")
	var mu sync.Mutex
	done := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		line := describeDelivery(r, body, secret)
		mu.Lock()
		f, err := os.OpenFile(logPath, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err == nil {
			fmt.Fprintln(f, line)
			f.Close()
		}
		mu.Unlock()
		switch mode {
		case "fail":
			http.Error(w, "receiver down for maintenance", http.StatusInternalServerError)
		case "hang":
			select {
			case <-r.Context().Done():
			case <-done:
			}
		default:
			w.WriteHeader(http.StatusCreated)
		}
	}))
	ts.Defer(func() {
		close(done)
		srv.Close()
	})
	ts.Setenv(name+"_URL", srv.URL)
}

// describeDelivery is a receiver's log line of one request.
func describeDelivery(r *http.Request, body []byte, secret string) string {
	var doc map[string]any
	_ = json.Unmarshal(body, &doc)
	what, _ := doc["event"].(string)
	if state, ok := doc["state"].(string); ok {
		what = "state=" + state
	}
	if text, ok := doc["text"].(string); ok {
		what = "text=" + strings.SplitN(text, "\n", 2)[0]
	}
	out := fmt.Sprintf("%s %s %s", r.Method, r.URL.EscapedPath(), what)
	if doc["schema"] != nil {
		s, err := notifySchema()
		if err == nil {
			err = s.Validate(any(doc))
		}
		out += " schema=" + okOr(err)
	}
	if sig := r.Header.Get(notify.SignatureHeader); sig != "" {
		if sig == notify.Sign([]byte(secret), body) {
			out += " signature=ok"
		} else {
			out += " signature=bad"
		}
	}
	if tok := r.Header.Get("Authorization") + r.Header.Get("Private-Token"); tok != "" {
		out += " token=" + strings.TrimPrefix(tok, "Bearer ")
	}
	return out
}

func okOr(err error) string {
	if err != nil {
		return strings.ReplaceAll(err.Error(), "\n", " ")
	}
	return "ok"
}
