package check

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
)

// ProxyProber sends the requests of HTTP checks through the API server's
// pod proxy (GET /api/v1/namespaces/NS/pods/POD:PORT/proxy/PATH), with
// the kubeconfig's credentials: it needs no network path to the pods,
// only to the API server, and the get permission on pods/proxy.
type ProxyProber struct {
	rc *rest.RESTClient
}

var _ Prober = (*ProxyProber)(nil)

// NewProxyProber returns a ProxyProber for the cluster cfg reaches.
func NewProxyProber(cfg *rest.Config) (*ProxyProber, error) {
	if cfg == nil {
		return nil, fmt.Errorf("making the pod proxy client: no cluster configuration")
	}
	c := rest.CopyConfig(cfg)
	c.GroupVersion = &corev1.SchemeGroupVersion
	c.APIPath = "/api"
	c.NegotiatedSerializer = scheme.Codecs.WithoutConversion()
	rc, err := rest.RESTClientFor(c)
	if err != nil {
		return nil, fmt.Errorf("making the pod proxy client: %w", err)
	}
	return &ProxyProber{rc: rc}, nil
}

// Get sends GET path to port of pod ns/pod through the API server, reading
// at most MaxBody bytes of the answer; ctx bounds it. path is an HTTP
// check's, which config checked: absolute, without dot segments.
func (p *ProxyProber) Get(ctx context.Context, ns, pod string, port int, path string) (Answer, error) {
	u := p.rc.Get().Namespace(ns).Resource("pods").Name(pod + ":" + strconv.Itoa(port)).SubResource("proxy").URL()
	u.Path += path // not Suffix: it would drop a trailing slash
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return Answer{}, fmt.Errorf("making the request for %s: %w", path, err)
	}
	resp, err := p.rc.Client.Do(req)
	if err != nil {
		return Answer{}, fmt.Errorf("requesting %s from pod %s: %w", path, pod, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxBody+1))
	if err != nil {
		return Answer{}, fmt.Errorf("reading the answer of pod %s: %w", pod, err)
	}
	a := Answer{Status: resp.StatusCode, Body: body}
	if len(body) > MaxBody {
		a.Body, a.Cut = body[:MaxBody], true
	}
	return a, nil
}
