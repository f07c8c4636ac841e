package model

import (
	"encoding/json"
	"errors"
	"testing"
)

// fuzzSet exercises the validator's costly and delicate paths: exact
// numbers (multipleOf, integer, bounds), uniqueItems with hashing (more than
// 20 items), patterns and formats, recursion through "#", references
// between models, and a later draft.
func fuzzSet(t testing.TB) *Set {
	return mustNew(t, Options{
		Models: map[string]string{
			"Num": `{"type":"object","properties":{"n":{"type":"integer","minimum":-5,"maximum":1e300,"exclusiveMaximum":true,"multipleOf":0.5},` +
				`"f":{"type":"number","enum":[1,2.5,1e10]}}}`,
			"Tree": `{"type":["object","array"],"uniqueItems":true,"items":{"$ref":"#"},"additionalProperties":{"$ref":"#"},` +
				`"properties":{"s":{"type":"string","pattern":"^[a-z]{1,8}$","format":"email","maxLength":5}}}`,
			"Str":   `{"properties":{"re":{"format":"regex"},"t":{"format":"date-time"},"ip":{"format":"ipv4"},"u":{"format":"uri"}}}`,
			"Ref":   `{"anyOf":[{"$ref":"Num"},{"$ref":"Str"}],"not":{"required":["x"]}}`,
			"Later": `{"$schema":"https://json-schema.org/draft/2020-12/schema","prefixItems":[{"const":1}],"uniqueItems":true,"unevaluatedItems":{"type":"number"},"dependentSchemas":{"a":{"required":["b"]}}}`,
		},
		Routes: map[string]Route{
			"r": {ModelSelectionExpression: "$request.body.m", RequestModels: map[string]string{
				"num": "Num", "str": "Str", "ref": "Ref", "later": "Later", "$default": "Tree",
			}},
			"strict": {ModelSelectionExpression: "${request.body.m}-${request.body.k[0]}", RequestModels: map[string]string{"num-1": "Num"}},
			"static": {ModelSelectionExpression: `\$default`, RequestModels: map[string]string{"$default": "Later"}},
		},
		MaxMessageBytes: 4096,
	})
}

func FuzzValidate(f *testing.F) {
	for _, seed := range []string{
		`{"m":"num","n":4.5,"f":2.5}`,
		`{"m":"num","n":1e300}`,
		`{"m":"num","n":1e-400}`,
		`{"m":"num","n":1e9999999}`,
		`{"m":"str","re":"(a+)+$","t":"2024-01-01T00:00:00Z","ip":"1.2.3.4","u":"http://x"}`,
		`{"m":"ref","x":1}`,
		`{"m":"later"}`,
		`[1,[1,2],1,"a@b.c"]`,
		`[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,1.0]`,
		`[[[[[[[[[[[[]]]]]]]]]]]]`,
		`{"s":"abc","k":{"s":"x@y.z"}}`,
		`{"m":"num","k":[1]}`,
		"{\"m\":\"\xff\"}",
		`not json`,
		``,
		`"\ud800"`,
		`{"a":1}{"a":2}`,
	} {
		f.Add(seed)
	}
	s := fuzzSet(f)
	f.Fuzz(func(t *testing.T, msg string) {
		for _, r := range []string{"r", "strict", "static", "none"} {
			err := s.Validate(r, []byte(msg))
			if r == "none" {
				if err != nil {
					t.Fatalf("route without models: %v", err)
				}
				continue
			}
			if err == nil {
				if !json.Valid([]byte(msg)) {
					t.Fatalf("route %s accepted non-JSON %q", r, msg)
				}
				continue
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("route %s: %T is not *Error", r, err)
			}
			if errors.Is(err, ErrInternal) {
				t.Fatalf("route %s: validator failed on %q: %v", r, msg, err)
			}
			if len(e.Detail) > maxDetail+len("…") {
				t.Fatalf("route %s: detail of %d bytes", r, len(e.Detail))
			}
			_ = err.Error()
		}
	})
}
