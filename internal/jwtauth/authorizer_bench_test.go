package jwtauth

import (
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

func BenchmarkAuthorize(b *testing.B) {
	iss := newFakeIssuer(b, rsaKeyA(), ecKey())
	o := iss.options()
	o.Algorithms = []string{"RS256", "ES256"}
	o.AuthorizationScopes = []string{"chat.read"}
	a := newAuthorizer(b, o)

	claims := validClaims()
	claims["scope"] = "chat.read chat.write"
	claims["cognito:groups"] = []string{"admins", "users"}
	for _, bench := range []struct {
		name   string
		method jwt.SigningMethod
		key    signingKey
	}{
		{"RS256", jwt.SigningMethodRS256, rsaKeyA()},
		{"ES256", jwt.SigningMethodES256, ecKey()},
	} {
		token := sign(b, bench.method, bench.key, claims)
		b.Run(bench.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := a.Authorize(token); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
