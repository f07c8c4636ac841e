package jwtauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const otherAudience = "switchboard-api-v2"

// fastRefresh is the RefreshInterval of the tests that watch background
// refreshes come and go.
const fastRefresh = 10 * time.Millisecond

// tokenFor returns a token valid for the fake issuer but for aud and,
// when scope is not empty, holding scope.
func tokenFor(t *testing.T, key signingKey, aud, scope string) string {
	t.Helper()
	c := validClaims()
	c["aud"] = aud
	if scope != "" {
		c["scope"] = scope
	}
	return sign(t, jwt.SigningMethodRS256, key, c)
}

func share(t *testing.T, a *Authorizer, o Options) *Authorizer {
	t.Helper()
	b, err := a.Share(o)
	if err != nil {
		t.Fatalf("Share: %v", err)
	}
	t.Cleanup(b.Close)
	return b
}

// waitRequests waits until iss has answered more JWKS requests than now,
// and returns how many it has answered then.
func waitRequests(t *testing.T, iss *fakeIssuer, more int64) int64 {
	t.Helper()
	want := iss.requests.Load() + more
	var n int64
	checkFor(t, 20*time.Second, 2*time.Millisecond, func() error {
		if n = iss.requests.Load(); n < want {
			return fmt.Errorf("%d JWKS requests, want %d", n, want)
		}
		return nil
	})
	return n
}

// newClock returns an issuer whose JWKS an open Authorizer refreshes
// every interval: counting its requests measures refresh intervals with
// the same timers as the refreshes under watch, so that a loaded machine
// slows both alike.
func newClock(t *testing.T, interval time.Duration) *fakeIssuer {
	t.Helper()
	clock := newFakeIssuer(t, rsaKeyA())
	o := clock.options()
	o.RefreshInterval = interval
	newAuthorizer(t, o)
	return clock
}

// checkRefreshesStopped fails t if iss answers more than one JWKS request
// (one may have been under way) while clock answers intervals more.
func checkRefreshesStopped(t *testing.T, iss, clock *fakeIssuer, intervals int64) {
	t.Helper()
	before := iss.requests.Load()
	waitRequests(t, clock, intervals)
	if n := iss.requests.Load() - before; n > 1 {
		t.Fatalf("%d JWKS requests during %d refresh intervals after the refreshes should have stopped, want at most 1", n, intervals)
	}
}

func TestShareChangesCheckingWithoutFetching(t *testing.T) {
	iss := newFakeIssuer(t, rsaKeyA())
	a := newAuthorizer(t, iss.options())
	if n := iss.requests.Load(); n != 1 {
		t.Fatalf("JWKS requests after New = %d, want 1", n)
	}
	iss.down.Store(true) // the issuer is down when the configuration changes

	o := iss.options()
	o.Audiences = []string{otherAudience}
	o.AuthorizationScopes = []string{"chat.write"}
	o.Leeway = time.Minute
	var logs logBuffer
	o.Logger = logs.logger()
	b := share(t, a, o)

	oldToken := tokenFor(t, rsaKeyA(), testAudience, "chat.write")
	newToken := tokenFor(t, rsaKeyA(), otherAudience, "chat.write")
	if _, err := b.Authorize(newToken); err != nil {
		t.Fatalf("token for the new audience: %v", err)
	}
	_, err := b.Authorize(oldToken)
	refusedWith(t, err, http.StatusUnauthorized, reasonAudience)
	_, err = b.Authorize(tokenFor(t, rsaKeyA(), otherAudience, "chat.read"))
	refusedWith(t, err, http.StatusForbidden, reasonMissingScopes)

	// The original keeps its own settings.
	if _, err := a.Authorize(oldToken); err != nil {
		t.Fatalf("original, token for the old audience: %v", err)
	}
	_, err = a.Authorize(newToken)
	refusedWith(t, err, http.StatusUnauthorized, reasonAudience)

	// Options equal to the defaults share too.
	o.RefreshInterval = DefaultRefreshInterval
	o.UnknownKIDRefreshInterval = DefaultUnknownKIDRefreshInterval
	o.HTTPTimeout = DefaultHTTPTimeout
	c := share(t, b, o)
	if _, err := c.Authorize(newToken); err != nil {
		t.Fatalf("shared from the shared one: %v", err)
	}

	if n := iss.requests.Load(); n != 1 {
		t.Fatalf("JWKS requests = %d, want still 1", n)
	}
	if logs.String() != "" {
		t.Errorf("Share logged:\n%s", logs.String())
	}

	// What Share spares: a new Authorizer refuses every token while the
	// issuer is down.
	fresh := newAuthorizer(t, o)
	_, err = fresh.Authorize(newToken)
	refusedWith(t, err, http.StatusUnauthorized, reasonUnknownKID)
}

func TestShareRefusesOtherKeys(t *testing.T) {
	iss := newFakeIssuer(t, rsaKeyA())
	other := newFakeIssuer(t, rsaKeyA())
	a := newAuthorizer(t, iss.options())

	tests := []struct {
		name   string
		change func(*Options)
		field  string
	}{
		{"JWKSURL", func(o *Options) { o.JWKSURL = other.url() }, "JWKSURL"},
		{"JWKSURL query", func(o *Options) { o.JWKSURL += "?v=2" }, "JWKSURL"},
		{"RefreshInterval", func(o *Options) { o.RefreshInterval = 2 * time.Hour }, "RefreshInterval"},
		{"UnknownKIDRefreshInterval", func(o *Options) { o.UnknownKIDRefreshInterval = time.Minute }, "UnknownKIDRefreshInterval"},
		{"HTTPTimeout", func(o *Options) { o.HTTPTimeout = time.Second }, "HTTPTimeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := iss.options()
			o.Audiences = []string{otherAudience}
			tt.change(&o)
			b, err := a.Share(o)
			if !errors.Is(err, ErrOtherKeys) {
				t.Fatalf("Share = %v, want ErrOtherKeys", err)
			}
			if b != nil {
				t.Errorf("Share returned an Authorizer with %v", err)
			}
			if !strings.Contains(err.Error(), tt.field) {
				t.Errorf("error %q does not name %s", err, tt.field)
			}
		})
	}

	t.Run("invalid options", func(t *testing.T) {
		o := iss.options()
		o.Issuer = ""
		o.JWKSURL = other.url()
		_, err := a.Share(o)
		if err == nil || errors.Is(err, ErrOtherKeys) || !strings.Contains(err.Error(), "Issuer: required") {
			t.Fatalf("Share = %v, want the invalid Issuer", err)
		}
	})

	if n, m := iss.requests.Load(), other.requests.Load(); n != 1 || m != 0 {
		t.Fatalf("JWKS requests = %d and %d, want 1 and 0", n, m)
	}
}

func TestShareOutlivesTheOriginal(t *testing.T) {
	iss := newFakeIssuer(t, rsaKeyA())
	o := iss.options()
	o.RefreshInterval = fastRefresh
	a := newAuthorizer(t, o)
	o.Audiences = []string{otherAudience}
	b := share(t, a, o)
	waitRequests(t, iss, 3)

	a.Close()
	// The refreshes go on for b, and it gets the keys they bring.
	waitRequests(t, iss, 3)
	iss.publish(t, rsaKeyB())
	tokenB := tokenFor(t, rsaKeyB(), otherAudience, "")
	checkFor(t, 20*time.Second, 2*time.Millisecond, func() error {
		_, err := b.Authorize(tokenB)
		return err
	})
	waitRequests(t, iss, 3)
}

func TestClosedSharerFetchesNothing(t *testing.T) {
	iss := newFakeIssuer(t, rsaKeyA())
	a := newAuthorizer(t, iss.options())
	b := share(t, a, iss.options())
	a.Close()

	// Keys already fetched still verify.
	if _, err := a.Authorize(sign(t, jwt.SigningMethodRS256, rsaKeyA(), validClaims())); err != nil {
		t.Fatal(err)
	}
	// An unknown kid neither makes the closed one fetch the JWKS nor
	// spends the fetch it is allowed for unknown kids, which b shares.
	iss.publish(t, rsaKeyA(), rsaKeyC())
	tokenC := sign(t, jwt.SigningMethodRS256, rsaKeyC(), validClaims())
	_, err := a.Authorize(tokenC)
	refusedWith(t, err, http.StatusUnauthorized, reasonUnknownKID)
	if n := iss.requests.Load(); n != 1 {
		t.Fatalf("JWKS requests = %d, want still 1", n)
	}
	if _, err := b.Authorize(tokenC); err != nil {
		t.Fatalf("open sharer, rotated-in key: %v", err)
	}
	if n := iss.requests.Load(); n != 2 {
		t.Fatalf("JWKS requests = %d, want 2", n)
	}
}

func TestClosingEverySharerStopsRefreshing(t *testing.T) {
	clock := newClock(t, fastRefresh)
	iss := newFakeIssuer(t, rsaKeyA())
	o := iss.options()
	o.RefreshInterval = fastRefresh
	a := newAuthorizer(t, o)
	o.Audiences = []string{otherAudience}
	b := share(t, a, o)
	waitRequests(t, iss, 3)

	a.Close()
	b.Close()
	checkRefreshesStopped(t, iss, clock, 20)

	for name, x := range map[string]*Authorizer{"original": a, "shared": b} {
		if c, err := x.Share(o); !errors.Is(err, ErrClosed) || c != nil {
			t.Errorf("%s: Share after every sharer closed = %v, %v; want ErrClosed", name, c, err)
		}
	}
	// Keys already fetched still verify.
	if _, err := a.Authorize(sign(t, jwt.SigningMethodRS256, rsaKeyA(), validClaims())); err != nil {
		t.Error(err)
	}
	if _, err := b.Authorize(tokenFor(t, rsaKeyA(), otherAudience, "")); err != nil {
		t.Error(err)
	}
}

func TestCloseTwiceReleasesOneShare(t *testing.T) {
	clock := newClock(t, fastRefresh)
	iss := newFakeIssuer(t, rsaKeyA())
	o := iss.options()
	o.RefreshInterval = fastRefresh
	a := newAuthorizer(t, o)
	b := share(t, a, o)

	a.Close()
	a.Close()
	a.Close()
	waitRequests(t, iss, 3) // b still holds its share
	c, err := a.Share(o)    // a is closed, but b keeps the keys refreshed
	if err != nil {
		t.Fatalf("Share from a closed sharer while another is open: %v", err)
	}
	b.Close()
	b.Close()
	waitRequests(t, iss, 3) // c still holds its share
	c.Close()
	c.Close()
	checkRefreshesStopped(t, iss, clock, 20)
	if _, err := c.Share(o); !errors.Is(err, ErrClosed) {
		t.Fatalf("Share = %v, want ErrClosed", err)
	}
}

func TestShareAfterNewContextEnds(t *testing.T) {
	clock := newClock(t, fastRefresh)
	iss := newFakeIssuer(t, rsaKeyA())
	o := iss.options()
	o.RefreshInterval = fastRefresh
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, err := New(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b := share(t, a, o)
	waitRequests(t, iss, 2)

	cancel()
	checkRefreshesStopped(t, iss, clock, 20)
	if _, err := b.Share(o); !errors.Is(err, ErrClosed) {
		t.Fatalf("Share after New's ctx ended = %v, want ErrClosed", err)
	}
	if _, err := b.Authorize(sign(t, jwt.SigningMethodRS256, rsaKeyA(), validClaims())); err != nil {
		t.Fatal(err)
	}
}

func TestShareLogsToTheNewestOpenSharer(t *testing.T) {
	iss := newFakeIssuer(t, rsaKeyA())
	var logsA, logsB logBuffer
	o := iss.options()
	o.RefreshInterval = fastRefresh
	o.Logger = logsA.logger()
	a := newAuthorizer(t, o)
	o.Logger = logsB.logger()
	b := share(t, a, o)

	const warning = "fetching the JWKS failed"
	iss.down.Store(true)
	checkFor(t, 20*time.Second, 2*time.Millisecond, func() error {
		if !strings.Contains(logsB.String(), warning) {
			return errors.New("no warning in the newest sharer's log")
		}
		return nil
	})
	if strings.Contains(logsA.String(), warning) {
		t.Fatalf("warning logged to the older sharer while the newer was open:\n%s", logsA.String())
	}
	b.Close()
	checkFor(t, 20*time.Second, 2*time.Millisecond, func() error {
		if !strings.Contains(logsA.String(), warning) {
			return errors.New("no warning in the remaining sharer's log")
		}
		return nil
	})
}

func TestConcurrentAuthorizeWhileClosing(t *testing.T) {
	iss := newFakeIssuer(t, rsaKeyA())
	o := iss.options()
	o.RefreshInterval = fastRefresh
	a := newAuthorizer(t, o)
	o.Audiences = []string{otherAudience}
	b := share(t, a, o)

	tokenA := tokenFor(t, rsaKeyA(), testAudience, "")
	tokenB := tokenFor(t, rsaKeyA(), otherAudience, "")
	unknown := tokenFor(t, rsaKeyC(), testAudience, "")

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var calls atomic.Int64
	loop := func(do func()) {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				do()
				calls.Add(1)
			}
		})
	}
	accepts := func(x *Authorizer, token string) func() {
		return func() {
			if _, err := x.Authorize(token); err != nil {
				t.Errorf("Authorize: %v", err)
			}
		}
	}
	for range 2 {
		loop(accepts(a, tokenA))
		loop(accepts(b, tokenB))
	}
	loop(func() {
		_, err := b.Authorize(unknown)
		var e *Error
		if !errors.As(err, &e) || e.Reason != reasonUnknownKID {
			t.Errorf("unknown kid: %v, want refused for it", err)
		}
	})
	loop(func() {
		c, err := a.Share(o)
		switch {
		case err == nil:
			c.Close()
		case !errors.Is(err, ErrClosed):
			t.Errorf("Share: %v", err)
		}
	})

	waitCalls := func(more int64) {
		want := calls.Load() + more
		checkFor(t, 20*time.Second, time.Millisecond, func() error {
			if n := calls.Load(); n < want {
				return fmt.Errorf("%d calls, want %d", n, want)
			}
			return nil
		})
	}
	waitCalls(50)
	var closers sync.WaitGroup
	for _, x := range []*Authorizer{a, b, a, b} {
		closers.Go(x.Close)
	}
	closers.Wait()
	waitCalls(50)
	close(stop)
	wg.Wait()

	if _, err := a.Share(o); !errors.Is(err, ErrClosed) {
		t.Fatalf("Share after Close = %v, want ErrClosed", err)
	}
}

// A refresh for an unknown kid that one sharer starts goes on when that
// sharer is closed meanwhile: the others get the new key from it, without
// another fetch (the limiter's slot it took is theirs too).
func TestCloseLetsItsUnknownKIDFetchFinishForOthers(t *testing.T) {
	iss := newFakeIssuer(t, rsaKeyA())
	hanging, release := make(chan struct{}, 1), make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if iss.requests.Load() > 0 { // after the first fetch, wait for release
			hanging <- struct{}{}
			select {
			case <-release:
			case <-r.Context().Done():
				return
			}
		}
		iss.srv.Config.Handler.ServeHTTP(w, r)
	}))
	defer srv.Close()

	o := iss.options()
	o.JWKSURL = srv.URL
	a := newAuthorizer(t, o)
	b := share(t, a, o)

	iss.publish(t, rsaKeyA(), rsaKeyC())
	tokenC := sign(t, jwt.SigningMethodRS256, rsaKeyC(), validClaims())
	done := make(chan error, 1)
	go func() {
		_, err := a.Authorize(tokenC)
		done <- err
	}()
	<-hanging
	a.Close()
	close(release)
	if err := <-done; err != nil {
		t.Errorf("the authorizer closed during its fetch: %v, want the fetched key", err)
	}
	before := iss.requests.Load()
	if _, err := b.Authorize(tokenC); err != nil {
		t.Fatalf("the other sharer, after the fetch: %v", err)
	}
	if n := iss.requests.Load() - before; n != 0 {
		t.Errorf("the other sharer fetched %d more times", n)
	}
}

// Closing every sharer cancels a refresh under way, without logging it as
// a failure.
func TestClosingEverySharerCancelsAFetchQuietly(t *testing.T) {
	iss := newFakeIssuer(t, rsaKeyA())
	hanging := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if iss.requests.Load() > 0 { // after the first fetch, hang until cancelled
			hanging <- struct{}{}
			<-r.Context().Done()
			return
		}
		iss.srv.Config.Handler.ServeHTTP(w, r)
	}))
	defer srv.Close()

	var logs logBuffer
	o := iss.options()
	o.JWKSURL = srv.URL
	o.Logger = logs.logger()
	a := newAuthorizer(t, o)
	b := share(t, a, o)

	refused := make(chan error, 1)
	go func() {
		_, err := a.Authorize(sign(t, jwt.SigningMethodRS256, rsaKeyC(), validClaims()))
		refused <- err
	}()
	<-hanging
	a.Close()
	b.Close()
	refusedWith(t, <-refused, http.StatusUnauthorized, reasonUnknownKID)
	if strings.Contains(logs.String(), "fetching the JWKS failed") {
		t.Errorf("the fetch cancelled by Close was logged as a failure:\n%s", logs.String())
	}
}
