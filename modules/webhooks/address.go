package webhooks

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"syscall"
	"time"
)

// ErrUnsafeURL: an endpoint's URL is not https://, cannot be resolved, or resolves
// to an address inside a network (loopback, private, link-local, shared, reserved),
// where a webhook would be a request forged into the cluster.
var ErrUnsafeURL = errors.New("webhooks: unsafe endpoint URL")

// maxURLBytes bounds an endpoint's URL.
const maxURLBytes = 2048

// internal are the ranges beyond netip's own classes (loopback, private, link-local,
// multicast, unspecified) that no endpoint may reach.
var internal = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),      // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),  // shared address space (carrier-grade NAT)
	netip.MustParsePrefix("192.0.0.0/24"),   // IETF protocol assignments
	netip.MustParsePrefix("198.18.0.0/15"),  // benchmarking
	netip.MustParsePrefix("240.0.0.0/4"),    // reserved, and the broadcast address
	netip.MustParsePrefix("64:ff9b::/96"),   // NAT64: would reach any IPv4 address
	netip.MustParsePrefix("64:ff9b:1::/48"), // local-use NAT64
	netip.MustParsePrefix("2001:db8::/32"),  // documentation
	netip.MustParsePrefix("2002::/16"),      // 6to4: embeds an IPv4 address
	netip.MustParsePrefix("fec0::/10"),      // site-local (deprecated, still routed in places)
}

// publicAddress reports whether an endpoint may be reached at ip.
func publicAddress(ip netip.Addr) bool {
	ip = ip.Unmap()
	if !ip.IsGlobalUnicast() || ip.IsPrivate() {
		return false
	}
	for _, p := range internal {
		if p.Contains(ip) {
			return false
		}
	}
	return true
}

// addressPolicy decides which endpoint URLs are allowed. The local profile
// (allowInternal) accepts http:// and any address: a receiver in a test listens on
// loopback.
type addressPolicy struct {
	allowInternal bool
	resolver      *net.Resolver
}

// check validates raw for registration: its shape, its scheme and every address its
// host resolves to now. Delivery checks the address again on each connection
// (dialControl): a name that resolves differently later is caught there.
func (p addressPolicy) check(ctx context.Context, raw string) (*url.URL, error) {
	if len(raw) > maxURLBytes {
		return nil, fmt.Errorf("%w: longer than %d bytes", ErrUnsafeURL, maxURLBytes)
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return nil, fmt.Errorf("%w: not an absolute URL", ErrUnsafeURL)
	}
	switch {
	case u.User != nil:
		return nil, fmt.Errorf("%w: credentials in the URL", ErrUnsafeURL)
	case u.Fragment != "":
		return nil, fmt.Errorf("%w: a fragment", ErrUnsafeURL)
	case u.Scheme == "https", u.Scheme == "http" && p.allowInternal:
	default:
		return nil, fmt.Errorf("%w: the scheme must be https", ErrUnsafeURL)
	}
	if p.allowInternal {
		return u, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	addrs, err := p.resolver.LookupNetIP(ctx, "ip", u.Hostname())
	if err != nil || len(addrs) == 0 {
		return nil, fmt.Errorf("%w: %s does not resolve", ErrUnsafeURL, u.Hostname())
	}
	for _, a := range addrs {
		if !publicAddress(a) {
			return nil, fmt.Errorf("%w: %s resolves to %s, an internal address", ErrUnsafeURL, u.Hostname(), a.Unmap())
		}
	}
	return u, nil
}

// dialControl refuses, on every connection a delivery makes, an address that is not
// public: what the name resolves to when the delivery is sent is what counts.
func (p addressPolicy) dialControl(_, address string, _ syscall.RawConn) error {
	if p.allowInternal {
		return nil
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil || !publicAddress(ap.Addr()) {
		return fmt.Errorf("%w: connecting to %s, an internal address", ErrUnsafeURL, address)
	}
	return nil
}
