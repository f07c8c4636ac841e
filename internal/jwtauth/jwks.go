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
	"slices"
	"sync"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/time/rate"
)

// maxJWKSBytes bounds the JWKS response read from the issuer.
const maxJWKSBytes = 1 << 20

// keySource is a JWKS, fetched from one URL and refreshed in the
// background, and the Authorizers sharing it: the one New made it for and
// those made by Share. It counts them: its refreshes stop when the last
// one is closed, or when New's ctx ends.
type keySource struct {
	keys jwkset.Storage
	ctx  context.Context // ends when the refreshes stop
	stop context.CancelFunc

	mu      sync.Mutex
	holders []*Authorizer // the open sharers, oldest first
}

// newKeySource returns the key source for a.opts, shared by a alone. It
// fetches the set once before returning (bounded by HTTPTimeout, and a
// failure is only logged), then again every RefreshInterval until ctx
// ends or every sharer is closed, and on a read of an unknown kid at most
// once per UnknownKIDRefreshInterval. Failed fetches keep the keys
// fetched before.
func newKeySource(ctx context.Context, a *Authorizer) (*keySource, error) {
	src := &keySource{holders: []*Authorizer{a}}
	src.ctx, src.stop = context.WithCancel(ctx)
	keys, err := newKeySet(src.ctx, a.opts, src.logger)
	if err != nil {
		src.stop()
		return nil, err
	}
	src.keys = keys
	return src, nil
}

// acquire adds a to the sharers of src, unless the refreshes have stopped.
func (src *keySource) acquire(a *Authorizer) error {
	src.mu.Lock()
	defer src.mu.Unlock()
	if len(src.holders) == 0 || src.ctx.Err() != nil {
		return ErrClosed
	}
	src.holders = append(src.holders, a)
	return nil
}

// release removes a from the sharers of src, and stops the refreshes when
// it was the last one.
func (src *keySource) release(a *Authorizer) {
	src.mu.Lock()
	src.holders = slices.DeleteFunc(src.holders, func(h *Authorizer) bool { return h == a })
	last := len(src.holders) == 0
	src.mu.Unlock()
	if last {
		src.stop()
	}
}

// logger is where the fetch warnings go: to the logger of the newest
// sharer still open, the one most likely to have the current settings.
// It is nil once every sharer is closed.
func (src *keySource) logger() *slog.Logger {
	src.mu.Lock()
	defer src.mu.Unlock()
	if len(src.holders) == 0 {
		return nil
	}
	return src.holders[len(src.holders)-1].opts.Logger
}

// keySetDifferences names the options, with defaults, in which o and
// other would fetch different key sets.
func (o Options) keySetDifferences(other Options) []string {
	var differ []string
	if o.JWKSURL != other.JWKSURL {
		differ = append(differ, "JWKSURL")
	}
	if o.RefreshInterval != other.RefreshInterval {
		differ = append(differ, "RefreshInterval")
	}
	if o.UnknownKIDRefreshInterval != other.UnknownKIDRefreshInterval {
		differ = append(differ, "UnknownKIDRefreshInterval")
	}
	if o.HTTPTimeout != other.HTTPTimeout {
		differ = append(differ, "HTTPTimeout")
	}
	return differ
}

// newKeySet returns the JWKS storage for o, fetching and refreshing it as
// newKeySource says until ctx ends. Failed fetches are logged to the
// logger that logger returns at the time, if any.
func newKeySet(ctx context.Context, o Options, logger func() *slog.Logger) (jwkset.Storage, error) {
	transport := http.DefaultTransport.(*http.Transport).Clone()
	// Fetches are minutes apart: a connection kept between them would only
	// outlive the key set, open, when the refreshes stop.
	transport.DisableKeepAlives = true
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
				log := logger()
				if log == nil {
					return
				}
				log.Warn("jwt authorizer: fetching the JWKS failed; keeping the keys fetched before",
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
	// An open Authorizer reads under the key source's context: a refresh
	// for an unknown kid that it starts goes on if it is closed meanwhile,
	// for the sharers that remain, since the slot the refresh took from the
	// limiter is theirs too. A closed one reads under its own, ended
	// context, which the limiter refuses before taking a slot: it fetches
	// nothing.
	ctx := a.src.ctx
	if a.ctx.Err() != nil {
		ctx = a.ctx
	}
	jwk, err := a.keys.KeyRead(ctx, kid)
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
