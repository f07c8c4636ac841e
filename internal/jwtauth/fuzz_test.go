package jwtauth

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// FuzzAuthorize feeds arbitrary tokens to an authorizer. The seeds are
// well-formed tokens signed with keys the authorizer does not trust (or
// not at all), so they reach every check; no input may be accepted, and
// every refusal is a 401 *Error.
func FuzzAuthorize(f *testing.F) {
	iss := newFakeIssuer(f, rsaKeyA(), ecKey())
	o := iss.options()
	o.Algorithms = []string{"RS256", "ES256"}
	o.UnknownKIDRefreshInterval = 1 << 62 // one fetch for the whole run
	a := newAuthorizer(f, o)

	foreignA := signingKey{rsaKeyA().kid, rsaKeyB().signer}
	foreignEC := signingKey{ecKey().kid, rsaKeyC().signer}
	f.Add(sign(f, jwt.SigningMethodRS256, foreignA, validClaims()))
	f.Add(sign(f, jwt.SigningMethodRS256, foreignEC, validClaims()))
	f.Add(sign(f, jwt.SigningMethodPS256, foreignA, validClaims()))
	f.Add(sign(f, jwt.SigningMethodRS256, signingKey{"other", rsaKeyB().signer}, validClaims()))
	valid := sign(f, jwt.SigningMethodRS256, rsaKeyA(), validClaims())
	f.Add(valid[:strings.LastIndexByte(valid, '.')+1])
	f.Add("e30.e30.")
	f.Add("..")
	f.Add("Bearer x")

	f.Fuzz(func(t *testing.T, token string) {
		res, err := a.Authorize(token)
		if res != nil || err == nil {
			t.Fatalf("accepted %q", token)
		}
		var e *Error
		if !errors.As(err, &e) || e.Status != http.StatusUnauthorized {
			t.Fatalf("refused %q with %v, want a 401 *Error", token, err)
		}
	})
}
