package jwtauth

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
)

const (
	testIssuer   = "https://issuer.example.com/"
	testAudience = "switchboard-api"
)

// signingKey is a private key and the kid it is published under.
type signingKey struct {
	kid    string
	signer crypto.Signer
}

// Keys are generated once per test binary: RSA generation is slow.
var (
	rsaKeyA = sync.OnceValue(func() signingKey { return signingKey{"rsa-a", newRSAKey()} })
	rsaKeyB = sync.OnceValue(func() signingKey { return signingKey{"rsa-b", newRSAKey()} })
	rsaKeyC = sync.OnceValue(func() signingKey { return signingKey{"rsa-c", newRSAKey()} })
	ecKey   = sync.OnceValue(func() signingKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			panic(err)
		}
		return signingKey{"ec-a", k}
	})
)

func newRSAKey() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
}

// fakeIssuer serves a JWKS over HTTP and counts the requests for it.
type fakeIssuer struct {
	srv      *httptest.Server
	requests atomic.Int64
	down     atomic.Bool // answer 503 instead of the set

	mu   sync.Mutex
	jwks []byte
}

func newFakeIssuer(t testing.TB, keys ...signingKey) *fakeIssuer {
	t.Helper()
	f := &fakeIssuer{}
	f.publish(t, keys...)
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.requests.Add(1)
		if f.down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		f.mu.Lock()
		body := f.jwks
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

// publish replaces the served set with the public halves of keys.
func (f *fakeIssuer) publish(t testing.TB, keys ...signingKey) {
	t.Helper()
	set := jwkset.JWKSMarshal{Keys: []jwkset.JWKMarshal{}}
	for _, k := range keys {
		jwk, err := jwkset.NewJWKFromKey(k.signer.Public(), jwkset.JWKOptions{
			Metadata: jwkset.JWKMetadataOptions{KID: k.kid, USE: jwkset.UseSig},
		})
		if err != nil {
			t.Fatal(err)
		}
		set.Keys = append(set.Keys, jwk.Marshal())
	}
	body, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	f.jwks = body
	f.mu.Unlock()
}

func (f *fakeIssuer) url() string { return f.srv.URL + "/.well-known/jwks.json" }

// options returns valid options for f; tests change what they exercise.
func (f *fakeIssuer) options() Options {
	return Options{
		Issuer:    testIssuer,
		Audiences: []string{testAudience},
		JWKSURL:   f.url(),
	}
}

func newAuthorizer(t testing.TB, o Options) *Authorizer {
	t.Helper()
	a, err := New(context.Background(), o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(a.Close)
	return a
}

// validClaims returns claims that pass with the options of fakeIssuer.
func validClaims() jwt.MapClaims {
	now := time.Now()
	return jwt.MapClaims{
		"iss": testIssuer,
		"aud": testAudience,
		"sub": "user-1",
		"iat": now.Add(-time.Minute).Unix(),
		"exp": now.Add(time.Hour).Unix(),
	}
}

// sign signs claims with key under method, putting key.kid in the header.
func sign(t testing.TB, method jwt.SigningMethod, key signingKey, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	tok.Header["kid"] = key.kid
	s, err := tok.SignedString(key.signer)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// refusedWith fails t unless err is an *Error with status and reason.
func refusedWith(t *testing.T, err error, status int, reason string) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error = %v (%T), want *Error", err, err)
	}
	if e.Status != status || e.Reason != reason {
		t.Fatalf("refused with %d %q (%v), want %d %q", e.Status, e.Reason, err, status, reason)
	}
}

// checkFor calls check until it returns nil or timeout passes.
func checkFor(t *testing.T, timeout, interval time.Duration, check func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %v", timeout, err)
		}
		time.Sleep(interval)
	}
}

// logBuffer is a concurrency-safe log sink.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
