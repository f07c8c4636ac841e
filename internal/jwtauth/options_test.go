package jwtauth

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestOptionsValidation(t *testing.T) {
	valid := Options{
		Issuer:    testIssuer,
		Audiences: []string{testAudience},
		JWKSURL:   "https://issuer.example.com/.well-known/jwks.json",
	}
	tests := []struct {
		name   string
		change func(*Options)
		want   []string // substrings of the error, one per problem
	}{
		{"no issuer", func(o *Options) { o.Issuer = "" }, []string{"Issuer: required"}},
		{"no audiences", func(o *Options) { o.Audiences = nil }, []string{"Audiences: at least one"}},
		{"empty audience", func(o *Options) { o.Audiences = []string{"a", ""} }, []string{"Audiences[1]: empty"}},
		{"no JWKS URL", func(o *Options) { o.JWKSURL = "" }, []string{"JWKSURL: required"}},
		{"JWKS URL scheme", func(o *Options) { o.JWKSURL = "file:///etc/jwks.json" }, []string{`JWKSURL: scheme "file"`}},
		{"JWKS URL relative", func(o *Options) { o.JWKSURL = "/jwks.json" }, []string{`JWKSURL: scheme ""`}},
		{"JWKS URL no host", func(o *Options) { o.JWKSURL = "https:///jwks.json" }, []string{"JWKSURL: no host"}},
		{"JWKS URL unparsable", func(o *Options) { o.JWKSURL = "https://a b/%zz" }, []string{"JWKSURL: "}},
		{"alg none", func(o *Options) { o.Algorithms = []string{"RS256", "none"} }, []string{`Algorithms[1]: "none" is never accepted`}},
		{"alg HS256", func(o *Options) { o.Algorithms = []string{"HS256"} }, []string{"Algorithms[0]: \"HS256\": HMAC"}},
		{"alg unknown", func(o *Options) { o.Algorithms = []string{"rs256"} }, []string{`Algorithms[0]: "rs256": want one of RS256`}},
		{"negative leeway", func(o *Options) { o.Leeway = -time.Second }, []string{"Leeway: negative"}},
		{"scope with space", func(o *Options) { o.AuthorizationScopes = []string{"a b"} }, []string{"AuthorizationScopes[0]"}},
		{"empty scope", func(o *Options) { o.AuthorizationScopes = []string{""} }, []string{"AuthorizationScopes[0]"}},
		{"negative refresh", func(o *Options) { o.RefreshInterval = -1 }, []string{"RefreshInterval: negative"}},
		{"negative unknown-kid refresh", func(o *Options) { o.UnknownKIDRefreshInterval = -1 }, []string{"UnknownKIDRefreshInterval: negative"}},
		{"negative HTTP timeout", func(o *Options) { o.HTTPTimeout = -1 }, []string{"HTTPTimeout: negative"}},
		{"several at once", func(o *Options) { o.Issuer = ""; o.JWKSURL = "" }, []string{"Issuer: required", "JWKSURL: required"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := valid
			o.Audiences = append([]string(nil), valid.Audiences...)
			tt.change(&o)
			a, err := New(context.Background(), o)
			if err == nil {
				a.Close()
				t.Fatal("New accepted the options")
			}
			for _, want := range tt.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
			if got := strings.Count(err.Error(), "jwtauth: "); got != len(tt.want) {
				t.Errorf("error %q reports %d problems, want %d", err, got, len(tt.want))
			}
		})
	}
}

func TestOptionsDefaults(t *testing.T) {
	algs := []string{"ES256", "RS256"}
	o, err := Options{
		Issuer:     testIssuer,
		Audiences:  []string{testAudience},
		JWKSURL:    "http://127.0.0.1:1/jwks",
		Algorithms: algs,
	}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	algs[0] = "changed"
	if !reflect.DeepEqual(o.Algorithms, []string{"ES256", "RS256"}) {
		t.Errorf("Algorithms = %q: not copied", o.Algorithms)
	}

	o, err = Options{Issuer: testIssuer, Audiences: []string{testAudience}, JWKSURL: "http://127.0.0.1:1/jwks"}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(o.Algorithms, []string{"RS256"}) ||
		o.RefreshInterval != time.Hour ||
		o.UnknownKIDRefreshInterval != 5*time.Minute ||
		o.HTTPTimeout != 5*time.Second ||
		o.Leeway != 0 || o.Logger == nil {
		t.Errorf("defaults: %+v", o)
	}
}
