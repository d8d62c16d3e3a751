package gitremote

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
	"github.com/go-git/go-git/v5/storage/memory"
	"golang.org/x/crypto/ssh"
)

// sshServer serves, over ssh on 127.0.0.1, a git-upload-pack that lists
// refs refs (HEAD and refs/heads/bN) and then waits; it returns the
// repository's URL.
func sshServer(t *testing.T, refs int) string {
	t.Helper()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(key)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &ssh.ServerConfig{PasswordCallback: func(ssh.ConnMetadata, []byte) (*ssh.Permissions, error) { return nil, nil }}
	cfg.AddHostKey(signer)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go serveSSH(c, cfg, refs)
		}
	}()
	return "ssh://git@" + l.Addr().String() + "/env.git"
}

func serveSSH(c net.Conn, cfg *ssh.ServerConfig, refs int) {
	defer c.Close()
	_, chans, reqs, err := ssh.NewServerConn(c, cfg)
	if err != nil {
		return
	}
	go ssh.DiscardRequests(reqs)
	for nc := range chans {
		ch, creqs, err := nc.Accept()
		if err != nil {
			return
		}
		go func() {
			defer ch.Close()
			for r := range creqs {
				_ = r.Reply(r.Type == "exec", nil)
				if r.Type != "exec" {
					continue
				}
				sha := strings.Repeat("1", 40)
				pkt := func(s string) { fmt.Fprintf(ch, "%04x%s", len(s)+4, s) }
				pkt(sha + " HEAD\x00multi_ack side-band-64k ofs-delta\n")
				for i := range refs {
					pkt(fmt.Sprintf("%s refs/heads/b%d\n", sha, i))
				}
				_, _ = fmt.Fprint(ch, "0000")
			}
		}()
	}
}

// TestSSHReadIsBounded: a git server over ssh that lists more refs than
// Slipway reads from one connection fails the listing with ErrTooLarge;
// one within the bound is listed.
func TestSSHReadIsBounded(t *testing.T) {
	defer func(n int64) { maxSSHRead = n }(maxSSHRead)
	maxSSHRead = 1 << 20
	auth := &gitssh.Password{User: "git", Password: "x"}
	auth.HostKeyCallback = ssh.InsecureIgnoreHostKey()
	list := func(refs int) error {
		url := sshServer(t, refs)
		r := git.NewRemote(memory.NewStorage(), &config.RemoteConfig{Name: "origin", URLs: []string{url}})
		got, err := r.ListContext(context.Background(), &git.ListOptions{Auth: auth})
		if err == nil && len(got) < refs {
			return fmt.Errorf("listed %d refs of %d", len(got), refs)
		}
		return err
	}
	if err := list(100); err != nil {
		t.Errorf("100 refs: %v", err)
	}
	if err := list(100_000); !errors.Is(err, ErrTooLarge) {
		t.Errorf("100,000 refs (5 MB): %v, want ErrTooLarge", err)
	}
}
