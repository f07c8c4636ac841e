// Package guard decides, before $connect runs, whether an upgrade request
// may open a connection: the Origin allow-list, the $connect route's
// authorization (AWS_IAM, a REQUEST authorizer or a JWT authorizer), then
// its API key, in that order, as API Gateway checks authorization before
// API keys. What the checks establish (principal, claims, signer, key)
// becomes the connection's awsapi.Auth, carried by all its events.
package guard

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/switchboardgw/switchboard/internal/authorizer"
	"github.com/switchboardgw/switchboard/internal/awsapi"
	"github.com/switchboardgw/switchboard/internal/jwtauth"
	"github.com/switchboardgw/switchboard/internal/sigv4"
)

// Identity is what events report about a SigV4 signer (identity.*).
type Identity struct {
	AccountID, Caller, User, UserArn string
}

// Options configure a Guard. Zero fields check nothing.
type Options struct {
	// Origins, when set, is the allow-list for the Origin header; an
	// upgrade without one passes unless RequireOrigin.
	Origins       *Origins
	RequireOrigin bool

	// At most one of IAM, Custom and JWT: $connect's authorization.
	// IAM verifies a SigV4-signed upgrade; IAMIdentities gives each access
	// key id's identity fields.
	IAM           *sigv4.Verifier
	IAMIdentities map[string]Identity
	Custom        *authorizer.Authorizer
	JWT           *jwtauth.Authorizer
	// JWTSource is where the token is; a header's value may carry a
	// "Bearer " prefix.
	JWTSource authorizer.Source

	// APIKeyRequired refuses upgrades without one of Keys, found in the
	// x-api-key header or, with APIKeyFromAuthorizer, in the REQUEST
	// authorizer's usageIdentifierKey.
	APIKeyRequired       bool
	APIKeyFromAuthorizer bool
	Keys                 []Key

	Log *slog.Logger
}

// Guard runs the checks. It is safe for concurrent use.
type Guard struct {
	opts Options
	keys atomic.Pointer[keySet]
}

// New checks opts and returns a Guard.
func New(opts Options) (*Guard, error) {
	n := 0
	for _, set := range []bool{opts.IAM != nil, opts.Custom != nil, opts.JWT != nil} {
		if set {
			n++
		}
	}
	if n > 1 {
		return nil, errors.New("guard: more than one kind of authorization")
	}
	if opts.APIKeyFromAuthorizer && opts.APIKeyRequired && opts.Custom == nil {
		return nil, errors.New("guard: API keys from the authorizer need a REQUEST authorizer")
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	g := &Guard{opts: opts}
	if err := g.SetKeys(opts.Keys); err != nil {
		return nil, err
	}
	return g, nil
}

// SetKeys replaces the accepted API keys, as on a reload. Upgrades being
// checked use the old set or the new one, never a mix.
func (g *Guard) SetKeys(keys []Key) error {
	s, err := newKeySet(keys)
	if err != nil {
		return err
	}
	g.keys.Store(&s)
	return nil
}

// Active reports whether Check has anything to check; when not, the
// server may skip building the event Check needs.
func (g *Guard) Active() bool {
	o := &g.opts
	return o.Origins != nil || o.IAM != nil || o.Custom != nil || o.JWT != nil || o.APIKeyRequired
}

// Refusal is an upgrade the guard turns away: the client gets Status and
// Body; Reason is for the log.
type Refusal struct {
	Status int
	Reason string
}

// Body is API Gateway's JSON error body for the status.
func (r *Refusal) Body() []byte {
	msg := "Forbidden"
	switch r.Status {
	case http.StatusUnauthorized:
		msg = "Unauthorized"
	case http.StatusInternalServerError:
		msg = "Internal server error"
	}
	return append(awsapi.AppendJSONString([]byte(`{"message":`), msg), '}')
}

// Check runs the checks on the upgrade whose CONNECT event is ev (its
// headers and query string are the request's). signed returns the upgrade
// as an *http.Request, built only for SigV4 verification. On success the
// returned Auth (nil when nothing was established) belongs on ev and on
// every later event of the connection.
func (g *Guard) Check(ctx context.Context, ev *awsapi.Event, signed func() *http.Request) (*awsapi.Auth, *Refusal) {
	o := &g.opts
	if o.Origins != nil {
		if r := g.checkOrigin(ev); r != nil {
			return nil, r
		}
	}
	var auth awsapi.Auth
	usageKey := ""
	switch {
	case o.IAM != nil:
		akid, err := o.IAM.VerifyIdentity(signed(), nil)
		if err != nil {
			return nil, &Refusal{Status: http.StatusForbidden, Reason: "AWS_IAM: " + err.Error()}
		}
		id := o.IAMIdentities[akid]
		auth.AccessKey, auth.AccountID, auth.Caller, auth.User, auth.UserArn = akid, id.AccountID, id.Caller, id.User, id.UserArn
	case o.Custom != nil:
		start := time.Now()
		res, err := o.Custom.Authorize(ctx, ev)
		if err != nil {
			return nil, refusal(err)
		}
		auth.Custom = &awsapi.CustomAuth{PrincipalID: res.PrincipalID, Context: res.Context,
			IntegrationLatency: time.Since(start).Milliseconds()}
		usageKey = res.UsageIdentifierKey
	case o.JWT != nil:
		token, ok := o.JWTSource.Lookup(ev)
		if !ok {
			return nil, &Refusal{Status: http.StatusUnauthorized, Reason: "JWT: identity source " + o.JWTSource.String() + " is missing or empty"}
		}
		if o.JWTSource.Kind == authorizer.SourceHeader {
			token = jwtauth.TokenFromHeader(token)
		}
		res, err := o.JWT.Authorize(token)
		if err != nil {
			return nil, refusal(err)
		}
		auth.JWT = &awsapi.JWTAuth{Claims: res.Claims, Scopes: res.Scopes}
	}
	if o.APIKeyRequired {
		value := usageKey
		if !o.APIKeyFromAuthorizer {
			value = lastHeader(ev.Headers, "x-api-key")
		}
		id, ok := (*g.keys.Load()).lookup(value)
		if value == "" || !ok {
			return nil, &Refusal{Status: http.StatusForbidden, Reason: "no valid API key"}
		}
		auth.APIKey, auth.APIKeyID = value, id
	}
	if auth == (awsapi.Auth{}) {
		return nil, nil
	}
	return &auth, nil
}

func (g *Guard) checkOrigin(ev *awsapi.Event) *Refusal {
	var origins []string
	for _, h := range ev.Headers {
		if strings.EqualFold(h.Name, "Origin") {
			origins = append(origins, h.Value)
		}
	}
	switch {
	case len(origins) == 0 && !g.opts.RequireOrigin:
		return nil
	case len(origins) == 0:
		return &Refusal{Status: http.StatusForbidden, Reason: "no Origin header"}
	case len(origins) > 1:
		return &Refusal{Status: http.StatusForbidden, Reason: "more than one Origin header"}
	case !g.opts.Origins.Allows(origins[0]):
		return &Refusal{Status: http.StatusForbidden, Reason: "origin " + origins[0] + " is not allowed"}
	}
	return nil
}

// refusal turns an authorizer's error into the handshake's answer.
func refusal(err error) *Refusal {
	var ae *authorizer.Error
	var je *jwtauth.Error
	switch {
	case errors.As(err, &ae):
		return &Refusal{Status: ae.Status, Reason: err.Error()}
	case errors.As(err, &je):
		return &Refusal{Status: je.Status, Reason: "JWT: " + err.Error()}
	}
	return &Refusal{Status: http.StatusInternalServerError, Reason: err.Error()}
}

func lastHeader(hs []awsapi.Header, name string) string {
	v := ""
	for _, h := range hs {
		if strings.EqualFold(h.Name, name) {
			v = h.Value
		}
	}
	return v
}
