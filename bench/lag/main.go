// Command lag forwards TCP connections from a port on 127.0.0.1 to another,
// delaying every byte by the same time in each direction, as a registry
// across a network would be: a round trip costs twice the delay, and
// throughput is not limited (what is in flight is queued, not paced).
// bench/promote.sh puts it in front of the registries to count the round
// trips each client makes.
//
//	lag -listen 127.0.0.1:PORT -to 127.0.0.1:PORT -delay 10ms [-addr-file F]
package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"time"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on (127.0.0.1 only)")
	to := flag.String("to", "", "address to forward to (127.0.0.1 only)")
	delay := flag.Duration("delay", 10*time.Millisecond, "one-way delay")
	addrFile := flag.String("addr-file", "", "write the address listened on to this file")
	flag.Parse()
	// run serves until it fails.
	fmt.Fprintln(os.Stderr, "lag:", run(*listen, *to, *delay, *addrFile))
	os.Exit(1)
}

func run(listen, to string, delay time.Duration, addrFile string) error {
	for _, a := range []string{listen, to} {
		host, _, err := net.SplitHostPort(a)
		if err != nil || host != "127.0.0.1" {
			return fmt.Errorf("address %q: only 127.0.0.1:PORT is served or reached", a)
		}
	}
	l, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	if addrFile != "" {
		if err := os.WriteFile(addrFile, []byte(l.Addr().String()), 0o644); err != nil {
			return err
		}
	}
	return serve(l, to, delay)
}

// serve forwards every connection l accepts to the address to, until l
// fails.
func serve(l net.Listener, to string, delay time.Duration) error {
	for {
		c, err := l.Accept()
		if err != nil {
			return err
		}
		go forward(c.(*net.TCPConn), to, delay)
	}
}

// forward connects c to the target after one delay (the SYN's way there;
// the answer's way back is the delay of the first bytes back) and pumps
// both ways.
func forward(c *net.TCPConn, to string, delay time.Duration) {
	defer c.Close()
	time.Sleep(delay)
	t, err := net.Dial("tcp", to)
	if err != nil {
		return
	}
	defer t.Close()
	done := make(chan struct{}, 2)
	go func() { pump(t.(*net.TCPConn), c, delay); done <- struct{}{} }()
	go func() { pump(c, t.(*net.TCPConn), delay); done <- struct{}{} }()
	<-done
	<-done
}

type chunk struct {
	b   []byte
	due time.Time
}

// pump copies from src to dst, each chunk written delay after it was read,
// then closes dst's write side once src ended.
func pump(dst, src *net.TCPConn, delay time.Duration) {
	q := make(chan chunk, 4096)
	go func() {
		defer close(q)
		for {
			b := make([]byte, 64<<10)
			n, err := src.Read(b)
			if n > 0 {
				q <- chunk{b[:n], time.Now().Add(delay)}
			}
			if err != nil {
				return
			}
		}
	}()
	for ch := range q {
		time.Sleep(time.Until(ch.due))
		if _, err := dst.Write(ch.b); err != nil {
			// The reader ends when its own side closes.
			for range q {
			}
			break
		}
	}
	_ = dst.CloseWrite()
	_, _ = io.Copy(io.Discard, src)
}
