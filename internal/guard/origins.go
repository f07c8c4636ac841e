package guard

import (
	"fmt"
	"strings"
)

// Origins is an allow-list of browser origins. Patterns are exact
// ("https://app.example.com", "http://localhost:3000", "null") or match
// subdomains at any depth ("https://*.example.com" matches
// https://a.example.com and https://a.b.example.com, not
// https://example.com). Scheme and host compare without regard to case;
// the port must match exactly (a default port is absent, as browsers send
// it).
type Origins struct {
	exact    map[string]bool
	suffixes []originSuffix
}

type originSuffix struct {
	scheme string // "https://"
	suffix string // ".example.com" or ".example.com:8443"
}

// NewOrigins compiles patterns.
func NewOrigins(patterns []string) (*Origins, error) {
	o := &Origins{exact: map[string]bool{}}
	for _, p := range patterns {
		p = strings.ToLower(p)
		scheme, host, ok := strings.Cut(p, "://")
		switch {
		case p == "null":
			o.exact[p] = true
		case !ok || scheme == "" || host == "" || strings.ContainsAny(host, "/?#@ "):
			return nil, fmt.Errorf("origin %q: want scheme://host[:port]", p)
		case strings.HasPrefix(host, "*."):
			rest := host[1:]
			if strings.Contains(rest, "*") {
				return nil, fmt.Errorf("origin %q: a wildcard may only be the first label", p)
			}
			o.suffixes = append(o.suffixes, originSuffix{scheme: scheme + "://", suffix: rest})
		case strings.Contains(host, "*"):
			return nil, fmt.Errorf("origin %q: a wildcard may only be the first label", p)
		default:
			o.exact[p] = true
		}
	}
	return o, nil
}

// Allows reports whether origin (an Origin header's value) is listed.
func (o *Origins) Allows(origin string) bool {
	origin = strings.ToLower(origin)
	if o.exact[origin] {
		return true
	}
	for _, s := range o.suffixes {
		host, ok := strings.CutPrefix(origin, s.scheme)
		if !ok {
			continue
		}
		sub, ok := strings.CutSuffix(host, s.suffix)
		// sub is the subdomain's labels: not empty, and nothing that
		// would make the suffix part of a port, path or user info.
		if ok && sub != "" && !strings.ContainsAny(sub, ":/?#@ ") && !strings.HasSuffix(sub, ".") {
			return true
		}
	}
	return false
}
