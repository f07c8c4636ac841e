package jwtauth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/time/rate"
)

// maxJWKSBytes bounds the JWKS response read from the issuer.
const maxJWKSBytes = 1 << 20

// newKeySet returns the JWKS storage for o: it fetches the set once
// before returning (bounded by o.HTTPTimeout, and a failure is only
// logged), then again every o.RefreshInterval until ctx ends, and on a
// read of an unknown kid at most once per o.UnknownKIDRefreshInterval.
// Failed fetches keep the keys fetched before.
func newKeySet(ctx context.Context, o Options) (jwkset.Storage, error) {
	transport := http.DefaultTransport.(*http.Transport).Clone()
	client := &http.Client{
		Timeout:   o.HTTPTimeout,
		Transport: bodyLimit{next: transport, max: maxJWKSBytes},
	}
	where := redacted(o.JWKSURL)
	noErrorOnFirstFetch := true
	kf, err := keyfunc.NewDefaultOverrideCtx(ctx, []string{o.JWKSURL}, keyfunc.Override{
		Client:                    client,
		HTTPTimeout:               o.HTTPTimeout,
		NoErrorReturnFirstHTTPReq: &noErrorOnFirstFetch,
		RefreshInterval:           o.RefreshInterval,
		RefreshUnknownKID:         rate.NewLimiter(rate.Every(o.UnknownKIDRefreshInterval), 1),
		// How long a read of an unknown kid may wait for the limiter and
		// then for the fetch. The limiter refuses at once when its next
		// slot is further away than this.
		RateLimitWaitMax: o.HTTPTimeout,
		RefreshErrorHandlerFunc: func(string) func(context.Context, error) {
			return func(_ context.Context, err error) {
				if ctx.Err() != nil {
					return // closing: the fetch was cancelled
				}
				o.Logger.Warn("jwt authorizer: fetching the JWKS failed; keeping the keys fetched before",
					slog.String("url", where), slog.Any("error", err))
			}
		},
	})
	if err != nil {
		return nil, fmt.Errorf("jwtauth: JWKS: %w", err)
	}
	return kf.Storage(), nil
}

// keyFor is the parser's jwt.Keyfunc: the JWKS key named by the token's
// kid, provided it may verify the token's alg. The parser has already
// checked alg against the allowed list. Refusals are *Error.
func (a *Authorizer) keyFor(token *jwt.Token) (any, error) {
	kid, _ := token.Header["kid"].(string)
	if kid == "" {
		return nil, unauthorized(reasonNoKID, nil)
	}
	jwk, err := a.keys.KeyRead(a.ctx, kid)
	if err != nil {
		// Not in the set, even after the refresh the limiter allowed (or
		// refused): both mean this kid cannot be verified now.
		return nil, unauthorized(reasonUnknownKID, fmt.Errorf("kid %q: %w", clip(kid), err))
	}
	alg := token.Method.Alg()
	meta := jwk.Marshal()
	if meta.USE != "" && meta.USE != jwkset.UseSig {
		return nil, unauthorized(reasonKeyMismatch, fmt.Errorf("kid %q: key use %q", clip(kid), meta.USE))
	}
	if meta.ALG != "" && meta.ALG.String() != alg {
		return nil, unauthorized(reasonKeyMismatch, fmt.Errorf("kid %q: key alg %q, token alg %q", clip(kid), meta.ALG, alg))
	}
	key := jwk.Key()
	if private, ok := key.(interface{ Public() crypto.PublicKey }); ok {
		key = private.Public() // a JWKS should not publish private keys, but use only the public half
	}
	if !keyFitsAlg(key, alg) {
		return nil, unauthorized(reasonKeyMismatch, fmt.Errorf("kid %q: a %T key cannot verify %s", clip(kid), key, alg))
	}
	return key, nil
}

// keyFitsAlg reports whether key is of the type (and, for ECDSA, the
// curve) that alg is defined for, so that a key is never used with an
// algorithm of another family.
func keyFitsAlg(key any, alg string) bool {
	switch alg {
	case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512":
		_, ok := key.(*rsa.PublicKey)
		return ok
	case "ES256":
		return onCurve(key, elliptic.P256())
	case "ES384":
		return onCurve(key, elliptic.P384())
	case "ES512":
		return onCurve(key, elliptic.P521())
	case "EdDSA":
		_, ok := key.(ed25519.PublicKey)
		return ok
	}
	return false
}

func onCurve(key any, curve elliptic.Curve) bool {
	k, ok := key.(*ecdsa.PublicKey)
	return ok && k.Curve == curve
}

// redacted hides the password of a URL before it is logged.
func redacted(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	return u.Redacted()
}

// bodyLimit makes reading a response body fail once it goes past max
// bytes, so a misbehaving JWKS endpoint cannot make us buffer without end.
type bodyLimit struct {
	next http.RoundTripper
	max  int64
}

var errJWKSTooLarge = errors.New("JWKS response larger than 1 MiB")

// RoundTrip sends req and limits the response body.
func (b bodyLimit) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := b.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	resp.Body = &limitedBody{ReadCloser: resp.Body, left: b.max}
	return resp, nil
}

type limitedBody struct {
	io.ReadCloser
	left int64
}

func (l *limitedBody) Read(p []byte) (int, error) {
	if int64(len(p)) > l.left+1 {
		p = p[:l.left+1] // one byte more than allowed tells "too large" from "exactly the limit"
	}
	n, err := l.ReadCloser.Read(p)
	if int64(n) > l.left {
		n = int(l.left)
		l.left = 0
		return n, errJWKSTooLarge
	}
	l.left -= int64(n)
	return n, err
}
