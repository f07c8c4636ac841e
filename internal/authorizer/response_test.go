package authorizer

import (
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
)

func TestParseResponse(t *testing.T) {
	in := `{
	  "principalId": "user-1",
	  "policyDocument": {"Version": "2012-10-17", "Statement": [
	    {"Sid": "one", "Action": "execute-api:Invoke", "Effect": "Allow", "Resource": "arn:aws:execute-api:us-east-1:1:abc/*/*"},
	    {"NotAction": ["execute-api:Invoke", "execute-api:*"], "Effect": "Deny", "NotResource": ["*"]}
	  ]},
	  "context": {"s": "text", "n": 42, "f": -1.50e3, "t": true, "b": false, "empty": ""},
	  "usageIdentifierKey": "key-1"
	}`
	r, err := ParseResponse([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if r.PrincipalID != "user-1" || r.UsageIdentifierKey != "key-1" || r.Policy.Version != "2012-10-17" {
		t.Errorf("response = %+v", r)
	}
	wantCtx := map[string]string{"s": "text", "n": "42", "f": "-1.50e3", "t": "true", "b": "false", "empty": ""}
	if !maps.Equal(r.Context, wantCtx) {
		t.Errorf("context = %q, want %q", r.Context, wantCtx)
	}
	wantStmts := []Statement{
		{Effect: Allow, Action: []string{"execute-api:Invoke"}, Resource: []string{"arn:aws:execute-api:us-east-1:1:abc/*/*"}},
		{Effect: Deny, Action: []string{"execute-api:Invoke", "execute-api:*"}, NotAction: true, Resource: []string{"*"}, NotResource: true},
	}
	if !slices.EqualFunc(r.Policy.Statements, wantStmts, equalStatements) {
		t.Errorf("statements = %+v\nwant         %+v", r.Policy.Statements, wantStmts)
	}
}

func equalStatements(a, b Statement) bool {
	return a.Effect == b.Effect && a.NotAction == b.NotAction && a.NotResource == b.NotResource &&
		slices.Equal(a.Action, b.Action) && slices.Equal(a.Resource, b.Resource)
}

func TestParseResponseShapes(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want func(*Response) bool
	}{
		{"Statement as one object",
			`{"principalId":"p","policyDocument":{"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}}`,
			func(r *Response) bool { return len(r.Policy.Statements) == 1 && r.Policy.Statements[0].Effect == Allow }},
		{"empty Statement array",
			`{"principalId":"p","policyDocument":{"Version":"2012-10-17","Statement":[]}}`,
			func(r *Response) bool { return len(r.Policy.Statements) == 0 }},
		{"the 2008 Version",
			`{"principalId":"p","policyDocument":{"Version":"2008-10-17","Statement":[]}}`,
			func(r *Response) bool { return r.Policy.Version == "2008-10-17" }},
		{"null context and key",
			`{"principalId":"p","policyDocument":{"Statement":[]},"context":null,"usageIdentifierKey":null}`,
			func(r *Response) bool { return r.Context == nil && r.UsageIdentifierKey == "" }},
		{"empty context",
			`{"principalId":"p","policyDocument":{"Statement":[]},"context":{}}`,
			func(r *Response) bool { return r.Context != nil && len(r.Context) == 0 }},
		{"unknown fields ignored",
			`{"principalId":"p","policyDocument":{"Id":"x","Statement":[{"Effect":"Allow","Action":["*"],"Resource":["*"],"Principal":"*"}]},"extra":1}`,
			func(r *Response) bool { return len(r.Policy.Statements) == 1 }},
		{"escaped strings",
			`{"principalId":"a\"b","policyDocument":{"Statement":[]},"context":{"k\u00e9":"\u65e5"}}`,
			func(r *Response) bool { return r.PrincipalID == `a"b` && r.Context["ké"] == "日" }},
	}
	for _, tt := range tests {
		r, err := ParseResponse([]byte(tt.in))
		if err != nil || !tt.want(r) {
			t.Errorf("%s: ParseResponse = %+v, %v", tt.name, r, err)
		}
	}
}

func TestParseResponseErrors(t *testing.T) {
	const doc = `"policyDocument":{"Statement":[]}`
	tests := []struct {
		in      string
		wantErr string
	}{
		{``, "not a JSON object"},
		{`null`, "not a JSON object"},
		{`[]`, "not a JSON object"},
		{`"Allow"`, "not a JSON object"},
		{`{"principalId":"p",` + doc, "not valid JSON"},
		{`{` + doc + `}`, "principalId is missing"},
		{`{"principalId":null,` + doc + `}`, "principalId is missing"},
		{`{"principalId":"",` + doc + `}`, "principalId is empty"},
		{`{"principalId":7,` + doc + `}`, "principalId: want a string, got a number"},
		{`{"PrincipalId":"p",` + doc + `}`, "principalId is missing"}, // names are case-sensitive
		{`{"principalId":"p"}`, "policyDocument is missing"},
		{`{"principalId":"p","policyDocument":"x"}`, "policyDocument is not a JSON object"},
		{`{"principalId":"p","policyDocument":{}}`, "policyDocument.Statement is missing"},
		{`{"principalId":"p","policyDocument":{"statement":[]}}`, "policyDocument.Statement is missing"},
		{`{"principalId":"p","policyDocument":{"Version":"2020-01-01","Statement":[]}}`, `Version "2020-01-01"`},
		{`{"principalId":"p","policyDocument":{"Version":1,"Statement":[]}}`, "Version: want a string"},
		{`{"principalId":"p","policyDocument":{"Statement":"Allow"}}`, "want an object or an array of objects"},
		{`{"principalId":"p","policyDocument":{"Statement":["Allow"]}}`, "Statement[0] is not a JSON object"},
		{stmt(`"Action":"*","Resource":"*"`), "Statement[0].Effect is missing"},
		{stmt(`"Effect":"allow","Action":"*","Resource":"*"`), `Effect "allow": want "Allow" or "Deny"`},
		{stmt(`"Effect":true,"Action":"*","Resource":"*"`), "Effect: want a string, got a boolean"},
		{stmt(`"Effect":"Allow","Resource":"*"`), "neither Action nor NotAction"},
		{stmt(`"Effect":"Allow","Action":"*","NotAction":"x","Resource":"*"`), "both Action and NotAction"},
		{stmt(`"Effect":"Allow","Action":"*"`), "neither Resource nor NotResource"},
		{stmt(`"Effect":"Allow","Action":"*","Resource":"*","NotResource":"*"`), "both Resource and NotResource"},
		{stmt(`"Effect":"Allow","Action":7,"Resource":"*"`), "Action: want a string or an array of strings"},
		{stmt(`"Effect":"Allow","Action":null,"Resource":"*"`), "Action: want a string or an array of strings"},
		{stmt(`"Effect":"Allow","Action":["*",1],"Resource":"*"`), "Action: want a string or an array of strings"},
		{stmt(`"Effect":"Allow","Action":"*","NotResource":{}`), "NotResource: want a string or an array of strings"},
		{stmt(`"Effect":"Allow","Action":"*","Resource":"arn:aws:execute-api:*"`), `resource "arn:aws:execute-api:*": want "*" or an ARN`},
		{stmt(`"Effect":"Deny","Action":"*","NotResource":["*","abc"]`), `resource "abc"`},
		{`{"principalId":"p","policyDocument":{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},{"Effect":"x"}]}}`, "Statement[1].Effect"},
		{`{"principalId":"p",` + doc + `,"context":{"o":{"a":1}}}`, "context.o is an object"},
		{`{"principalId":"p",` + doc + `,"context":{"a":[1]}}`, "context.a is an array"},
		{`{"principalId":"p",` + doc + `,"context":{"n":null}}`, "context.n is null"},
		{`{"principalId":"p",` + doc + `,"context":"x"}`, "context is not a JSON object"},
		{`{"principalId":"p",` + doc + `,"usageIdentifierKey":1}`, "usageIdentifierKey: want a string"},
	}
	for _, tt := range tests {
		r, err := ParseResponse([]byte(tt.in))
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("ParseResponse(%s) = %+v, %v; want an error containing %q", tt.in, r, err, tt.wantErr)
		}
	}
}

func stmt(fields string) string {
	return `{"principalId":"p","policyDocument":{"Version":"2012-10-17","Statement":[{` + fields + `}]}}`
}

func TestParseResponseCondition(t *testing.T) {
	for _, in := range []string{
		stmt(`"Effect":"Allow","Action":"*","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}`),
		stmt(`"Effect":"Deny","Action":"*","Resource":"*","Condition":{}`),
		stmt(`"Effect":"Allow","Action":"*","Resource":"*","condition":{"Bool":{"aws:SecureTransport":"true"}}`),
		`{"principalId":"p","policyDocument":{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","CONDITION":null}}}`,
	} {
		_, err := ParseResponse([]byte(in))
		if !errors.Is(err, ErrCondition) {
			t.Errorf("ParseResponse(%s) = %v, want ErrCondition", in, err)
		}
	}
}

func TestParseResponseSize(t *testing.T) {
	build := func(size int) []byte {
		head := `{"principalId":"p","policyDocument":{"Statement":[]},"context":{"pad":"`
		tail := `"}}`
		return []byte(head + strings.Repeat("x", size-len(head)-len(tail)) + tail)
	}
	at := build(MaxResponseBytes)
	if len(at) != MaxResponseBytes {
		t.Fatalf("built %d bytes", len(at))
	}
	if _, err := ParseResponse(at); err != nil {
		t.Errorf("a response of exactly %d bytes: %v", MaxResponseBytes, err)
	}
	if _, err := ParseResponse(build(MaxResponseBytes + 1)); err == nil || !strings.Contains(err.Error(), "8193 bytes; the limit is 8192") {
		t.Errorf("a response one byte over the limit: %v", err)
	}
}

func FuzzParseResponse(f *testing.F) {
	f.Add(stmt(`"Effect":"Allow","Action":"execute-api:Invoke","Resource":"*"`))
	f.Add(`{"principalId":"p","policyDocument":{"Statement":{"Effect":"Deny","NotAction":[],"NotResource":"*"}},"context":{"a":1,"b":"x","c":false}}`)
	f.Add(stmt(`"Effect":"Allow","Action":"*","Resource":"*","Condition":{}`))
	f.Add(`{"principalId":"p","policyDocument":{"Statement":[]},"context":{"n":-0.0e-0}}`)
	f.Fuzz(func(t *testing.T, in string) {
		r, err := ParseResponse([]byte(in))
		if err != nil {
			return
		}
		if r.PrincipalID == "" || len(in) > MaxResponseBytes {
			t.Fatalf("accepted %q as %+v", in, r)
		}
		for _, s := range r.Policy.Statements {
			if s.Effect != Allow && s.Effect != Deny {
				t.Fatalf("accepted %q with effect %v", in, s.Effect)
			}
			for _, p := range s.Resource {
				if !validResourcePattern(p) {
					t.Fatalf("accepted %q with resource %q", in, p)
				}
			}
		}
		r.Policy.Evaluate(InvokeAction, connectARN)
	})
}
