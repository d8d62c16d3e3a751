package gitremote

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/plumbing/transport/client"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
	"golang.org/x/net/proxy"
)

// MaxSSHRead bounds all that one connection to a git server over ssh
// reads. ssh carries the list of refs and the pack in one encrypted
// stream, which cannot be bounded apart as over HTTP: this is the list's
// bound (MaxAdvertisement), the largest pack a fetch takes (64 MiB), and
// room for ssh's own messages.
const MaxSSHRead = MaxAdvertisement + 64<<20 + 1<<20

// maxSSHRead is MaxSSHRead, lowered by tests.
var maxSSHRead int64 = MaxSSHRead

// sshScheme is the proxy scheme Slipway gives every ssh endpoint: go-git
// dials ssh servers through golang.org/x/net/proxy, whose table of
// schemes is the one place a dial can be had, so "proxying" through a
// dialer of Slipway's own bounds what the connection reads.
const sshScheme = "slipway-bounded-ssh"

func init() {
	proxy.RegisterDialerType(sshScheme, func(u *url.URL, _ proxy.Dialer) (proxy.Dialer, error) {
		id, err := strconv.ParseUint(u.Host, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("dialing the git server: no ssh session %q", u.Host)
		}
		return sshDialer{s: sshSessions.get(id)}, nil
	})
	client.InstallProtocol("ssh", sshBounds{next: gitssh.DefaultClient})
}

// sshRead is what the connections of one session have read.
type sshRead struct{ n atomic.Int64 }

// tripped reports whether the session's connection read past MaxSSHRead.
func (r *sshRead) tripped() bool { return r != nil && r.n.Load() > maxSSHRead }

// sessions hands each ssh session's counter to the dialer go-git calls.
type sessions struct {
	mu   sync.Mutex
	next uint64
	m    map[uint64]*sshRead
}

var sshSessions sessions

func (s *sessions) add() (uint64, *sshRead) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[uint64]*sshRead{}
	}
	s.next++
	r := &sshRead{}
	s.m[s.next] = r
	return s.next, r
}

func (s *sessions) get(id uint64) *sshRead {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[id]
}

func (s *sessions) drop(id uint64) {
	s.mu.Lock()
	delete(s.m, id)
	s.mu.Unlock()
}

// sshDialer dials as go-git does without a proxy of its own (directly,
// or through ALL_PROXY), counting what the connection reads.
type sshDialer struct{ s *sshRead }

func (d sshDialer) Dial(network, addr string) (net.Conn, error) {
	return d.DialContext(context.Background(), network, addr)
}

func (d sshDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := proxy.Dial(ctx, network, addr)
	if err != nil || d.s == nil {
		return c, err
	}
	return &sshConn{Conn: c, s: d.s}, nil
}

// sshConn fails its reads past MaxSSHRead.
type sshConn struct {
	net.Conn
	s *sshRead
}

func (c *sshConn) Read(p []byte) (int, error) {
	left := maxSSHRead + 1 - c.s.n.Load()
	if left <= 0 {
		return 0, c.s.err()
	}
	if int64(len(p)) > left {
		p = p[:left]
	}
	n, err := c.Conn.Read(p)
	c.s.n.Add(int64(n))
	return n, err
}

func (r *sshRead) err() error {
	return fmt.Errorf("reading from the git server over ssh: %w: more than %d bytes", ErrTooLarge, maxSSHRead)
}

// sshBounds is go-git's ssh transport with each session's connection
// bounded, and its errors told as ErrTooLarge once it read too much.
type sshBounds struct{ next transport.Transport }

func (t sshBounds) NewUploadPackSession(ep *transport.Endpoint, auth transport.AuthMethod) (transport.UploadPackSession, error) {
	id, r := sshSessions.add()
	s, err := t.next.NewUploadPackSession(bounded(ep, id), auth)
	if err != nil {
		sshSessions.drop(id)
		return nil, r.told(err)
	}
	return &uploadSession{UploadPackSession: s, id: id, r: r}, nil
}

func (t sshBounds) NewReceivePackSession(ep *transport.Endpoint, auth transport.AuthMethod) (transport.ReceivePackSession, error) {
	id, r := sshSessions.add()
	s, err := t.next.NewReceivePackSession(bounded(ep, id), auth)
	if err != nil {
		sshSessions.drop(id)
		return nil, r.told(err)
	}
	return &receiveSession{ReceivePackSession: s, id: id, r: r}, nil
}

// bounded is ep dialed through the session id's counter.
func bounded(ep *transport.Endpoint, id uint64) *transport.Endpoint {
	c := *ep
	c.Proxy = transport.ProxyOptions{URL: sshScheme + "://" + strconv.FormatUint(id, 10)}
	return &c
}

// told is err, or ErrTooLarge when the connection read too much.
func (r *sshRead) told(err error) error {
	if err != nil && r.tripped() {
		return r.err()
	}
	return err
}

type uploadSession struct {
	transport.UploadPackSession
	id uint64
	r  *sshRead
}

func (s *uploadSession) AdvertisedReferences() (*packp.AdvRefs, error) {
	a, err := s.UploadPackSession.AdvertisedReferences()
	return a, s.r.told(err)
}

func (s *uploadSession) AdvertisedReferencesContext(ctx context.Context) (*packp.AdvRefs, error) {
	a, err := s.UploadPackSession.AdvertisedReferencesContext(ctx)
	return a, s.r.told(err)
}

func (s *uploadSession) UploadPack(ctx context.Context, req *packp.UploadPackRequest) (*packp.UploadPackResponse, error) {
	resp, err := s.UploadPackSession.UploadPack(ctx, req)
	return resp, s.r.told(err)
}

func (s *uploadSession) Close() error {
	defer sshSessions.drop(s.id)
	return s.UploadPackSession.Close()
}

type receiveSession struct {
	transport.ReceivePackSession
	id uint64
	r  *sshRead
}

func (s *receiveSession) AdvertisedReferences() (*packp.AdvRefs, error) {
	a, err := s.ReceivePackSession.AdvertisedReferences()
	return a, s.r.told(err)
}

func (s *receiveSession) AdvertisedReferencesContext(ctx context.Context) (*packp.AdvRefs, error) {
	a, err := s.ReceivePackSession.AdvertisedReferencesContext(ctx)
	return a, s.r.told(err)
}

func (s *receiveSession) ReceivePack(ctx context.Context, req *packp.ReferenceUpdateRequest) (*packp.ReportStatus, error) {
	rs, err := s.ReceivePackSession.ReceivePack(ctx, req)
	return rs, s.r.told(err)
}

func (s *receiveSession) Close() error {
	defer sshSessions.drop(s.id)
	return s.ReceivePackSession.Close()
}
