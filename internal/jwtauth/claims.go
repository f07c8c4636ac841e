package jwtauth

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"

	"github.com/golang-jwt/jwt/v5"
)

// claims is a token's payload as the parser decodes it: the registered
// claims the validator checks (exp, nbf, iat, iss, aud, ...), and every
// claim's raw JSON text, kept so that numbers and objects reach the
// backend as the issuer wrote them.
type claims struct {
	jwt.RegisteredClaims
	raw map[string]json.RawMessage
}

var _ jwt.Claims = (*claims)(nil)

// UnmarshalJSON keeps the raw claims and decodes the registered ones. A
// payload that is not a JSON object, or a registered claim of the wrong
// type (an "exp" that is not a number, an "aud" that is neither a string
// nor an array of strings), makes the token malformed.
func (c *claims) UnmarshalJSON(payload []byte) error {
	if err := json.Unmarshal(payload, &c.raw); err != nil {
		return err
	}
	return json.Unmarshal(payload, &c.RegisteredClaims)
}

// audiences returns the values the token is meant for: its "aud", or
// its "client_id" when it has no "aud".
func (c *claims) audiences() []string {
	aud := slices.DeleteFunc(slices.Clone([]string(c.Audience)), func(s string) bool { return s == "" })
	if len(aud) > 0 {
		return aud
	}
	if id, ok := c.stringClaim("client_id"); ok && id != "" {
		return []string{id}
	}
	return nil
}

// scopes returns the token's scopes: the space-separated "scope" claim
// (OAuth 2.0, RFC 8693) or, when there is none, the "scp" claim, either a
// space-separated string or an array of strings (Okta, Azure AD). It is
// nil when the token has none.
func (c *claims) scopes() []string {
	if s, ok := c.stringClaim("scope"); ok {
		return words(s)
	}
	raw, ok := c.raw["scp"]
	if !ok {
		return nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return words(s)
	}
	var list []json.RawMessage
	if json.Unmarshal(raw, &list) != nil {
		return nil
	}
	var out []string
	for _, item := range list {
		if json.Unmarshal(item, &s) == nil && s != "" {
			out = append(out, s)
		}
	}
	return out
}

// words splits on white space, returning nil rather than an empty slice.
func words(s string) []string {
	w := strings.Fields(s)
	if len(w) == 0 {
		return nil
	}
	return w
}

func (c *claims) stringClaim(name string) (string, bool) {
	raw, ok := c.raw[name]
	if !ok {
		return "", false
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

// stringMap renders every claim as AWS HTTP APIs present
// requestContext.authorizer.jwt.claims; see claimString.
func (c *claims) stringMap() map[string]string {
	m := make(map[string]string, len(c.raw))
	for name, raw := range c.raw {
		m[name] = claimString(raw)
	}
	return m
}

// claimString renders one claim value as a string:
//
//   - a string as is, unquoted and unescaped;
//   - a number as its JSON text, as the issuer wrote it (1700000000 stays
//     "1700000000", 1.5e3 stays "1.5e3"; nothing is lost to float64);
//   - true, false and null as "true", "false" and "null";
//   - an array as its elements rendered by these same rules, separated by
//     single spaces, in brackets: ["a","b",3] is "[a b 3]", as AWS shows
//     e.g. Cognito's groups; an empty array is "[]";
//   - an object as compact JSON, keys in the token's order:
//     {"k": "v"} is `{"k":"v"}`.
func claimString(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	switch raw[0] {
	case '"':
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return s
		}
	case '[':
		var items []json.RawMessage
		if json.Unmarshal(raw, &items) == nil {
			parts := make([]string, len(items))
			for i, item := range items {
				parts[i] = claimString(item)
			}
			return "[" + strings.Join(parts, " ") + "]"
		}
	case '{':
		var b bytes.Buffer
		if json.Compact(&b, raw) == nil {
			return b.String()
		}
	}
	return string(raw)
}
