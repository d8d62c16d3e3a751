package check

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	//lint:ignore SA1019 client-go v0.36's portforward takes, and its dialers return and fail with, apimachinery's httpstream types, not k8s.io/streaming's
	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/transport/spdy"
)

// stopWait bounds how long stopping a forward waits for it to end.
const stopWait = 5 * time.Second

// Forwarder forwards a local address to port of pod ns/name; stop ends
// the forward.
type Forwarder interface {
	Forward(ctx context.Context, ns, pod string, port int) (url string, stop func(), err error)
}

// PortForwarder forwards through the API server, as kubectl port-forward
// does: WebSockets, falling back to SPDY for older API servers. It listens
// on 127.0.0.1 only, on a port the system picks.
type PortForwarder struct {
	cfg *rest.Config
	rc  *rest.RESTClient
}

var _ Forwarder = (*PortForwarder)(nil)

// NewPortForwarder returns a PortForwarder for the cluster cfg reaches.
func NewPortForwarder(cfg *rest.Config) (*PortForwarder, error) {
	p, err := NewProxyProber(cfg)
	if err != nil {
		return nil, fmt.Errorf("making the port-forward client: %w", err)
	}
	return &PortForwarder{cfg: cfg, rc: p.rc}, nil
}

// Forward forwards http://127.0.0.1:PORT (the url returned) to port of pod
// ns/pod until stop is called or ctx ends.
func (f *PortForwarder) Forward(ctx context.Context, ns, pod string, port int) (string, func(), error) {
	u := f.rc.Post().Namespace(ns).Resource("pods").Name(pod).SubResource("portforward").URL()
	transport, upgrader, err := spdy.RoundTripperFor(f.cfg)
	if err != nil {
		return "", nil, fmt.Errorf("forwarding to pod %s: %w", pod, err)
	}
	var dialer httpstream.Dialer = spdy.NewDialer(upgrader, &http.Client{Transport: transport}, http.MethodPost, u)
	if ws, err := portforward.NewSPDYOverWebsocketDialer(u, f.cfg); err == nil {
		dialer = portforward.NewFallbackDialer(ws, dialer, func(err error) bool {
			return httpstream.IsUpgradeFailure(err) || httpstream.IsHTTPSProxyError(err)
		})
	}
	stopCh, ready := make(chan struct{}), make(chan struct{})
	pf, err := portforward.NewOnAddresses(dialer, []string{"127.0.0.1"}, []string{"0:" + strconv.Itoa(port)}, stopCh, ready, io.Discard, io.Discard)
	if err != nil {
		return "", nil, fmt.Errorf("forwarding to pod %s: %w", pod, err)
	}
	done := make(chan error, 1)
	go func() { done <- pf.ForwardPorts() }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			close(stopCh)
			select { // a forward that will not end must not hold the deploy
			case <-done:
			case <-time.After(stopWait):
			}
		})
	}
	select {
	case <-ready:
	case err := <-done:
		return "", nil, fmt.Errorf("forwarding to pod %s: %w", pod, err)
	case <-ctx.Done():
		stop()
		return "", nil, fmt.Errorf("forwarding to pod %s: %w", pod, ctx.Err())
	}
	ports, err := pf.GetPorts()
	if err != nil || len(ports) == 0 {
		stop()
		return "", nil, fmt.Errorf("forwarding to pod %s: no local port: %v", pod, err)
	}
	return fmt.Sprintf("http://127.0.0.1:%d", ports[0].Local), stop, nil
}
