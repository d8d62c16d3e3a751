// Command verdictapp is the container the real-node verdict tests deploy.
// Its first argument picks how it behaves:
//
//	serve    answer on :8080, /healthz 200 (the healthy rollout)
//	crash    print three lines, then exit 1
//	unready  answer on :8080, but /healthz always 503
//	oom      allocate and touch memory, 4 MiB at a time, until killed
package main

import (
	"fmt"
	"net/http"
	"os"
	"time"
)

func main() {
	mode := "serve"
	if len(os.Args) > 1 {
		mode = os.Args[1]
	}
	switch mode {
	case "crash":
		fmt.Println("verdictapp: starting")
		fmt.Println("verdictapp: reading config")
		fmt.Println("verdictapp: fatal: config missing")
		os.Exit(1)
	case "oom":
		var keep [][]byte
		for {
			b := make([]byte, 4<<20)
			for i := range b {
				b[i] = 1
			}
			keep = append(keep, b)
			fmt.Printf("verdictapp: holding %d MiB\n", 4*len(keep))
			time.Sleep(10 * time.Millisecond)
		}
	}
	ready := mode == "serve"
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		if !ready {
			http.Error(w, "never ready", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "verdictapp %s\n", mode)
	})
	srv := &http.Server{Addr: ":8080", Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	if err := srv.ListenAndServe(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
}
