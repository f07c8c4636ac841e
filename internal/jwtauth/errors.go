package jwtauth

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Error is why Authorize refused a token. Status is what the handshake is
// answered with; the client learns nothing more (AWS answers
// {"message":"Unauthorized"} or {"message":"Forbidden"}). Reason and the
// wrapped detail are for the log: they may quote the token's kid, alg,
// iss, aud and times (clipped) and the missing scopes, never the token
// itself or key material.
//
//	Status  Reason
//	401     missing token, token too large, malformed token,
//	        algorithm not allowed, missing kid, unknown kid,
//	        key does not fit the token, invalid signature, missing exp,
//	        token expired, token not valid yet, token issued in the future,
//	        wrong issuer, wrong audience, invalid token
//	403     missing scope (the token is valid otherwise)
type Error struct {
	// Status is http.StatusUnauthorized or http.StatusForbidden.
	Status int
	// Reason is a short fixed phrase from the table above, fit for a
	// log attribute or a metric label.
	Reason string

	detail error
}

// Error returns the reason and its detail.
func (e *Error) Error() string {
	if e.detail == nil {
		return "jwtauth: " + e.Reason
	}
	return "jwtauth: " + e.Reason + ": " + e.detail.Error()
}

// Unwrap returns the detail, which may wrap the JWT library's sentinel
// errors (jwt.ErrTokenExpired, ...).
func (e *Error) Unwrap() error { return e.detail }

// The reasons of Error.
const (
	reasonMissing       = "missing token"
	reasonTooLarge      = "token too large"
	reasonMalformed     = "malformed token"
	reasonAlgorithm     = "algorithm not allowed"
	reasonNoKID         = "missing kid"
	reasonUnknownKID    = "unknown kid"
	reasonKeyMismatch   = "key does not fit the token"
	reasonSignature     = "invalid signature"
	reasonNoExp         = "missing exp"
	reasonExpired       = "token expired"
	reasonNotYetValid   = "token not valid yet"
	reasonIssuedFuture  = "token issued in the future"
	reasonIssuer        = "wrong issuer"
	reasonAudience      = "wrong audience"
	reasonInvalid       = "invalid token"
	reasonMissingScopes = "missing scope"
)

func unauthorized(reason string, detail error) *Error {
	return &Error{Status: http.StatusUnauthorized, Reason: reason, detail: detail}
}

func forbidden(reason string, detail error) *Error {
	return &Error{Status: http.StatusForbidden, Reason: reason, detail: detail}
}

// refusal turns an error of jwt.Parser.ParseWithClaims into an *Error.
// token and c are what the parser got to before failing; token may be
// nil when the token did not even split into three parts.
func (a *Authorizer) refusal(err error, token *jwt.Token, c *claims) *Error {
	var refused *Error
	if errors.As(err, &refused) { // from keyFor
		return refused
	}
	if errors.Is(err, jwt.ErrTokenMalformed) || token == nil {
		return unauthorized(reasonMalformed, err)
	}
	if alg, _ := token.Header["alg"].(string); !a.algorithms[alg] {
		return unauthorized(reasonAlgorithm, fmt.Errorf("alg %q", clip(alg)))
	}
	if errors.Is(err, jwt.ErrTokenSignatureInvalid) {
		return unauthorized(reasonSignature, err)
	}
	if !errors.Is(err, jwt.ErrTokenInvalidClaims) {
		return unauthorized(reasonInvalid, err)
	}

	// The signature is good; say which claim failed, most basic first.
	switch {
	case c.ExpiresAt == nil:
		return unauthorized(reasonNoExp, err)
	case errors.Is(err, jwt.ErrTokenExpired):
		return unauthorized(reasonExpired, fmt.Errorf("exp %s: %w", c.ExpiresAt.UTC().Format(time.RFC3339), err))
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return unauthorized(reasonNotYetValid, fmt.Errorf("nbf %s: %w", c.NotBefore.UTC().Format(time.RFC3339), err))
	case errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return unauthorized(reasonIssuedFuture, fmt.Errorf("iat %s: %w", c.IssuedAt.UTC().Format(time.RFC3339), err))
	case errors.Is(err, jwt.ErrTokenInvalidIssuer), c.Issuer != a.opts.Issuer:
		return unauthorized(reasonIssuer, fmt.Errorf("iss %q", clip(c.Issuer)))
	}
	return unauthorized(reasonInvalid, err)
}

// clip shortens a token-supplied string quoted in a log detail.
func clip(s string) string {
	const limit = 64
	if len(s) <= limit {
		return s
	}
	return s[:limit] + "..."
}
