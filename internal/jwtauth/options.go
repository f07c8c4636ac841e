package jwtauth

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Defaults applied by New to the zero values of Options.
const (
	DefaultAlgorithm                 = "RS256"
	DefaultRefreshInterval           = time.Hour
	DefaultUnknownKIDRefreshInterval = 5 * time.Minute
	DefaultHTTPTimeout               = 5 * time.Second
)

// supportedAlgorithms are the JWS algorithms a key from a JWKS can verify.
// HMAC (HS*) is left out on purpose: a JWKS publishes public keys, and a
// shared secret must never come from one; "none" is never accepted.
var supportedAlgorithms = []string{
	"RS256", "RS384", "RS512",
	"PS256", "PS384", "PS512",
	"ES256", "ES384", "ES512",
	"EdDSA",
}

// Options configure an Authorizer. Only Issuer, Audiences and JWKSURL are
// required; every other zero value means the documented default.
//
// JWKSURL, RefreshInterval, UnknownKIDRefreshInterval and HTTPTimeout
// decide the key set: Authorizer.Share refuses options that differ from
// the shared Authorizer's in any of them. The others may change freely.
type Options struct {
	// Issuer must equal the token's "iss" claim exactly. Required.
	Issuer string

	// Audiences lists the accepted audiences; at least one is required.
	// The token's "aud" claim (a string or an array of strings) must
	// contain one of them. When the token has no "aud", its "client_id"
	// claim must be one of them instead (as AWS HTTP APIs do); a token
	// with an "aud" that does not match is refused even if its
	// "client_id" would.
	Audiences []string

	// JWKSURL is the http or https URL of the issuer's JSON Web Key Set.
	// Required.
	JWKSURL string

	// Algorithms lists the accepted "alg" header values. Default: RS256.
	// Allowed: RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384,
	// ES512, EdDSA. "none" and HMAC (HS*) are refused.
	Algorithms []string

	// Leeway is the clock skew tolerated when checking "exp", "nbf" and
	// "iat". Default: 0. A token must carry "exp".
	Leeway time.Duration

	// AuthorizationScopes, when set, are the scopes of which a token must
	// hold at least one, as a route's authorizationScopes on AWS HTTP
	// APIs: its scopes are the space-separated "scope" claim or, when
	// there is none, the "scp" claim (a space-separated string or an
	// array of strings). A token that is otherwise valid but holds none
	// is refused with 403. Default: none (any valid token).
	AuthorizationScopes []string

	// RefreshInterval is how often the JWKS is fetched again in the
	// background. Default: 1h.
	RefreshInterval time.Duration

	// UnknownKIDRefreshInterval is the least time between two fetches of
	// the JWKS triggered by a token whose "kid" is not among the known
	// keys (how a key rotation is picked up before the next background
	// refresh). Authorizers sharing keys (Authorizer.Share) share this
	// limit. Default: 5m.
	UnknownKIDRefreshInterval time.Duration

	// HTTPTimeout bounds one fetch of the JWKS: the first one, which New
	// waits for, and one triggered by an unknown kid, which Authorize
	// waits for. Default: 5s.
	HTTPTimeout time.Duration

	// Logger receives the warnings about fetching the JWKS. When
	// Authorizers share keys (Authorizer.Share), the warnings go to the
	// Logger of the newest one still open. Default: discard.
	Logger *slog.Logger
}

// withDefaults returns a copy of o with defaults filled in, or an error
// naming every field that is wrong.
func (o Options) withDefaults() (Options, error) {
	var problems []error
	bad := func(field, format string, args ...any) {
		problems = append(problems, fmt.Errorf("jwtauth: %s: %s", field, fmt.Sprintf(format, args...)))
	}

	if o.Issuer == "" {
		bad("Issuer", "required")
	}

	if len(o.Audiences) == 0 {
		bad("Audiences", "at least one audience is required")
	}
	for i, aud := range o.Audiences {
		if aud == "" {
			bad(fmt.Sprintf("Audiences[%d]", i), "empty")
		}
	}

	if o.JWKSURL == "" {
		bad("JWKSURL", "required")
	} else if u, err := url.Parse(o.JWKSURL); err != nil {
		bad("JWKSURL", "%v", err)
	} else if u.Scheme != "http" && u.Scheme != "https" {
		bad("JWKSURL", "scheme %q: want http or https", u.Scheme)
	} else if u.Host == "" {
		bad("JWKSURL", "no host")
	}

	if len(o.Algorithms) == 0 {
		o.Algorithms = []string{DefaultAlgorithm}
	} else {
		o.Algorithms = slices.Clone(o.Algorithms)
	}
	for i, alg := range o.Algorithms {
		field := fmt.Sprintf("Algorithms[%d]", i)
		switch {
		case slices.Contains(supportedAlgorithms, alg):
		case strings.EqualFold(alg, "none"):
			bad(field, `"none" is never accepted`)
		case strings.HasPrefix(strings.ToUpper(alg), "HS"):
			bad(field, "%q: HMAC keys cannot come from a JWKS", alg)
		default:
			bad(field, "%q: want one of %s", alg, strings.Join(supportedAlgorithms, ", "))
		}
	}

	if o.Leeway < 0 {
		bad("Leeway", "negative (%s)", o.Leeway)
	}

	for i, scope := range o.AuthorizationScopes {
		if scope == "" || strings.ContainsAny(scope, " \t\r\n") {
			bad(fmt.Sprintf("AuthorizationScopes[%d]", i), "%q: a scope is a non-empty word without spaces", scope)
		}
	}

	durations := []struct {
		field string
		value *time.Duration
		def   time.Duration
	}{
		{"RefreshInterval", &o.RefreshInterval, DefaultRefreshInterval},
		{"UnknownKIDRefreshInterval", &o.UnknownKIDRefreshInterval, DefaultUnknownKIDRefreshInterval},
		{"HTTPTimeout", &o.HTTPTimeout, DefaultHTTPTimeout},
	}
	for _, d := range durations {
		switch {
		case *d.value < 0:
			bad(d.field, "negative (%s)", *d.value)
		case *d.value == 0:
			*d.value = d.def
		}
	}

	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o, errors.Join(problems...)
}
