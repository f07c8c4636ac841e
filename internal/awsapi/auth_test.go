package awsapi

import (
	"reflect"
	"testing"
)

func TestCustomAuthorizerInEvents(t *testing.T) {
	e := baseEvent(Message)
	e.MessageID = "R1knPc2ntjMCFIA="
	e.Auth = &Auth{
		Custom: &CustomAuth{PrincipalID: "user-1", IntegrationLatency: 12,
			Context: map[string]string{"tenant": "acme", "admin": "true", "principalId": "spoofed"}},
		APIKey: "k3y-valu3-0123456789", APIKeyID: "abc123",
	}
	typed, generic := decode(t, &e)
	want := map[string]any{"principalId": "user-1", "integrationLatency": float64(12), "tenant": "acme", "admin": "true"}
	if got := typed.RequestContext.Authorizer; !reflect.DeepEqual(got, want) {
		t.Errorf("authorizer = %#v, want %#v", got, want)
	}
	id := typed.RequestContext.Identity
	if id.APIKey != "k3y-valu3-0123456789" || id.APIKeyID != "abc123" || id.SourceIP != e.SourceIP {
		t.Errorf("identity = %+v", id)
	}
	ident := generic["requestContext"].(map[string]any)["identity"].(map[string]any)
	for _, absent := range []string{"accessKey", "accountId", "caller", "user", "userArn"} {
		if _, ok := ident[absent]; ok {
			t.Errorf("identity has %q, which is not set", absent)
		}
	}
	for name, want := range map[string]string{
		"authorizer.principalId": "user-1", "authorizer.tenant": "acme", "authorizer.integrationLatency": "12",
		"identity.apiKey": "k3y-valu3-0123456789", "identity.apiKeyId": "abc123",
	} {
		if got, ok := e.Context(name); !ok || got != want {
			t.Errorf("Context(%q) = %q, %v; want %q", name, got, ok, want)
		}
	}
	if _, ok := e.Context("authorizer.nope"); ok {
		t.Error("Context resolves an unknown authorizer key")
	}
}

func TestJWTAuthorizerAndIAMIdentityInEvents(t *testing.T) {
	e := baseEvent(Connect)
	e.Auth = &Auth{
		JWT:       &JWTAuth{Claims: map[string]string{"sub": "u1", "iss": "https://issuer.example"}, Scopes: []string{"chat:write"}},
		AccessKey: "AKIDEXAMPLE", AccountID: "123456789012", Caller: "AIDA:me", User: "me", UserArn: "arn:aws:iam::123456789012:user/me",
	}
	typed, _ := decode(t, &e)
	want := map[string]any{"jwt": map[string]any{
		"claims": map[string]any{"sub": "u1", "iss": "https://issuer.example"},
		"scopes": []any{"chat:write"},
	}}
	if got := typed.RequestContext.Authorizer; !reflect.DeepEqual(got, want) {
		t.Errorf("authorizer = %#v, want %#v", got, want)
	}
	id := typed.RequestContext.Identity
	if id.AccessKey != "AKIDEXAMPLE" || id.AccountID != "123456789012" || id.Caller != "AIDA:me" || id.User != "me" || id.UserArn != e.Auth.UserArn {
		t.Errorf("identity = %+v", id)
	}
	if got, ok := e.Context("authorizer.claims.sub"); !ok || got != "u1" {
		t.Errorf("Context(authorizer.claims.sub) = %q, %v", got, ok)
	}

	e.Auth.JWT.Scopes = nil
	_, generic := decode(t, &e)
	jwt := generic["requestContext"].(map[string]any)["authorizer"].(map[string]any)["jwt"].(map[string]any)
	if s, ok := jwt["scopes"]; !ok || s != nil {
		t.Errorf("scopes = %#v, want null", s)
	}
}
