package jwtauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestAuthorizeValidToken(t *testing.T) {
	iss := newFakeIssuer(t, rsaKeyA())
	o := iss.options()
	o.AuthorizationScopes = []string{"chat.read"}
	a := newAuthorizer(t, o)

	claims := validClaims()
	claims["aud"] = []string{"other", testAudience}
	claims["exp"] = json.Number("4102444800")
	claims["big"] = json.Number("12345678901234567890")
	claims["ratio"] = json.Number("1.5e3")
	claims["admin"] = true
	claims["guest"] = false
	claims["nothing"] = nil
	claims["cognito:groups"] = []any{"admins", "users", "dev ops"}
	claims["mixed"] = json.RawMessage(`[1, "x", true, null, {"b":2,"a":1}, ["y", 2]]`)
	claims["empty"] = []any{}
	claims["profile"] = json.RawMessage(`{"zone": "eu", "age": 42, "tags": ["a"]}`)
	claims["scope"] = "chat.read chat.write"
	claims["email"] = "ünïcode@example.com"

	res, err := a.Authorize(sign(t, jwt.SigningMethodRS256, rsaKeyA(), claims))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"iss":            testIssuer,
		"aud":            "[other " + testAudience + "]",
		"sub":            "user-1",
		"iat":            fmt.Sprint(claims["iat"]),
		"exp":            "4102444800",
		"big":            "12345678901234567890",
		"ratio":          "1.5e3",
		"admin":          "true",
		"guest":          "false",
		"nothing":        "null",
		"cognito:groups": "[admins users dev ops]",
		"mixed":          `[1 x true null {"b":2,"a":1} [y 2]]`,
		"empty":          "[]",
		"profile":        `{"zone":"eu","age":42,"tags":["a"]}`,
		"scope":          "chat.read chat.write",
		"email":          "ünïcode@example.com",
	}
	if !reflect.DeepEqual(res.Claims, want) {
		t.Errorf("claims:\n got %v\nwant %v", res.Claims, want)
	}
	if want := []string{"chat.read", "chat.write"}; !reflect.DeepEqual(res.Scopes, want) {
		t.Errorf("scopes = %q, want %q", res.Scopes, want)
	}
}

func TestAuthorizeNoScopesIsNil(t *testing.T) {
	iss := newFakeIssuer(t, rsaKeyA())
	a := newAuthorizer(t, iss.options())
	res, err := a.Authorize(sign(t, jwt.SigningMethodRS256, rsaKeyA(), validClaims()))
	if err != nil {
		t.Fatal(err)
	}
	if res.Scopes != nil {
		t.Errorf("scopes = %#v, want nil", res.Scopes)
	}
}

func TestAuthorizeECDSAAndAlgorithmList(t *testing.T) {
	iss := newFakeIssuer(t, rsaKeyA(), ecKey())
	o := iss.options()
	o.Algorithms = []string{"ES256"}
	a := newAuthorizer(t, o)

	if _, err := a.Authorize(sign(t, jwt.SigningMethodES256, ecKey(), validClaims())); err != nil {
		t.Fatalf("ES256: %v", err)
	}
	// RS256 is valid but not in the list.
	_, err := a.Authorize(sign(t, jwt.SigningMethodRS256, rsaKeyA(), validClaims()))
	refusedWith(t, err, http.StatusUnauthorized, reasonAlgorithm)
}

func TestAuthorizeKeyMustFitAlgorithm(t *testing.T) {
	iss := newFakeIssuer(t, rsaKeyA(), ecKey())
	o := iss.options()
	o.Algorithms = []string{"RS256", "ES256"}
	a := newAuthorizer(t, o)

	// Signed by the ECDSA key, but naming the RSA key's kid.
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, validClaims())
	tok.Header["kid"] = rsaKeyA().kid
	s, err := tok.SignedString(ecKey().signer)
	if err != nil {
		t.Fatal(err)
	}
	_, err = a.Authorize(s)
	refusedWith(t, err, http.StatusUnauthorized, reasonKeyMismatch)
}

func TestAuthorizeRefusals(t *testing.T) {
	iss := newFakeIssuer(t, rsaKeyA())
	o := iss.options()
	o.Audiences = []string{testAudience, "client-1"}
	a := newAuthorizer(t, o)
	now := time.Now()

	with := func(change func(jwt.MapClaims)) string {
		c := validClaims()
		change(c)
		return sign(t, jwt.SigningMethodRS256, rsaKeyA(), c)
	}
	withoutKID := func() string {
		tok := jwt.NewWithClaims(jwt.SigningMethodRS256, validClaims())
		s, err := tok.SignedString(rsaKeyA().signer)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}()
	none := func() string {
		tok := jwt.NewWithClaims(jwt.SigningMethodNone, validClaims())
		tok.Header["kid"] = rsaKeyA().kid
		s, err := tok.SignedString(jwt.UnsafeAllowNoneSignatureType)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}()
	hmac := func() string {
		// An HMAC token naming an RSA key's kid: were HS256 allowed, an
		// attacker could key it with public material.
		tok := jwt.NewWithClaims(jwt.SigningMethodHS256, validClaims())
		tok.Header["kid"] = rsaKeyA().kid
		s, err := tok.SignedString([]byte("secret"))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}()
	wronglySigned := func() string {
		// Same kid, another key.
		return sign(t, jwt.SigningMethodRS256, signingKey{rsaKeyA().kid, rsaKeyB().signer}, validClaims())
	}()
	valid := sign(t, jwt.SigningMethodRS256, rsaKeyA(), validClaims())
	parts := strings.Split(valid, ".")

	tests := []struct {
		name   string
		token  string
		reason string
		status int
	}{
		{"empty", "", reasonMissing, 401},
		{"oversized", strings.Repeat("a", MaxTokenBytes+1), reasonTooLarge, 401},
		{"not a JWT", "hello", reasonMalformed, 401},
		{"bad base64", "!!." + parts[1] + "." + parts[2], reasonMalformed, 401},
		{"payload not an object", parts[0] + ".WzEsMl0." + parts[2], reasonMalformed, 401},
		{"exp not a number", with(func(c jwt.MapClaims) { c["exp"] = "tomorrow" }), reasonMalformed, 401},
		{"alg none", none, reasonAlgorithm, 401},
		{"alg HS256", hmac, reasonAlgorithm, 401},
		{"no kid", withoutKID, reasonNoKID, 401},
		{"wrongly signed", wronglySigned, reasonSignature, 401},
		{"tampered payload", parts[0] + "." + strings.Split(with(func(c jwt.MapClaims) { c["sub"] = "admin" }), ".")[1] + "." + parts[2], reasonSignature, 401},
		{"no exp", with(func(c jwt.MapClaims) { delete(c, "exp") }), reasonNoExp, 401},
		{"expired", with(func(c jwt.MapClaims) { c["exp"] = now.Add(-time.Second).Unix() }), reasonExpired, 401},
		{"not yet valid", with(func(c jwt.MapClaims) { c["nbf"] = now.Add(time.Minute).Unix() }), reasonNotYetValid, 401},
		{"issued in the future", with(func(c jwt.MapClaims) { c["iat"] = now.Add(time.Minute).Unix() }), reasonIssuedFuture, 401},
		{"wrong issuer", with(func(c jwt.MapClaims) { c["iss"] = "https://evil.example.com/" }), reasonIssuer, 401},
		{"issuer differs by a slash", with(func(c jwt.MapClaims) { c["iss"] = strings.TrimSuffix(testIssuer, "/") }), reasonIssuer, 401},
		{"no issuer", with(func(c jwt.MapClaims) { delete(c, "iss") }), reasonIssuer, 401},
		{"wrong audience", with(func(c jwt.MapClaims) { c["aud"] = []string{"x", "y"} }), reasonAudience, 401},
		{"no audience", with(func(c jwt.MapClaims) { delete(c, "aud") }), reasonAudience, 401},
		{"wrong client_id", with(func(c jwt.MapClaims) { delete(c, "aud"); c["client_id"] = "client-2" }), reasonAudience, 401},
		{"wrong aud, right client_id", with(func(c jwt.MapClaims) { c["aud"] = "x"; c["client_id"] = "client-1" }), reasonAudience, 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := a.Authorize(tt.token)
			if res != nil {
				t.Fatalf("accepted: %v", res.Claims)
			}
			refusedWith(t, err, tt.status, tt.reason)
		})
	}
}

func TestAuthorizeErrorWrapsLibraryError(t *testing.T) {
	iss := newFakeIssuer(t, rsaKeyA())
	a := newAuthorizer(t, iss.options())
	c := validClaims()
	c["exp"] = time.Now().Add(-time.Hour).Unix()
	_, err := a.Authorize(sign(t, jwt.SigningMethodRS256, rsaKeyA(), c))
	if !errors.Is(err, jwt.ErrTokenExpired) {
		t.Errorf("errors.Is(%v, jwt.ErrTokenExpired) = false", err)
	}
	if !strings.HasPrefix(err.Error(), "jwtauth: token expired: exp ") {
		t.Errorf("Error() = %q", err)
	}
}

func TestAuthorizeClientIDFallback(t *testing.T) {
	iss := newFakeIssuer(t, rsaKeyA())
	o := iss.options()
	o.Audiences = []string{"client-1"}
	a := newAuthorizer(t, o)

	c := validClaims()
	delete(c, "aud")
	c["client_id"] = "client-1"
	res, err := a.Authorize(sign(t, jwt.SigningMethodRS256, rsaKeyA(), c))
	if err != nil {
		t.Fatal(err)
	}
	if res.Claims["client_id"] != "client-1" {
		t.Errorf("client_id = %q", res.Claims["client_id"])
	}
}

func TestAuthorizeLeeway(t *testing.T) {
	iss := newFakeIssuer(t, rsaKeyA())
	c := validClaims()
	c["exp"] = time.Now().Add(-5 * time.Second).Unix()
	c["nbf"] = time.Now().Add(5 * time.Second).Unix()
	c["iat"] = time.Now().Add(5 * time.Second).Unix()
	token := sign(t, jwt.SigningMethodRS256, rsaKeyA(), c)

	strict := newAuthorizer(t, iss.options())
	_, err := strict.Authorize(token)
	refusedWith(t, err, http.StatusUnauthorized, reasonExpired)

	o := iss.options()
	o.Leeway = 30 * time.Second
	lenient := newAuthorizer(t, o)
	if _, err := lenient.Authorize(token); err != nil {
		t.Fatalf("with 30s leeway: %v", err)
	}
}

func TestAuthorizeAuthorizationScopes(t *testing.T) {
	iss := newFakeIssuer(t, rsaKeyA())
	o := iss.options()
	o.AuthorizationScopes = []string{"chat.read", "chat.write"}
	a := newAuthorizer(t, o)

	tests := []struct {
		name   string
		claims map[string]any
		ok     bool
	}{
		{"scope has both", map[string]any{"scope": "chat.write openid chat.read"}, true},
		{"scope has one", map[string]any{"scope": "openid chat.write"}, true},
		{"scp array has one", map[string]any{"scp": []string{"chat.read"}}, true},
		{"scp string has one", map[string]any{"scp": "x chat.write"}, true},
		{"scope has neither", map[string]any{"scope": "openid profile"}, false},
		{"scope wins over scp", map[string]any{"scope": "openid", "scp": []string{"chat.read", "chat.write"}}, false},
		{"prefix is not a scope", map[string]any{"scope": "chat.readx chat.writex"}, false},
		{"no scopes", map[string]any{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validClaims()
			for k, v := range tt.claims {
				c[k] = v
			}
			_, err := a.Authorize(sign(t, jwt.SigningMethodRS256, rsaKeyA(), c))
			if tt.ok {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			refusedWith(t, err, http.StatusForbidden, reasonMissingScopes)
		})
	}

	// A token failing something else is 401 even when it lacks a scope.
	c := validClaims()
	c["iss"] = "https://evil.example.com/"
	_, err := a.Authorize(sign(t, jwt.SigningMethodRS256, rsaKeyA(), c))
	refusedWith(t, err, http.StatusUnauthorized, reasonIssuer)
}

func TestAuthorizeUnknownKIDRefreshIsRateLimited(t *testing.T) {
	iss := newFakeIssuer(t, rsaKeyA())
	a := newAuthorizer(t, iss.options())
	if n := iss.requests.Load(); n != 1 {
		t.Fatalf("JWKS requests after New = %d, want 1", n)
	}

	// The issuer rotates in key B; a token signed with it makes the
	// authorizer fetch the set again and succeed.
	iss.publish(t, rsaKeyA(), rsaKeyB())
	if _, err := a.Authorize(sign(t, jwt.SigningMethodRS256, rsaKeyB(), validClaims())); err != nil {
		t.Fatalf("token signed with the rotated-in key: %v", err)
	}
	if n := iss.requests.Load(); n != 2 {
		t.Fatalf("JWKS requests after the unknown kid = %d, want 2", n)
	}
	// Known kids need no fetch.
	if _, err := a.Authorize(sign(t, jwt.SigningMethodRS256, rsaKeyA(), validClaims())); err != nil {
		t.Fatal(err)
	}

	// Another unknown kid within the rate window: refused at once,
	// without asking the issuer, even though the issuer now has it.
	iss.publish(t, rsaKeyA(), rsaKeyB(), rsaKeyC())
	start := time.Now()
	_, err := a.Authorize(sign(t, jwt.SigningMethodRS256, rsaKeyC(), validClaims()))
	refusedWith(t, err, http.StatusUnauthorized, reasonUnknownKID)
	if n := iss.requests.Load(); n != 2 {
		t.Fatalf("JWKS requests after a second unknown kid = %d, want still 2", n)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("refusing the rate-limited unknown kid took %s", d)
	}
}

func TestJWKSDownAtStartThenRecovering(t *testing.T) {
	iss := newFakeIssuer(t, rsaKeyA())
	iss.down.Store(true)
	var logs logBuffer
	o := iss.options()
	o.RefreshInterval = 20 * time.Millisecond
	o.Logger = logs.logger()
	a := newAuthorizer(t, o)

	if !strings.Contains(logs.String(), "fetching the JWKS failed") ||
		!strings.Contains(logs.String(), "no signing keys yet") {
		t.Fatalf("no warning logged:\n%s", logs.String())
	}
	token := sign(t, jwt.SigningMethodRS256, rsaKeyA(), validClaims())
	// This also spends the unknown-kid refresh, so the recovery below
	// can only come from the background refresh.
	_, err := a.Authorize(token)
	refusedWith(t, err, http.StatusUnauthorized, reasonUnknownKID)

	iss.down.Store(false)
	checkFor(t, 5*time.Second, 10*time.Millisecond, func() error {
		_, err := a.Authorize(token)
		return err
	})
}

func TestNewDoesNotWaitForAHangingJWKS(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)

	start := time.Now()
	a, err := New(context.Background(), Options{
		Issuer:      testIssuer,
		Audiences:   []string{testAudience},
		JWKSURL:     srv.URL,
		HTTPTimeout: 100 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("New took %s with a 100ms HTTP timeout", d)
	}
	_, err = a.Authorize(sign(t, jwt.SigningMethodRS256, rsaKeyA(), validClaims()))
	refusedWith(t, err, http.StatusUnauthorized, reasonUnknownKID)
}

func TestJWKSResponseIsBounded(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"keys":[`))
		w.Write([]byte(strings.Repeat(" ", maxJWKSBytes)))
		w.Write([]byte(`]}`))
	}))
	defer srv.Close()
	var logs logBuffer
	newAuthorizer(t, Options{
		Issuer:    testIssuer,
		Audiences: []string{testAudience},
		JWKSURL:   srv.URL,
		Logger:    logs.logger(),
	})
	if !strings.Contains(logs.String(), errJWKSTooLarge.Error()) {
		t.Fatalf("log does not mention the size limit:\n%s", logs.String())
	}
}

func TestCloseStopsRefreshing(t *testing.T) {
	clock := newClock(t, fastRefresh)
	iss := newFakeIssuer(t, rsaKeyA())
	o := iss.options()
	o.RefreshInterval = fastRefresh
	a := newAuthorizer(t, o)
	waitRequests(t, iss, 2) // background refreshes after the first fetch
	a.Close()
	a.Close() // idempotent
	checkRefreshesStopped(t, iss, clock, 20)
	// Keys already fetched still verify.
	if _, err := a.Authorize(sign(t, jwt.SigningMethodRS256, rsaKeyA(), validClaims())); err != nil {
		t.Fatal(err)
	}
}

func TestNewWithEndedContext(t *testing.T) {
	iss := newFakeIssuer(t, rsaKeyA())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := New(ctx, iss.options()); !errors.Is(err, context.Canceled) {
		t.Fatalf("New = %v, want context.Canceled", err)
	}
}

func TestTokenFromHeader(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"   ", ""},
		{"abc.def.ghi", "abc.def.ghi"},
		{"Bearer abc.def.ghi", "abc.def.ghi"},
		{"bearer abc.def.ghi", "abc.def.ghi"},
		{"BEARER   abc.def.ghi  ", "abc.def.ghi"},
		{"Bearer\tabc.def.ghi", "abc.def.ghi"},
		{" Bearer abc", "abc"},
		{"Bearer", ""},
		{"Bearer ", ""},
		{"Bearerabc.def.ghi", "Bearerabc.def.ghi"},
		{"Basic dXNlcjpwYXNz", "Basic dXNlcjpwYXNz"},
	}
	for _, tt := range tests {
		if got := TokenFromHeader(tt.in); got != tt.want {
			t.Errorf("TokenFromHeader(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}

	// And through Authorize.
	iss := newFakeIssuer(t, rsaKeyA())
	a := newAuthorizer(t, iss.options())
	token := sign(t, jwt.SigningMethodRS256, rsaKeyA(), validClaims())
	for _, header := range []string{token, "Bearer " + token, "bEaReR " + token} {
		if _, err := a.Authorize(TokenFromHeader(header)); err != nil {
			t.Errorf("%.10q...: %v", header, err)
		}
	}
}

func TestOversizedTokenFetchesNothing(t *testing.T) {
	iss := newFakeIssuer(t, rsaKeyA())
	a := newAuthorizer(t, iss.options())
	before := iss.requests.Load()
	huge := sign(t, jwt.SigningMethodRS256, signingKey{"unknown", rsaKeyA().signer}, jwt.MapClaims{"pad": strings.Repeat("x", MaxTokenBytes)})
	_, err := a.Authorize(huge)
	refusedWith(t, err, http.StatusUnauthorized, reasonTooLarge)
	if n := iss.requests.Load(); n != before {
		t.Errorf("an oversized token caused %d JWKS requests", n-before)
	}
}
