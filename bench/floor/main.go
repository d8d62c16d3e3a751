// Command floor copies an image or index between two plain-HTTP registries
// doing as little as a client can: no hashing, no HTTP library on the blob
// path, each blob spliced by the kernel from the source's socket into the
// target's. bench/promote.sh times it beside the real clients to show how
// fast any client could be on the machine, given the registries' own work.
//
//	floor [-jobs N] SRC_HOST/REPO:TAG DST_HOST/REPO:TAG
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
)

const accept = "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, " +
	"application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json"

type descriptor struct {
	MediaType string `json:"mediaType"`
	Digest    string `json:"digest"`
	Size      int64  `json:"size"`
}

type manifest struct {
	MediaType string       `json:"mediaType"`
	Config    *descriptor  `json:"config"`
	Layers    []descriptor `json:"layers"`
	Manifests []descriptor `json:"manifests"`
}

// ref is HOST/REPO:TAG split up.
type ref struct{ host, repo, tag string }

func parse(s string) (ref, error) {
	host, rest, ok := strings.Cut(s, "/")
	i := strings.LastIndex(rest, ":")
	if !ok || i < 0 {
		return ref{}, fmt.Errorf("parsing %q: want HOST/REPO:TAG", s)
	}
	return ref{host, rest[:i], rest[i+1:]}, nil
}

func (r ref) url(kind, id string) string {
	return fmt.Sprintf("http://%s/v2/%s/%s/%s", r.host, r.repo, kind, id)
}

func main() {
	jobs := flag.Int("jobs", 16, "blobs copied at once")
	flag.Parse()
	if flag.NArg() != 2 {
		fmt.Fprintln(os.Stderr, "usage: floor [-jobs N] SRC_HOST/REPO:TAG DST_HOST/REPO:TAG")
		os.Exit(2)
	}
	if err := run(flag.Arg(0), flag.Arg(1), *jobs); err != nil {
		fmt.Fprintln(os.Stderr, "floor:", err)
		os.Exit(1)
	}
}

func run(from, to string, jobs int) error {
	src, err := parse(from)
	if err != nil {
		return err
	}
	dst, err := parse(to)
	if err != nil {
		return err
	}
	t, err := read(src)
	if err != nil {
		return err
	}
	if err := copyBlobs(src, dst, t.blobs, jobs); err != nil {
		return err
	}
	for _, c := range t.children {
		if err := put(dst.url("manifests", c.d.Digest), c.d.MediaType, c.raw); err != nil {
			return err
		}
	}
	return put(dst.url("manifests", dst.tag), t.mediaType, t.top)
}

// tree is what a tag holds: its manifest (an image's or an index's), the
// manifests of an index's images, and every blob they name.
type tree struct {
	top       []byte
	mediaType string
	children  []child
	blobs     []descriptor
}

// child is a manifest of an index's image.
type child struct {
	d   descriptor
	raw []byte
}

// read reads the tree of src's tag.
func read(src ref) (tree, error) {
	var t tree
	var err error
	t.top, t.mediaType, err = get(src.url("manifests", src.tag))
	if err != nil {
		return t, err
	}
	var m manifest
	if err := json.Unmarshal(t.top, &m); err != nil {
		return t, fmt.Errorf("parsing the manifest: %w", err)
	}
	add := func(m manifest) {
		if m.Config != nil {
			t.blobs = append(t.blobs, *m.Config)
		}
		t.blobs = append(t.blobs, m.Layers...)
	}
	add(m)
	for _, d := range m.Manifests {
		raw, _, err := get(src.url("manifests", d.Digest))
		if err != nil {
			return t, err
		}
		var cm manifest
		if err := json.Unmarshal(raw, &cm); err != nil {
			return t, fmt.Errorf("parsing manifest %s: %w", d.Digest, err)
		}
		add(cm)
		t.children = append(t.children, child{d, raw})
	}
	return t, nil
}

// copyBlobs splices blobs from src to dst, jobs at once; the error is one
// of those that failed.
func copyBlobs(src, dst ref, blobs []descriptor, jobs int) error {
	work := make(chan descriptor)
	errs := make(chan error, len(blobs))
	var wg sync.WaitGroup
	for range min(jobs, len(blobs)) {
		wg.Go(func() {
			for d := range work {
				if err := splice(src, dst, d); err != nil {
					errs <- fmt.Errorf("copying %s: %w", d.Digest, err)
				}
			}
		})
	}
	for _, b := range blobs {
		work <- b
	}
	close(work)
	wg.Wait()
	close(errs)
	return <-errs
}

func get(u string) ([]byte, string, error) {
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	req.Header.Set("Accept", accept)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	return b, resp.Header.Get("Content-Type"), err
}

func put(u, mt string, body []byte) error {
	req, _ := http.NewRequest(http.MethodPut, u, bytes.NewReader(body))
	req.Header.Set("Content-Type", mt)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("PUT %s: %s", u, resp.Status)
	}
	return nil
}

// splice starts an upload in dst, then sends the blob's bytes from the
// source's connection to the target's without reading them into the
// process (Linux splice(2), through Go's TCPConn.ReadFrom).
func splice(src, dst ref, d descriptor) error {
	resp, err := http.Post(fmt.Sprintf("http://%s/v2/%s/blobs/uploads/", dst.host, dst.repo), "", nil)
	if err != nil {
		return err
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusAccepted || loc == "" {
		return fmt.Errorf("starting the upload: %s", resp.Status)
	}
	if i := strings.Index(loc, "/v2/"); i > 0 {
		loc = loc[i:]
	}
	sep := "?"
	if strings.Contains(loc, "?") {
		sep = "&"
	}

	sc, err := net.Dial("tcp", src.host)
	if err != nil {
		return err
	}
	defer sc.Close()
	fmt.Fprintf(sc, "GET /v2/%s/blobs/%s HTTP/1.1\r\nHost: %s\r\n\r\n", src.repo, d.Digest, src.host)
	br := bufio.NewReader(sc)
	got, err := http.ReadResponse(br, nil)
	if err != nil {
		return err
	}
	if got.StatusCode != http.StatusOK || got.ContentLength != d.Size {
		return fmt.Errorf("GET: %s, %d bytes", got.Status, got.ContentLength)
	}
	dc, err := net.Dial("tcp", dst.host)
	if err != nil {
		return err
	}
	defer dc.Close()
	fmt.Fprintf(dc, "PUT %s%sdigest=%s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n",
		loc, sep, d.Digest, dst.host, d.Size)
	buffered, _ := br.Peek(br.Buffered())
	if _, err := dc.Write(buffered); err != nil {
		return err
	}
	rest := d.Size - int64(len(buffered))
	if n, err := dc.(*net.TCPConn).ReadFrom(io.LimitReader(sc, rest)); err != nil || n != rest {
		return fmt.Errorf("sending: %d of %d bytes: %v", n, rest, err)
	}
	put, err := http.ReadResponse(bufio.NewReader(dc), nil)
	if err != nil {
		return err
	}
	if put.StatusCode != http.StatusCreated {
		return fmt.Errorf("finishing the upload: %s", put.Status)
	}
	return nil
}
