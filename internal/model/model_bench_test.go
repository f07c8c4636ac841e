package model

import (
	"strings"
	"testing"
)

var benchModels = Options{
	Models: map[string]string{
		"Email": `{"$schema":"http://json-schema.org/draft-04/schema#","type":"object","required":["action","address"],` +
			`"properties":{"action":{"type":"string"},"type":{"enum":["email","sms"]},"address":{"type":"string","maxLength":254}}}`,
	},
	Routes: map[string]Route{
		"sendMessage": {ModelSelectionExpression: "$request.body.type", RequestModels: map[string]string{"email": "Email"}},
	},
}

// BenchmarkValidate is the hot path for a small valid message (65 bytes).
func BenchmarkValidate(b *testing.B) {
	s := mustNew(b, benchModels)
	msg := []byte(`{"action":"sendMessage","type":"email","address":"a@example.com"}`)
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		if err := s.Validate("sendMessage", msg); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkValidateInvalid measures a rejected message, error text included.
func BenchmarkValidateInvalid(b *testing.B) {
	s := mustNew(b, benchModels)
	msg := []byte(`{"action":"sendMessage","type":"email","address":42}`)
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Validate("sendMessage", msg); err == nil {
			b.Fatal("accepted")
		} else {
			_ = err.Error()
		}
	}
}

// BenchmarkValidateNoModels is a route without models: a map lookup.
func BenchmarkValidateNoModels(b *testing.B) {
	s := mustNew(b, benchModels)
	msg := []byte(`{"action":"join","room":"lobby"}`)
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Validate("join", msg); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkValidateLarge is a 128 KiB array of small objects, the worst
// size a default gateway lets through.
func BenchmarkValidateLarge(b *testing.B) {
	s := mustNew(b, Options{
		Models: map[string]string{"Items": `{"type":"array","items":{"type":"object","required":["id"],"properties":{"id":{"type":"integer","minimum":0}}}}`},
		Routes: map[string]Route{"r": {ModelSelectionExpression: `\$default`, RequestModels: map[string]string{"$default": "Items"}}},
	})
	msg := []byte{'['}
	for len(msg) < DefaultMaxMessageBytes-20 {
		msg = append(msg, `{"id":12345},`...)
	}
	msg = append(msg[:len(msg)-1], ']')
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		if err := s.Validate("r", msg); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkValidateAdversarial measures 128 KiB messages built to be
// expensive for the validator: exact arithmetic on numbers at the exponent
// limit, uniqueItems hashing, a long string against a pattern, deep nesting
// at the depth limit through a recursive schema, and strings checked by
// "format": "regex".
func BenchmarkValidateAdversarial(b *testing.B) {
	fill := func(prefix, item, suffix string) []byte {
		msg := []byte(prefix)
		for len(msg)+len(item)+len(suffix) < DefaultMaxMessageBytes {
			msg = append(msg, item...)
		}
		if msg[len(msg)-1] == ',' {
			msg = msg[:len(msg)-1]
		}
		return append(msg, suffix...)
	}
	cases := []struct {
		name, schema string
		msg          []byte
	}{
		{"numbers", `{"uniqueItems":true,"items":{"type":"integer","multipleOf":0.5,"maximum":1e300}}`, fill("[", "1e400,", "]")},
		{"unique", `{"uniqueItems":true}`, fill("[", `"a",`, "]")},
		{"pattern", `{"type":"string","pattern":"^(a|aa)+$"}`, fill(`"`, "a", `b"`)},
		{"deep", `{"items":{"$ref":"#"},"uniqueItems":true}`, []byte(strings.Repeat("[", DefaultMaxDepth) + strings.Repeat("]", DefaultMaxDepth))},
		// Strings under "format": "regex" are parsed; Unicode classes are the costliest to parse.
		{"regex", `{"items":{"format":"regex"}}`, fill("[", `"[\\p{L}\\p{N}]",`, "]")},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			s := oneModel(b, c.schema)
			b.ReportAllocs()
			b.SetBytes(int64(len(c.msg)))
			for b.Loop() {
				_ = s.Validate("r", c.msg)
			}
		})
	}
}
