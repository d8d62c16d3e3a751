package faultnet

import (
	"io"
	"net"
	"sync"
	"testing"
)

// Restartable forwards TCP connections on 127.0.0.1 to a target, and can
// be stopped and started again on the same address, as a server that
// restarts: while stopped, connections are refused, and the ones open
// when it stopped were closed. TLS passes through untouched.
type Restartable struct {
	t      testing.TB
	target string
	addr   string

	mu    sync.Mutex
	l     net.Listener
	conns map[net.Conn]bool
	wg    sync.WaitGroup
}

// NewRestartable starts a Restartable in front of target (host:port); it
// is stopped when the test ends.
func NewRestartable(t testing.TB, target string) *Restartable {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Restartable{t: t, target: target, addr: l.Addr().String(), conns: map[net.Conn]bool{}}
	p.serve(l)
	t.Cleanup(func() {
		p.Stop()
		p.wg.Wait()
	})
	return p
}

// Addr is the host:port clients connect to.
func (p *Restartable) Addr() string { return p.addr }

// Stop closes the listener and every connection: from now on connections
// are refused, and requests in flight fail.
func (p *Restartable) Stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.l != nil {
		p.l.Close()
		p.l = nil
	}
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}

// Start listens again on the same address; it fails the test when the
// address cannot be taken again.
func (p *Restartable) Start() {
	p.mu.Lock()
	running := p.l != nil
	p.mu.Unlock()
	if running {
		return
	}
	l, err := net.Listen("tcp", p.addr)
	if err != nil {
		p.t.Errorf("listening again on %s: %v", p.addr, err)
		return
	}
	p.serve(l)
}

func (p *Restartable) serve(l net.Listener) {
	p.mu.Lock()
	p.l = l
	p.mu.Unlock()
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", p.target)
			if err != nil {
				c.Close()
				continue
			}
			if !p.track(c, u) {
				continue
			}
			p.wg.Add(2)
			go p.pipe(u, c)
			go p.pipe(c, u)
		}
	}()
}

// track records a connection pair, or closes it when the proxy stopped
// meanwhile.
func (p *Restartable) track(c, u net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.l == nil {
		c.Close()
		u.Close()
		return false
	}
	p.conns[c], p.conns[u] = true, true
	return true
}

func (p *Restartable) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	_, _ = io.Copy(dst, src)
	dst.Close()
	src.Close()
	p.mu.Lock()
	delete(p.conns, dst)
	delete(p.conns, src)
	p.mu.Unlock()
}
