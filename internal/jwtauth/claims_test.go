package jwtauth

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestClaimString(t *testing.T) {
	tests := []struct{ raw, want string }{
		{`"plain"`, "plain"},
		{`"esc\"aped \u00e9\n"`, "esc\"aped é\n"},
		{`""`, ""},
		{`1700000000`, "1700000000"},
		{`-0.5`, "-0.5"},
		{`1E+30`, "1E+30"},
		{`123456789012345678901234567890`, "123456789012345678901234567890"},
		{`true`, "true"},
		{`false`, "false"},
		{`null`, "null"},
		{`[]`, "[]"},
		{`["a", "b", "c"]`, "[a b c]"},
		{`[ 1 , 2.5 , true , null ]`, "[1 2.5 true null]"},
		{`[["x", "y"], {"k": [1, 2]}]`, `[[x y] {"k":[1,2]}]`},
		{`{}`, "{}"},
		{`{ "z" : 1, "a" : { "b" : "c d" } }`, `{"z":1,"a":{"b":"c d"}}`},
		{`{"html": "<&>"}`, `{"html":"<&>"}`},
	}
	for _, tt := range tests {
		if got := claimString(json.RawMessage(tt.raw)); got != tt.want {
			t.Errorf("claimString(%s) = %q, want %q", tt.raw, got, tt.want)
		}
	}
}

func TestClaimsScopesAndAudiences(t *testing.T) {
	tests := []struct {
		payload string
		scopes  []string
		aud     []string
	}{
		{`{}`, nil, nil},
		{`{"scope": "a b  c"}`, []string{"a", "b", "c"}, nil},
		{`{"scope": ""}`, nil, nil},
		{`{"scope": "  "}`, nil, nil},
		{`{"scope": 5, "scp": ["x"]}`, []string{"x"}, nil},
		{`{"scp": "x y"}`, []string{"x", "y"}, nil},
		{`{"scp": ["x", 3, "", "y"]}`, []string{"x", "y"}, nil},
		{`{"scp": []}`, nil, nil},
		{`{"scp": {"x": 1}}`, nil, nil},
		{`{"aud": "one"}`, nil, []string{"one"}},
		{`{"aud": ["one", "", "two"]}`, nil, []string{"one", "two"}},
		{`{"aud": "", "client_id": "c"}`, nil, []string{"c"}},
		{`{"aud": [], "client_id": "c"}`, nil, []string{"c"}},
		{`{"client_id": "c"}`, nil, []string{"c"}},
		{`{"client_id": 7}`, nil, nil},
		{`{"aud": "one", "client_id": "c"}`, nil, []string{"one"}},
	}
	for _, tt := range tests {
		var c claims
		if err := json.Unmarshal([]byte(tt.payload), &c); err != nil {
			t.Fatalf("%s: %v", tt.payload, err)
		}
		if got := c.scopes(); !reflect.DeepEqual(got, tt.scopes) {
			t.Errorf("%s: scopes = %#v, want %#v", tt.payload, got, tt.scopes)
		}
		if got := c.audiences(); !reflect.DeepEqual(got, tt.aud) {
			t.Errorf("%s: audiences = %#v, want %#v", tt.payload, got, tt.aud)
		}
	}
}

func TestClaimsRejectWrongTypes(t *testing.T) {
	for _, payload := range []string{
		`[1, 2]`,
		`"string"`,
		`{"exp": "tomorrow"}`,
		`{"iss": 5}`,
		`{"aud": 5}`,
		`{"aud": [1]}`,
	} {
		var c claims
		if err := json.Unmarshal([]byte(payload), &c); err == nil {
			t.Errorf("%s: accepted", payload)
		}
	}
}
