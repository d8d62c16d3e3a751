package gitops

import (
	"bytes"
	"compress/zlib"
	"context"
	"crypto/rand"
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/slipwayhq/slipway/internal/faultnet"
	"github.com/slipwayhq/slipway/internal/gitremote"
	"github.com/slipwayhq/slipway/internal/remedy"
)

// TestHostileRemoteIsBounded opens repositories whose server sends too
// much or too slowly: each is refused within its bound, in time and
// memory.
func TestHostileRemoteIsBounded(t *testing.T) {
	t.Run("a packfile over the limit", func(t *testing.T) {
		rm := newRemote(t)
		noise := make([]byte, 2<<20)
		_, _ = rand.Read(noise)
		rm.commit("main", "noise", map[string]string{"envs/prod/noise.bin": string(noise)})
		_, err := rm.tryOpen("main", "envs/prod", func(o *Options) { o.Limits.Pack = 1 << 20 })
		if !errors.Is(err, gitremote.ErrTooLarge) || !strings.Contains(err.Error(), "more than 1048576 bytes") {
			t.Fatalf("Open = %v, want ErrTooLarge", err)
		}
	})
	t.Run("a small packfile that inflates past the limit", func(t *testing.T) {
		rm := newRemote(t)
		rm.commit("main", "zeros", map[string]string{"envs/prod/zeros.yaml": strings.Repeat("\x00", 32<<20)})
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		_, err := rm.tryOpen("main", "envs/prod", func(o *Options) { o.Limits.Object = 1 << 20 })
		runtime.ReadMemStats(&after)
		if !errors.Is(err, gitremote.ErrTooLarge) || !strings.Contains(err.Error(), "an object of 33554432 bytes") {
			t.Fatalf("Open = %v, want ErrTooLarge", err)
		}
		if grew := after.TotalAlloc - before.TotalAlloc; grew > 16<<20 {
			t.Errorf("refusing it allocated %d MiB", grew>>20)
		}
	})
	t.Run("a server that never answers", func(t *testing.T) {
		url := "http://" + faultnet.Silent(t) + "/env.git"
		var err error
		faultnet.Within(t, 0, func() {
			_, err = Open(context.Background(), Options{URL: url, Limits: Limits{Timeout: 300 * time.Millisecond}, Auth: noCreds})
		})
		if !errors.Is(err, gitremote.ErrTimeout) || !strings.Contains(err.Error(), "no answer within 300ms") {
			t.Fatalf("Open = %v, want ErrTimeout", err)
		}
		if r, ok := remedy.Of(err); !ok || r.Kind != remedy.RaisePushTimeout {
			t.Errorf("remedy = %v, %v", r, ok)
		}
	})
	t.Run("a server that stops in the middle of the pack", func(t *testing.T) {
		url := "http://" + faultnet.Serve(t, stallingPack()) + "/env.git"
		var err error
		faultnet.Within(t, 0, func() {
			_, err = Open(context.Background(), Options{URL: url, Limits: Limits{Timeout: 500 * time.Millisecond}, Auth: noCreds})
		})
		if !errors.Is(err, gitremote.ErrTimeout) {
			t.Fatalf("Open = %v, want ErrTimeout", err)
		}
	})
}

// noCreds finds no credentials, whatever the environment and git config.
var noCreds = gitremote.Auth{Getenv: func(string) string { return "" }, Helper: func(context.Context, *url.URL) (string, string, error) { return "", "", nil }}

// stallingPack advertises a branch, then answers the fetch with the start
// of a pack and nothing more.
func stallingPack() http.Handler {
	const hash = "0123456789012345678901234567890123456789"
	pkt := func(s string) string { return fmt.Sprintf("%04x%s", len(s)+4, s) }
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/info/refs") {
			w.Header().Set("Content-Type", "application/x-git-upload-pack-advertisement")
			_, _ = w.Write([]byte(pkt("# service=git-upload-pack\n") + "0000" +
				pkt(hash+" refs/heads/main\x00multi_ack_detailed side-band-64k shallow no-progress\n") + "0000"))
			return
		}
		w.Header().Set("Content-Type", "application/x-git-upload-pack-result")
		_, _ = w.Write([]byte(pkt("NAK\n") + pkt("\x01PACK")))
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	})
}

// rawObject is one object of a handmade packfile.
type rawObject struct {
	typ  plumbing.ObjectType
	base plumbing.Hash // for a ref delta
	data []byte        // inflated
	size int64         // declared; len(data) when 0
}

// pack writes objs as a packfile.
func pack(objs ...rawObject) []byte {
	var b bytes.Buffer
	b.WriteString("PACK")
	_ = binary.Write(&b, binary.BigEndian, uint32(2))
	_ = binary.Write(&b, binary.BigEndian, uint32(len(objs)))
	for _, o := range objs {
		size := o.size
		if size == 0 {
			size = int64(len(o.data))
		}
		c := byte(o.typ)<<4 | byte(size&15)
		for size >>= 4; size > 0; size >>= 7 {
			b.WriteByte(c | 0x80)
			c = byte(size & 0x7f)
		}
		b.WriteByte(c)
		if o.typ == plumbing.REFDeltaObject {
			b.Write(o.base[:])
		}
		z := zlib.NewWriter(&b)
		_, _ = z.Write(o.data)
		_ = z.Close()
	}
	sum := sha1.Sum(b.Bytes())
	b.Write(sum[:])
	return b.Bytes()
}

// delta is the start of a delta from a base of src bytes to an object of
// target bytes.
func delta(src, target int64) []byte {
	var out []byte
	for _, n := range []int64{src, target} {
		for ; n >= 0x80; n >>= 7 {
			out = append(out, byte(n)|0x80)
		}
		out = append(out, byte(n))
	}
	return append(out, 0x90, 0x10) // copy 16 bytes from offset 0
}

func TestCheckPack(t *testing.T) {
	lim := Limits{Object: 1000, Total: 2500, Objects: 4}
	small := rawObject{typ: plumbing.BlobObject, data: bytes.Repeat([]byte("a"), 900)}
	base := plumbing.NewHash(strings.Repeat("ab", 20))
	tests := []struct {
		name string
		pack []byte
		ok   bool
	}{
		{"within every limit", pack(small, small, rawObject{typ: plumbing.REFDeltaObject, base: base, data: delta(900, 600)}), true},
		{"too many objects", pack(small, small, small, small, small), false},
		{"an object too large", pack(rawObject{typ: plumbing.BlobObject, data: bytes.Repeat([]byte("a"), 1001)}), false},
		{"a declared size too large", pack(rawObject{typ: plumbing.BlobObject, data: []byte("a"), size: 1 << 40}), false},
		{"too much in all", pack(small, small, small), false},
		{"a delta that makes too much", pack(rawObject{typ: plumbing.REFDeltaObject, base: base, data: delta(16, 1<<30)}), false},
		{"a delta without its sizes", pack(rawObject{typ: plumbing.REFDeltaObject, base: base, data: []byte{0x80}}), false},
		{"no packfile", []byte("PACX"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkPack(bytes.NewReader(tt.pack), lim)
			if (err == nil) != tt.ok {
				t.Fatalf("checkPack = %v, want ok %v", err, tt.ok)
			}
			if !tt.ok && len(err.Error()) > 200 {
				t.Errorf("the error is %d bytes", len(err.Error()))
			}
		})
	}
}

func TestLEB128(t *testing.T) {
	for _, tt := range []struct {
		in   []byte
		n    int64
		rest int // -1: no number
	}{
		{[]byte{0x05, 0xff}, 5, 1},
		{[]byte{0x80, 0x01}, 128, 0},
		{[]byte{0x80}, 0, -1},
		{bytes.Repeat([]byte{0xff}, 10), 0, -1},
		{nil, 0, -1},
	} {
		n, rest := leb128(tt.in)
		if (rest == nil) != (tt.rest < 0) || (rest != nil && (n != tt.n || len(rest) != tt.rest)) {
			t.Errorf("leb128(%x) = %d, %x", tt.in, n, rest)
		}
	}
}
