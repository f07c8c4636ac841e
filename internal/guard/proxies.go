package guard

import (
	"net/netip"
	"strings"
)

// Proxies are the trusted proxies: peers whose X-Forwarded-For is
// believed.
type Proxies []netip.Prefix

// SourceIP is the client's address as API Gateway reports it in
// identity.sourceIp. From a trusted peer it is the right-most address of
// X-Forwarded-For (all of the header's lines, in order) that is not
// itself a trusted proxy: the nearest address no trusted hop vouches
// beyond. Entries that are not IP addresses end the walk, as does an
// untrusted peer: then it is the peer's address.
func (p Proxies) SourceIP(peer string, forwardedFor []string) string {
	addr, err := netip.ParseAddr(peer)
	if err != nil || !p.trusted(addr) {
		return peer
	}
	for i := len(forwardedFor) - 1; i >= 0; i-- {
		hops := strings.Split(forwardedFor[i], ",")
		for j := len(hops) - 1; j >= 0; j-- {
			hop, err := netip.ParseAddr(strings.TrimSpace(hops[j]))
			if err != nil {
				return addr.String()
			}
			addr = hop.Unmap()
			if !p.trusted(addr) {
				return addr.String()
			}
		}
	}
	return addr.String() // every hop is trusted: the farthest one
}

func (p Proxies) trusted(a netip.Addr) bool {
	a = a.Unmap()
	for _, pr := range p {
		if pr.Contains(a) {
			return true
		}
	}
	return false
}
