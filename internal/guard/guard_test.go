package guard

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchboardgw/switchboard/internal/awsapi"
)

func TestOrigins(t *testing.T) {
	o, err := NewOrigins([]string{"https://app.example.com", "https://*.example.org", "http://localhost:3000", "null", "https://*.ports.example:8443"})
	if err != nil {
		t.Fatal(err)
	}
	for origin, want := range map[string]bool{
		"https://app.example.com":        true,
		"HTTPS://APP.EXAMPLE.COM":        true,
		"http://app.example.com":         false, // scheme differs
		"https://app.example.com:443":    false, // browsers omit the default port
		"https://other.example.com":      false,
		"https://a.example.org":          true,
		"https://a.b.example.org":        true,
		"https://example.org":            false, // the wildcard needs a subdomain
		"https://evilexample.org":        false,
		"https://a.example.org:8443":     false, // a port the pattern lacks
		"https://a.example.org.evil.com": false,
		"https://x@a.example.org":        false,
		"https://.example.org":           false,
		"http://localhost:3000":          true,
		"http://localhost:3001":          false,
		"null":                           true,
		"https://a.ports.example:8443":   true,
		"https://a.ports.example":        false,
		"":                               false,
	} {
		if got := o.Allows(origin); got != want {
			t.Errorf("Allows(%q) = %v, want %v", origin, got, want)
		}
	}
	for _, bad := range []string{"example.com", "https://a.*.example.com", "https://", "https://x.com/path"} {
		if _, err := NewOrigins([]string{bad}); err == nil {
			t.Errorf("NewOrigins(%q) accepted", bad)
		}
	}
}

func TestSourceIP(t *testing.T) {
	p := Proxies{}
	for _, s := range []string{"10.0.0.0/8", "127.0.0.1/32"} {
		p = append(p, mustPrefix(t, s))
	}
	tests := []struct {
		peer string
		xff  []string
		want string
	}{
		{"127.0.0.1", []string{"203.0.113.7"}, "203.0.113.7"},
		{"127.0.0.1", []string{"198.51.100.1, 203.0.113.7, 10.1.2.3"}, "203.0.113.7"}, // nearest untrusted hop
		{"127.0.0.1", []string{"198.51.100.1", "203.0.113.7"}, "203.0.113.7"},         // header lines in order
		{"127.0.0.1", nil, "127.0.0.1"},
		{"127.0.0.1", []string{"10.0.0.1, 10.0.0.2"}, "10.0.0.1"}, // all trusted: the farthest
		{"127.0.0.1", []string{"junk, 203.0.113.7"}, "203.0.113.7"},
		{"127.0.0.1", []string{"203.0.113.7, junk"}, "127.0.0.1"}, // a bad entry ends the walk
		{"192.0.2.1", []string{"203.0.113.7"}, "192.0.2.1"},       // untrusted peer: spoofable header ignored
		{"127.0.0.1", []string{"::ffff:203.0.113.9"}, "203.0.113.9"},
	}
	for _, tt := range tests {
		if got := p.SourceIP(tt.peer, tt.xff); got != tt.want {
			t.Errorf("SourceIP(%s, %q) = %s, want %s", tt.peer, tt.xff, got, tt.want)
		}
	}
}

func mustPrefix(t *testing.T, s string) netip.Prefix {
	t.Helper()
	p, err := netip.ParsePrefix(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestKeysFileAndLookup(t *testing.T) {
	sum := sha256.Sum256([]byte("the-secret-key-0123456789"))
	path := filepath.Join(t.TempDir(), "keys")
	os.WriteFile(path, []byte("# id sha256\n\nmobile "+hex.EncodeToString(sum[:])+"\n"), 0o600)
	keys, err := ReadKeysFile(path)
	if err != nil {
		t.Fatal(err)
	}
	g, err := New(Options{APIKeyRequired: true, Keys: append(keys, KeyFromValue("web", "web-key-abcdefghijklmnop"))})
	if err != nil {
		t.Fatal(err)
	}
	check := func(key string) (*awsapi.Auth, *Refusal) {
		ev := &awsapi.Event{Headers: []awsapi.Header{{Name: "X-Api-Key", Value: key}}}
		return g.Check(t.Context(), ev, nil)
	}
	if auth, r := check("the-secret-key-0123456789"); r != nil || auth.APIKeyID != "mobile" || auth.APIKey != "the-secret-key-0123456789" {
		t.Errorf("hashed key: %+v %+v", auth, r)
	}
	if auth, r := check("web-key-abcdefghijklmnop"); r != nil || auth.APIKeyID != "web" {
		t.Errorf("plain key: %+v %+v", auth, r)
	}
	for _, bad := range []string{"", "nope", "the-secret-key-012345678"} {
		if _, r := check(bad); r == nil || r.Status != http.StatusForbidden || string(r.Body()) != `{"message":"Forbidden"}` {
			t.Errorf("key %q: %+v", bad, r)
		}
	}
	// A reload swaps the whole set.
	if err := g.SetKeys([]Key{KeyFromValue("new", "new-key-abcdefghijklmnop")}); err != nil {
		t.Fatal(err)
	}
	if _, r := check("web-key-abcdefghijklmnop"); r == nil {
		t.Error("a key removed by SetKeys still works")
	}
	if err := g.SetKeys([]Key{KeyFromValue("a", "same-key-abcdefghijklmnop"), KeyFromValue("b", "same-key-abcdefghijklmnop")}); err == nil {
		t.Error("SetKeys accepted the same key twice")
	}

	for name, content := range map[string]string{
		"fields": "mobile\n", "hex": "mobile zz\n", "short": "mobile abcd\n",
	} {
		os.WriteFile(path, []byte(content), 0o600)
		if _, err := ReadKeysFile(path); err == nil || !strings.Contains(err.Error(), ":1:") {
			t.Errorf("%s: error %v, want one naming line 1", name, err)
		}
	}
}

func TestOriginCheck(t *testing.T) {
	o, _ := NewOrigins([]string{"https://app.example.com"})
	ev := func(origins ...string) *awsapi.Event {
		e := &awsapi.Event{}
		for _, v := range origins {
			e.Headers = append(e.Headers, awsapi.Header{Name: "origin", Value: v})
		}
		return e
	}
	lax, _ := New(Options{Origins: o})
	strict, _ := New(Options{Origins: o, RequireOrigin: true})
	for _, tt := range []struct {
		g    *Guard
		ev   *awsapi.Event
		pass bool
	}{
		{lax, ev("https://app.example.com"), true},
		{lax, ev(), true},
		{lax, ev("https://evil.example"), false},
		{lax, ev("https://app.example.com", "https://evil.example"), false},
		{strict, ev(), false},
		{strict, ev("https://app.example.com"), true},
	} {
		_, r := tt.g.Check(t.Context(), tt.ev, nil)
		if (r == nil) != tt.pass || (r != nil && r.Status != http.StatusForbidden) {
			t.Errorf("origins %v (require %v): refusal %+v", tt.ev.Headers, tt.g.opts.RequireOrigin, r)
		}
	}
}
