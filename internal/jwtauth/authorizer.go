// Package jwtauth authorizes a WebSocket handshake ($connect) with a JSON
// Web Token, the way the JWT authorizer of AWS API Gateway HTTP APIs does:
// the token's signature is checked with a key from the issuer's JWKS
// (chosen by the token's kid), then its iss, aud (or client_id), exp, nbf
// and iat claims, then the scopes the gateway requires. The verified
// claims are returned as strings, ready for the event's
// requestContext.authorizer.jwt.
//
// The package does no request handling: the gateway takes the token from
// a header (TokenFromHeader strips a "Bearer " prefix) or a query
// parameter, calls Authorize, and answers the handshake with the status
// of a refusal (*Error).
//
// Keys are fetched in the background; see New for what happens while
// the JWKS cannot be reached. An Authorizer made with Share checks tokens
// with other settings (issuer, audiences, algorithms, leeway, scopes)
// against the same keys, so a configuration reload that changes only
// those does not fetch the JWKS again.
package jwtauth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
)

// MaxTokenBytes bounds the token Authorize accepts. Longer tokens are
// refused before any decoding.
const MaxTokenBytes = 16 << 10

// Authorizer verifies tokens of one issuer. It is safe for concurrent use.
type Authorizer struct {
	opts       Options
	algorithms map[string]bool
	parser     *jwt.Parser
	src        *keySource     // shared with the Authorizers made by Share
	keys       jwkset.Storage // src.keys

	// ctx ends with Close, or when src stops refreshing. Once it has,
	// Authorize reads keys under it, so a token with an unknown kid no
	// longer makes the JWKS be fetched (keyFor).
	ctx       context.Context
	cancel    context.CancelFunc
	closeOnce sync.Once
}

// ErrOtherKeys is returned by Share when opts would fetch another key set.
var ErrOtherKeys = errors.New("jwtauth: the options need another key set")

// ErrClosed is returned by Share when the keys are no longer refreshed:
// every Authorizer sharing them is closed, or New's ctx has ended.
var ErrClosed = errors.New("jwtauth: the key set is closed")

// Result is what a valid token tells about its bearer.
type Result struct {
	// Claims holds every claim of the token rendered as a string, as
	// AWS presents requestContext.authorizer.jwt.claims: strings as is,
	// numbers as their JSON text, booleans as "true"/"false", null as
	// "null", arrays as "[a b c]", objects as compact JSON.
	Claims map[string]string
	// Scopes lists the token's scopes (from "scope", else "scp"), for
	// requestContext.authorizer.jwt.scopes; nil when it has none.
	Scopes []string
}

// New checks opts and returns an Authorizer whose keys are refreshed in
// the background until ctx ends or it and every Authorizer made from it by
// Share (which share its keys) are closed.
//
// New fetches the JWKS once before returning, waiting at most
// opts.HTTPTimeout. If that fails (the issuer is down, the URL answers an
// error or something that is not a JWKS) New still succeeds, so that the
// gateway starts: it logs a warning, and every token is refused with 401
// (unknown kid) until keys arrive, either at the next background refresh
// or when a token's unknown kid triggers a refresh (at most once per
// opts.UnknownKIDRefreshInterval). New fails only for invalid options or
// an ended ctx.
func New(ctx context.Context, opts Options) (*Authorizer, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("jwtauth: %w", err)
	}

	a := newChecker(o)
	src, err := newKeySource(ctx, a)
	if err != nil {
		return nil, err
	}
	a.attach(src)

	where := redacted(o.JWKSURL)
	if keys, err := a.keys.KeyReadAll(a.ctx); err != nil || len(keys) == 0 {
		o.Logger.Warn("jwt authorizer: no signing keys yet; tokens are refused (401) until the JWKS is fetched",
			slog.String("url", where), slog.Duration("refresh_interval", o.RefreshInterval))
	} else {
		o.Logger.Info("jwt authorizer: JWKS fetched", slog.String("url", where), slog.Int("keys", len(keys)))
	}
	return a, nil
}

// Share returns an Authorizer that checks tokens with opts (issuer, audiences,
// algorithms, leeway, scopes, logger...) against a's keys, without fetching them:
// the key set and its background refreshes are shared. It returns ErrOtherKeys
// when opts (after defaults) differ from a's in what decides the key set:
// JWKSURL, RefreshInterval, UnknownKIDRefreshInterval, HTTPTimeout; and the
// usual errors for invalid opts. The shared keys are refreshed until every
// Authorizer sharing them is closed (or New's ctx ends).
//
// Once the refreshes have stopped, Share returns ErrClosed and shares
// nothing; a itself may be closed as long as another Authorizer sharing
// its keys is open. The Authorizers sharing keys also share the limit on
// fetches for unknown kids (Options.UnknownKIDRefreshInterval).
func (a *Authorizer) Share(opts Options) (*Authorizer, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if differ := a.opts.keySetDifferences(o); len(differ) > 0 {
		return nil, fmt.Errorf("%w: %s differ", ErrOtherKeys, strings.Join(differ, ", "))
	}
	b := newChecker(o)
	if err := a.src.acquire(b); err != nil {
		return nil, err
	}
	b.attach(a.src)
	return b, nil
}

// Close releases a's share of the keys: when no other Authorizer made by
// New or Share shares them, their background refreshes stop, and one
// under way is cancelled. A fetch for an unknown kid that a's Authorize
// started goes on while other Authorizers share the keys (its result is
// theirs), and is cancelled with the rest otherwise. Authorize keeps
// working with the keys already fetched, and fetches no more. Close may be called more than
// once; only the first call releases a's share.
func (a *Authorizer) Close() {
	a.closeOnce.Do(func() {
		a.cancel()
		a.src.release(a)
	})
}

// newChecker returns an Authorizer checking tokens with o, which has its
// defaults, without keys yet.
func newChecker(o Options) *Authorizer {
	a := &Authorizer{
		opts:       o,
		algorithms: make(map[string]bool, len(o.Algorithms)),
		parser: jwt.NewParser(
			jwt.WithValidMethods(o.Algorithms),
			jwt.WithIssuer(o.Issuer),
			jwt.WithLeeway(o.Leeway),
			jwt.WithExpirationRequired(),
			jwt.WithIssuedAt(),
		),
	}
	for _, alg := range o.Algorithms {
		a.algorithms[alg] = true
	}
	return a
}

// attach gives a the keys of src, of which it holds a share.
func (a *Authorizer) attach(src *keySource) {
	a.src = src
	a.keys = src.keys
	a.ctx, a.cancel = context.WithCancel(src.ctx)
}

// Authorize verifies token and returns its claims and scopes, or an
// *Error saying which status to answer with and why.
//
// The token is checked in this order: size, structure, alg (in
// Options.Algorithms), kid (in the JWKS, refreshing it for an unknown kid
// at most once per Options.UnknownKIDRefreshInterval), the key fitting
// alg, the signature, exp (required), nbf and iat (each within
// Options.Leeway), iss, aud/client_id; any failure there is 401. A token
// passing all of them but holding none of Options.AuthorizationScopes
// (when there are any) is 403.
//
// Authorize does no I/O except that refresh, which it waits for at most
// Options.HTTPTimeout.
func (a *Authorizer) Authorize(token string) (*Result, error) {
	switch {
	case token == "":
		return nil, unauthorized(reasonMissing, nil)
	case len(token) > MaxTokenBytes:
		return nil, unauthorized(reasonTooLarge, fmt.Errorf("%d bytes, at most %d", len(token), MaxTokenBytes))
	}

	var c claims
	parsed, err := a.parser.ParseWithClaims(token, &c, a.keyFor)
	if err != nil {
		return nil, a.refusal(err, parsed, &c)
	}

	aud := c.audiences()
	if !slices.ContainsFunc(aud, func(s string) bool { return slices.Contains(a.opts.Audiences, s) }) {
		if len(aud) == 0 {
			return nil, unauthorized(reasonAudience, errors.New("no aud or client_id"))
		}
		return nil, unauthorized(reasonAudience, fmt.Errorf("aud %q", clip(strings.Join(aud, " "))))
	}

	scopes := c.scopes()
	if want := a.opts.AuthorizationScopes; len(want) > 0 && !slices.ContainsFunc(want, func(s string) bool { return slices.Contains(scopes, s) }) {
		return nil, forbidden(reasonMissingScopes, fmt.Errorf("want one of %s", strings.Join(want, " ")))
	}

	return &Result{Claims: c.stringMap(), Scopes: scopes}, nil
}

// TokenFromHeader returns the token carried by an Authorization-style
// header value. Like AWS HTTP APIs, it accepts the bare token or the
// token after a "Bearer " prefix, matched without regard to case;
// surrounding white space is dropped. It returns "" when there is no
// token.
func TokenFromHeader(value string) string {
	v := strings.TrimSpace(value)
	const prefix = "bearer"
	if len(v) >= len(prefix) && strings.EqualFold(v[:len(prefix)], prefix) {
		rest := v[len(prefix):]
		if rest == "" {
			return ""
		}
		if rest[0] == ' ' || rest[0] == '\t' {
			return strings.TrimSpace(rest)
		}
	}
	return v
}
