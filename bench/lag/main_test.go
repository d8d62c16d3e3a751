package main

import (
	"bytes"
	"crypto/rand"
	"io"
	"net"
	"testing"
	"time"
)

// TestForwards: what goes through lag arrives whole and in order both
// ways, and a side that ends its writing is seen to by the other.
func TestForwards(t *testing.T) {
	echo, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer echo.Close()
	go func() {
		for {
			c, err := echo.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_, _ = io.Copy(c, c)
				_ = c.(*net.TCPConn).CloseWrite()
			}()
		}
	}()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() { _ = serve(l, echo.Addr().String(), time.Millisecond) }()

	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	want := make([]byte, 1<<20)
	_, _ = rand.Read(want)
	go func() {
		_, _ = c.Write(want)
		_ = c.(*net.TCPConn).CloseWrite()
	}()
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("got %d bytes back, not the %d sent", len(got), len(want))
	}
}

// TestLoopbackOnly: lag serves and reaches 127.0.0.1 alone.
func TestLoopbackOnly(t *testing.T) {
	for _, tt := range []struct{ listen, to string }{
		{"0.0.0.0:0", "127.0.0.1:1"},
		{"127.0.0.1:0", "10.0.0.1:80"},
		{"127.0.0.1:0", "example.com:80"},
	} {
		if err := run(tt.listen, tt.to, 0, ""); err == nil {
			t.Errorf("run(%s, %s) served", tt.listen, tt.to)
		}
	}
}
