package awsapi

import (
	"slices"
	"strconv"
	"strings"
)

// Auth is what authorization established when a connection opened. Every
// event of the connection carries it: requestContext.authorizer and the
// extra requestContext.identity fields.
type Auth struct {
	// Custom is a REQUEST authorizer's answer.
	Custom *CustomAuth
	// JWT is a JWT authorizer's answer.
	JWT *JWTAuth
	// Identity fields, each written only when set: an API key
	// (apiKey, apiKeyId) and a SigV4 signer (accessKey, accountId,
	// caller, user, userArn).
	APIKey, APIKeyID                            string
	AccessKey, AccountID, Caller, User, UserArn string
}

// CustomAuth is requestContext.authorizer after a REQUEST authorizer:
// principalId, integrationLatency and the answer's context, its values
// stringified.
type CustomAuth struct {
	PrincipalID        string
	IntegrationLatency int64 // milliseconds the authorizer took
	Context            map[string]string
}

// JWTAuth is requestContext.authorizer.jwt after a JWT authorizer, shaped
// as API Gateway's HTTP APIs shape it.
type JWTAuth struct {
	Claims map[string]string
	Scopes []string // null in JSON when empty
}

// appendAuthorizer writes `,"authorizer":{...}` when there is one.
func (a *Auth) appendAuthorizer(dst []byte) []byte {
	switch {
	case a.Custom != nil:
		c := a.Custom
		dst = append(dst, `,"authorizer":{"principalId":`...)
		dst = AppendJSONString(dst, c.PrincipalID)
		dst = append(dst, `,"integrationLatency":`...)
		dst = strconv.AppendInt(dst, c.IntegrationLatency, 10)
		for _, k := range sortedMapKeys(c.Context) {
			if k == "principalId" || k == "integrationLatency" {
				continue // the gateway's own keys win
			}
			dst = append(dst, ',')
			dst = AppendJSONString(dst, k)
			dst = append(dst, ':')
			dst = AppendJSONString(dst, c.Context[k])
		}
		return append(dst, '}')
	case a.JWT != nil:
		dst = append(dst, `,"authorizer":{"jwt":{"claims":`...)
		dst = appendStringMap(dst, a.JWT.Claims)
		dst = append(dst, `,"scopes":`...)
		if len(a.JWT.Scopes) == 0 {
			dst = append(dst, "null"...)
		} else {
			dst = appendStringList(dst, a.JWT.Scopes)
		}
		return append(dst, "}}"...)
	}
	return dst
}

// appendIdentity writes the identity fields that are set, each followed
// by a comma.
func (a *Auth) appendIdentity(dst []byte) []byte {
	for _, f := range a.identity() {
		if f.value != "" {
			dst = append(dst, '"')
			dst = append(dst, f.name...)
			dst = append(dst, `":`...)
			dst = AppendJSONString(dst, f.value)
			dst = append(dst, ',')
		}
	}
	return dst
}

// context resolves $context.authorizer.* and $context.identity.* names
// that come from authorization.
func (a *Auth) context(name string) (string, bool) {
	if rest, ok := strings.CutPrefix(name, "authorizer."); ok {
		switch {
		case a.Custom != nil && rest == "principalId":
			return a.Custom.PrincipalID, true
		case a.Custom != nil && rest == "integrationLatency":
			return strconv.FormatInt(a.Custom.IntegrationLatency, 10), true
		case a.Custom != nil:
			v, ok := a.Custom.Context[rest]
			return v, ok
		case a.JWT != nil:
			claim, ok := strings.CutPrefix(rest, "claims.")
			if !ok {
				return "", false
			}
			v, ok := a.JWT.Claims[claim]
			return v, ok
		}
		return "", false
	}
	if field, ok := strings.CutPrefix(name, "identity."); ok {
		for _, f := range a.identity() {
			if f.name == field {
				return f.value, f.value != ""
			}
		}
	}
	return "", false
}

// identity lists the identity fields, by their JSON names.
func (a *Auth) identity() [7]struct{ name, value string } {
	return [...]struct{ name, value string }{
		{"accessKey", a.AccessKey}, {"accountId", a.AccountID}, {"apiKey", a.APIKey}, {"apiKeyId", a.APIKeyID},
		{"caller", a.Caller}, {"user", a.User}, {"userArn", a.UserArn},
	}
}

func sortedMapKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
