package registry

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
)

// ErrRedirect is matched when a registry redirects a request where
// CheckRedirect does not follow.
var ErrRedirect = errors.New("redirect refused")

// maxRedirects is net/http's own bound, which a CheckRedirect replaces.
const maxRedirects = 10

// CheckRedirect is the redirect policy of every HTTP client Slipway builds
// for registries, and go-containerregistry's own (remote's
// checkRedirectSSRF): a redirect to the host of the original request is
// followed, loopback included, so local registries work; a redirect to
// another host that is a private, loopback, link-local or unspecified IP
// literal, in any spelling the dialer accepts, is refused, so a registry
// cannot point Slipway at a cloud metadata service or another internal
// address. Host names are followed (blob storage). At most maxRedirects
// are followed.
func CheckRedirect(req *http.Request, via []*http.Request) error {
	if len(via) == 0 {
		return nil
	}
	if len(via) >= maxRedirects {
		return fmt.Errorf("following redirects: %w: more than %d", ErrRedirect, maxRedirects)
	}
	from, to := via[0].URL.Hostname(), req.URL.Hostname()
	if to == from || !isPrivateOrLinkLocal(to) {
		return nil
	}
	return fmt.Errorf("following a redirect from %s: %w: %q is a private, loopback or link-local address",
		from, ErrRedirect, quoteBound(to))
}

// quoteBound cuts an untrusted value to 64 bytes for a message.
func quoteBound(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

// isPrivateOrLinkLocal reports whether host is an IP literal of a
// loopback, private, link-local or unspecified address, in any form Go's
// dialer accepts: canonical IPv4 and IPv6, zoned and IPv4-mapped IPv6,
// and the inet_aton forms ("2130706433", "0x7f000001", "127.1"). Host
// names are not IP literals and give false. It mirrors
// go-containerregistry's internal/ipaddr, so both clients refuse the same.
func isPrivateOrLinkLocal(host string) bool {
	addr, ok := parseIP(host)
	if !ok {
		return false
	}
	return addr.IsLoopback() || addr.IsLinkLocalUnicast() || addr.IsLinkLocalMulticast() ||
		addr.IsPrivate() || addr.IsUnspecified()
}

// parseIP parses an IP literal in any form the dialer accepts.
func parseIP(host string) (netip.Addr, bool) {
	// The dialer ignores an IPv6 zone, so the check must too.
	host, _, _ = strings.Cut(host, "%")
	if addr, err := netip.ParseAddr(host); err == nil {
		return addr.WithZone("").Unmap(), true
	}
	return parseLegacyIPv4(host)
}

// parseLegacyIPv4 reads the inet_aton forms of IPv4 that Go's resolver
// accepts: one to four dot-separated parts, the last filling the bytes
// left ("127.1" is 127.0.0.1), each decimal, hexadecimal (0x) or octal
// (leading 0).
func parseLegacyIPv4(host string) (netip.Addr, bool) {
	parts := strings.Split(host, ".")
	if len(parts) > 4 {
		return netip.Addr{}, false
	}
	var b [4]byte
	for i, part := range parts[:len(parts)-1] {
		v, err := strconv.ParseUint(part, 0, 8)
		if err != nil {
			return netip.Addr{}, false
		}
		b[i] = byte(v)
	}
	bits := [...]int{32, 24, 16, 8}[len(parts)-1]
	last, err := strconv.ParseUint(parts[len(parts)-1], 0, bits)
	if err != nil {
		return netip.Addr{}, false
	}
	for i := len(parts) - 1; i < 4; i++ {
		b[i] = byte(last >> (8 * (3 - i)))
	}
	return netip.AddrFrom4(b), true
}
