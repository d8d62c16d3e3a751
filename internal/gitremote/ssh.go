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
func (r *sshRead) tripped() bool { return r.n.Load() > maxSSHRead }

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
	b, s, err := open(ep, auth, t.next.NewUploadPackSession)
	if err != nil {
		return nil, err
	}
	return &uploadSession{bounded: b, s: s}, nil
}

func (t sshBounds) NewReceivePackSession(ep *transport.Endpoint, auth transport.AuthMethod) (transport.ReceivePackSession, error) {
	b, s, err := open(ep, auth, t.next.NewReceivePackSession)
	if err != nil {
		return nil, err
	}
	return &receiveSession{bounded: b, s: s}, nil
}

// open starts a session with newSession, its connection dialed through a
// counter of its own.
func open[S transport.Session](ep *transport.Endpoint, auth transport.AuthMethod,
	newSession func(*transport.Endpoint, transport.AuthMethod) (S, error)) (bounded, S, error) {
	id, r := sshSessions.add()
	c := *ep
	c.Proxy = transport.ProxyOptions{URL: sshScheme + "://" + strconv.FormatUint(id, 10)}
	s, err := newSession(&c, auth)
	if err != nil {
		sshSessions.drop(id)
		return bounded{}, s, r.told(err)
	}
	return bounded{Session: s, id: id, r: r}, s, nil
}

// told is err, or ErrTooLarge when the connection read too much.
func (r *sshRead) told(err error) error {
	if err != nil && r.tripped() {
		return r.err()
	}
	return err
}

// bounded is what sessions of both kinds do alike: the list of refs,
// with the connection's errors told, and Close, which forgets the counter.
type bounded struct {
	transport.Session
	id uint64
	r  *sshRead
}

func (b bounded) AdvertisedReferences() (*packp.AdvRefs, error) {
	a, err := b.Session.AdvertisedReferences()
	return a, b.r.told(err)
}

func (b bounded) AdvertisedReferencesContext(ctx context.Context) (*packp.AdvRefs, error) {
	a, err := b.Session.AdvertisedReferencesContext(ctx)
	return a, b.r.told(err)
}

func (b bounded) Close() error {
	defer sshSessions.drop(b.id)
	return b.Session.Close()
}

type uploadSession struct {
	bounded
	s transport.UploadPackSession
}

func (u *uploadSession) UploadPack(ctx context.Context, req *packp.UploadPackRequest) (*packp.UploadPackResponse, error) {
	resp, err := u.s.UploadPack(ctx, req)
	return resp, u.r.told(err)
}

type receiveSession struct {
	bounded
	s transport.ReceivePackSession
}

func (rs *receiveSession) ReceivePack(ctx context.Context, req *packp.ReferenceUpdateRequest) (*packp.ReportStatus, error) {
	st, err := rs.s.ReceivePack(ctx, req)
	return st, rs.r.told(err)
}
