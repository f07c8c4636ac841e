package model

import (
	"errors"
	"runtime"
	"strings"
	"testing"
)

// mustNew compiles opts or fails the test.
func mustNew(t testing.TB, opts Options) *Set {
	t.Helper()
	s, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

// oneModel is a Set whose route "r" validates every message against schema.
func oneModel(t testing.TB, schema string) *Set {
	t.Helper()
	return mustNew(t, Options{
		Models: map[string]string{"M": schema},
		Routes: map[string]Route{"r": {ModelSelectionExpression: `\$default`, RequestModels: map[string]string{"$default": "M"}}},
	})
}

// check compares err with want: nil, or the sentinel it must wrap.
func check(t *testing.T, label string, err, want error) {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Errorf("%s: got %v, want nil", label, err)
		}
		return
	}
	if !errors.Is(err, want) {
		t.Errorf("%s: got %v, want %v", label, err, want)
		return
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Errorf("%s: %T is not *Error", label, err)
	}
}

func TestDraftSemantics(t *testing.T) {
	tests := []struct {
		name   string
		schema string
		msg    string
		want   error
	}{
		// draft-04 by default: exclusiveMaximum is a boolean modifier of maximum.
		{"04 default exclusiveMaximum at bound", `{"maximum":10,"exclusiveMaximum":true}`, `10`, ErrInvalid},
		{"04 default exclusiveMaximum below", `{"maximum":10,"exclusiveMaximum":true}`, `9.99`, nil},
		{"04 default maximum inclusive", `{"maximum":10}`, `10`, nil},
		{"04 explicit exclusiveMinimum", `{"$schema":"http://json-schema.org/draft-04/schema#","minimum":0,"exclusiveMinimum":true}`, `0`, ErrInvalid},
		{"04 integer", `{"type":"integer"}`, `3`, nil},
		{"04 integer rejects fraction", `{"type":"integer"}`, `3.5`, ErrInvalid},
		{"04 big integer exact", `{"type":"integer","maximum":18446744073709551615}`, `18446744073709551616`, ErrInvalid},
		{"04 multipleOf exact", `{"multipleOf":0.1}`, `0.3`, nil},
		// draft-04 knows nothing of if/then: the keywords are ignored.
		{"04 ignores if/then", `{"if":{"required":["a"]},"then":{"required":["b"]}}`, `{"a":1}`, nil},
		{"04 ignores const", `{"const":1}`, `2`, nil},
		{"04 required", `{"type":"object","required":["address"],"properties":{"address":{"type":"string"}}}`, `{"address":1}`, ErrInvalid},
		{"04 aws tutorial", `{"$schema":"http://json-schema.org/draft-04/schema#","type":"object","required":["address"],"properties":{"address":{"type":"string"}}}`, `{"address":"a@example.com"}`, nil},
		{"04 format email asserted", `{"format":"email"}`, `"not an email"`, ErrInvalid},
		{"04 pattern", `{"type":"string","pattern":"^[a-z]+$"}`, `"abc1"`, ErrInvalid},
		{"04 additionalProperties", `{"properties":{"a":{}},"additionalProperties":false}`, `{"a":1,"b":2}`, ErrInvalid},
		{"04 uniqueItems", `{"uniqueItems":true}`, `[1,1.0]`, ErrInvalid},
		{"04 enum", `{"enum":["email","sms"]}`, `"fax"`, ErrInvalid},
		{"04 definitions ref", `{"definitions":{"s":{"type":"string"}},"properties":{"a":{"$ref":"#/definitions/s"}}}`, `{"a":2}`, ErrInvalid},
		{"04 recursive ref", `{"type":"array","items":{"$ref":"#"}}`, `[[[]],[]]`, nil},
		// Later drafts when $schema says so.
		{"06 numeric exclusiveMaximum", `{"$schema":"http://json-schema.org/draft-06/schema#","exclusiveMaximum":10}`, `10`, ErrInvalid},
		{"06 const", `{"$schema":"http://json-schema.org/draft-06/schema#","const":1}`, `2`, ErrInvalid},
		{"07 if/then", `{"$schema":"http://json-schema.org/draft-07/schema#","if":{"required":["a"]},"then":{"required":["b"]}}`, `{"a":1}`, ErrInvalid},
		{"07 if/then satisfied", `{"$schema":"http://json-schema.org/draft-07/schema#","if":{"required":["a"]},"then":{"required":["b"]}}`, `{"a":1,"b":2}`, nil},
		{"2019-09 dependentRequired", `{"$schema":"https://json-schema.org/draft/2019-09/schema","dependentRequired":{"a":["b"]}}`, `{"a":1}`, ErrInvalid},
		{"2020-12 prefixItems", `{"$schema":"https://json-schema.org/draft/2020-12/schema","prefixItems":[{"type":"string"}],"items":false}`, `["a",1]`, ErrInvalid},
		{"2020-12 prefixItems ok", `{"$schema":"https://json-schema.org/draft/2020-12/schema","prefixItems":[{"type":"string"}]}`, `["a",1]`, nil},
		{"2020-12 format is annotation", `{"$schema":"https://json-schema.org/draft/2020-12/schema","format":"email"}`, `"not an email"`, nil},
		{"2020-12 $defs", `{"$schema":"https://json-schema.org/draft/2020-12/schema","$defs":{"n":{"type":"number"}},"$ref":"#/$defs/n"}`, `"x"`, ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := oneModel(t, tt.schema)
			check(t, tt.msg, s.Validate("r", []byte(tt.msg)), tt.want)
		})
	}
}

func TestSelection(t *testing.T) {
	models := map[string]string{
		"Email":   `{"type":"object","required":["address"],"properties":{"address":{"type":"string"}}}`,
		"Sms":     `{"type":"object","required":["phone"],"properties":{"phone":{"type":"string"}}}`,
		"Generic": `{"type":"object","required":["type"]}`,
		"Any":     `{}`,
	}
	s := mustNew(t, Options{
		Models: models,
		Routes: map[string]Route{
			// Two models, no fallback.
			"strict": {ModelSelectionExpression: "$request.body.type", RequestModels: map[string]string{"email": "Email", "sms": "Sms"}},
			// Two models and a fallback.
			"fallback": {ModelSelectionExpression: "$request.body.type", RequestModels: map[string]string{"email": "Email", "$default": "Generic"}},
			// Only $default: every message is validated against it.
			"onlyDefault": {ModelSelectionExpression: "$request.body.type", RequestModels: map[string]string{"$default": "Email"}},
			// Static expressions.
			"escaped": {ModelSelectionExpression: `\$default`, RequestModels: map[string]string{"$default": "Email"}},
			"bare":    {ModelSelectionExpression: `$default`, RequestModels: map[string]string{"$default": "Email"}},
			"static":  {ModelSelectionExpression: `sms`, RequestModels: map[string]string{"sms": "Sms"}},
			// Composite and nested expressions, number values.
			"composite": {ModelSelectionExpression: "${request.body.kind}/${request.body.v}", RequestModels: map[string]string{"mail/1": "Email"}},
			"nested":    {ModelSelectionExpression: "$request.body.meta.type", RequestModels: map[string]string{"email": "Email"}},
			"anything":  {ModelSelectionExpression: "$request.body.type", RequestModels: map[string]string{"$default": "Any"}},
		},
	})
	tests := []struct {
		route, msg string
		want       error
	}{
		{"strict", `{"type":"email","address":"a@b.c"}`, nil},
		{"strict", `{"type":"email","phone":"1"}`, ErrInvalid},
		{"strict", `{"type":"sms","phone":"1"}`, nil},
		{"strict", `{"type":"sms","address":"a@b.c"}`, ErrInvalid},
		{"strict", `{"type":"fax"}`, ErrNoModel},
		{"strict", `{"address":"a@b.c"}`, ErrNoModel}, // missing path: "" has no model
		{"strict", `{"type":null}`, ErrNoModel},
		{"strict", `{"type":"$default"}`, ErrNoModel},
		{"strict", `"email"`, ErrNoModel},
		{"strict", `not json`, ErrNotJSON},
		{"strict", ``, ErrNotJSON},
		{"fallback", `{"type":"email","address":"x"}`, nil},
		{"fallback", `{"type":"email"}`, ErrInvalid},
		{"fallback", `{"type":"fax"}`, nil},        // $default model
		{"fallback", `{"kind":"fax"}`, ErrInvalid}, // "" → $default, which requires type
		{"fallback", `[1,2]`, ErrInvalid},
		{"fallback", `{"type":"fax"`, ErrNotJSON},
		{"onlyDefault", `{"type":"anything","address":"x"}`, nil},
		{"onlyDefault", `{"address":"x"}`, nil},
		{"onlyDefault", `{"type":"email"}`, ErrInvalid},
		{"escaped", `{"address":"x"}`, nil},
		{"escaped", `{}`, ErrInvalid},
		{"escaped", `plain text`, ErrNotJSON},
		{"bare", `{"address":"x"}`, nil},
		{"bare", `{"phone":"1"}`, ErrInvalid},
		{"static", `{"phone":"1"}`, nil},
		{"static", `{"address":"x"}`, ErrInvalid},
		{"composite", `{"kind":"mail","v":1,"address":"x"}`, nil},
		{"composite", `{"kind":"mail","v":1}`, ErrInvalid},
		{"composite", `{"kind":"mail","v":2,"address":"x"}`, ErrNoModel},
		{"nested", `{"meta":{"type":"email"},"address":"x"}`, nil},
		{"nested", `{"meta":{"type":"email"}}`, ErrInvalid},
		// Not JSON never passes, even against {}.
		{"anything", `{"type":"x"}`, nil},
		{"anything", `123`, nil},
		{"anything", `hello`, ErrNotJSON},
		{"anything", `{"a":1} {"b":2}`, ErrNotJSON},
		{"anything", `{"a":1}x`, ErrNotJSON},
		{"anything", "{\"a\":1}\n \t", nil},
		{"anything", ` `, ErrNotJSON},
		// Routes without models.
		{"unconfigured", `anything at all`, nil},
		{"$default", `{"type":"fax"}`, nil},
	}
	for _, tt := range tests {
		check(t, tt.route+" "+tt.msg, s.Validate(tt.route, []byte(tt.msg)), tt.want)
	}
	if !s.HasModels("strict") || s.HasModels("unconfigured") {
		t.Error("HasModels is wrong")
	}
}

func TestErrorText(t *testing.T) {
	s := mustNew(t, Options{
		Models: map[string]string{"Email": `{"type":"object","required":["address"],"properties":{"address":{"type":"string"},"n":{"type":"integer"}}}`},
		Routes: map[string]Route{"sendMessage": {ModelSelectionExpression: "$request.body.type", RequestModels: map[string]string{"email": "Email"}}},
	})
	tests := []struct{ msg, want string }{
		{`{"type":"email","address":1,"n":1.5}`, `route "sendMessage": model "Email": message does not match the model: at '/address': got number, want string; at '/n': got number, want integer`},
		{`{"type":"email"}`, `route "sendMessage": model "Email": message does not match the model: at '': missing property 'address'`},
		{`{"type":"fax"}`, `route "sendMessage": no model for the message: selection value "fax" has no model and there is no $default model`},
		{`{"type":`, `route "sendMessage": message is not JSON`},
	}
	for _, tt := range tests {
		err := s.Validate("sendMessage", []byte(tt.msg))
		if err == nil || err.Error() != tt.want {
			t.Errorf("Validate(%s):\n got %v\nwant %s", tt.msg, err, tt.want)
		}
	}
	// Client data in the text is bounded.
	long := `{"type":"` + strings.Repeat("x", 10000) + `"}`
	if err := s.Validate("sendMessage", []byte(long)); err == nil || len(err.Error()) > 300 {
		t.Errorf("long selection value: %d bytes of error", len(err.Error()))
	}
	many := `{"type":"email","address":"x","` + strings.Repeat(`a`, 5000) + `":1}`
	s2 := oneModel(t, `{"additionalProperties":{"type":"string"},"properties":{"type":{}}}`)
	if err := s2.Validate("r", []byte(many)); !errors.Is(err, ErrInvalid) || len(err.Error()) > maxDetail+100 {
		t.Errorf("long property name: %v", err)
	}
	arr := "[" + strings.Repeat(`1,`, 100) + "1]"
	err := oneModel(t, `{"items":{"type":"string"}}`).Validate("r", []byte(arr))
	if err == nil || !strings.Contains(err.Error(), "; and 93 more") {
		t.Errorf("many failures: %v", err)
	}
}

func TestLimits(t *testing.T) {
	s := oneModel(t, `{"type":"array","items":{"type":"number","maximum":10}}`)
	deep := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	tests := []struct {
		name, msg string
		want      error
	}{
		{"depth at limit", deep(DefaultMaxDepth), ErrInvalid}, // nested arrays are not numbers
		{"depth over limit", deep(DefaultMaxDepth + 1), ErrLimit},
		{"very deep", deep(100000), ErrLimit},
		{"deep inside string ignored", `["` + strings.Repeat("[", 1000) + `"]`, ErrInvalid},
		{"huge exponent", `[1e9999999]`, ErrLimit},
		{"huge negative exponent", `[1e-9999999]`, ErrLimit},
		{"exponent at limit", `[1e-400]`, nil},
		{"exponent over limit", `[1E+401]`, ErrLimit},
		{"many digits", `[` + strings.Repeat("1", 101) + `]`, ErrLimit},
		{"digits at limit", `[0.` + strings.Repeat("0", 99) + `]`, nil},
		{"number in string ignored", `["` + strings.Repeat("9", 1000) + `e99999"]`, ErrInvalid},
		{"escaped quote in string", `["\"[[[[", 1]`, ErrInvalid},
		{"too large", "[" + strings.Repeat("1,", DefaultMaxMessageBytes/2) + "1]", ErrLimit},
	}
	for _, tt := range tests {
		check(t, tt.name, s.Validate("r", []byte(tt.msg)), tt.want)
	}

	small := mustNew(t, Options{
		Models:          map[string]string{"M": `{}`},
		Routes:          map[string]Route{"r": {ModelSelectionExpression: `\$default`, RequestModels: map[string]string{"$default": "M"}}},
		MaxMessageBytes: 10,
		MaxDepth:        2,
	})
	check(t, "custom size", small.Validate("r", []byte(`[1,2,3,4,5]`)), ErrLimit)
	check(t, "custom size ok", small.Validate("r", []byte(`[1,2,3,4]`)), nil)
	check(t, "custom depth", small.Validate("r", []byte(`[[[]]]`)), ErrLimit)
	check(t, "custom depth ok", small.Validate("r", []byte(`[[]]`)), nil)
}

func TestConstructionErrors(t *testing.T) {
	email := `{"type":"object","required":["address"]}`
	route := func(expr string, models map[string]string) map[string]Route {
		return map[string]Route{"sendMessage": {ModelSelectionExpression: expr, RequestModels: models}}
	}
	tests := []struct {
		name string
		opts Options
		want []string // substrings of the error
	}{
		{"schema not JSON", Options{Models: map[string]string{"Email": `{"type":`}}, []string{`model "Email": schema is not JSON`}},
		{"schema trailing data", Options{Models: map[string]string{"Email": `{} {}`}}, []string{`model "Email": schema is not JSON`}},
		{"bad type", Options{Models: map[string]string{"Email": `{"type":"strnig"}`}}, []string{`model "Email"`, "metaschema", "/type"}},
		{"draft-04 numeric exclusiveMaximum", Options{Models: map[string]string{"Email": `{"maximum":1,"exclusiveMaximum":1}`}}, []string{`model "Email"`, "/exclusiveMaximum", "want boolean"}},
		{"draft-04 empty required", Options{Models: map[string]string{"Email": `{"required":[]}`}}, []string{`model "Email"`, "/required"}},
		{"draft-04 boolean schema", Options{Models: map[string]string{"Email": `true`}}, []string{`model "Email"`}},
		{"bad pattern", Options{Models: map[string]string{"Email": `{"pattern":"("}`}}, []string{`model "Email"`}},
		{"unknown $schema", Options{Models: map[string]string{"Email": `{"$schema":"http://example.com/meta"}`}}, []string{`model "Email": $schema "http://example.com/meta" is not supported`}},
		{"draft-03", Options{Models: map[string]string{"Email": `{"$schema":"http://json-schema.org/draft-03/schema#"}`}}, []string{`model "Email"`, "not supported"}},
		{"remote ref", Options{Models: map[string]string{"Email": `{"$ref":"https://example.com/email.json"}`}}, []string{`model "Email"`, "https://example.com/email.json", "reference refused"}},
		{"file ref", Options{Models: map[string]string{"Email": `{"$ref":"file:///etc/passwd"}`}}, []string{`model "Email"`, "reference refused"}},
		{"remote ref via id", Options{Models: map[string]string{"Email": `{"id":"http://example.com/root.json","properties":{"a":{"$ref":"other.json"}}}`}}, []string{`model "Email"`, "http://example.com/other.json", "reference refused"}},
		{"unknown model ref", Options{Models: map[string]string{"Email": `{"$ref":"Address"}`}}, []string{`model "Email"`, `no model named "Address"`}},
		{"ref to other api model missing", Options{Models: map[string]string{"Email": `{"$ref":"https://apigateway.amazonaws.com/restapis/abc/models/Nope"}`}}, []string{`no model named "Nope"`}},
		{"bad model name", Options{Models: map[string]string{"email-model": `{}`}}, []string{`model "email-model"`, "alphanumeric"}},
		{"long model name", Options{Models: map[string]string{strings.Repeat("a", 129): `{}`}}, []string{"1 to 128"}},
		{"unknown model in route", Options{Models: map[string]string{"Email": email}, Routes: route("$request.body.type", map[string]string{"email": "Emial"})}, []string{`route "sendMessage": requestModels["email"]: unknown model "Emial"`}},
		{"bad expression", Options{Models: map[string]string{"Email": email}, Routes: route("${request.body.type", map[string]string{"email": "Email"})}, []string{`route "sendMessage": modelSelectionExpression "${request.body.type"`, "unterminated"}},
		{"context in expression", Options{Models: map[string]string{"Email": email}, Routes: route("$context.connectionId", map[string]string{"email": "Email"})}, []string{`route "sendMessage": modelSelectionExpression`, "not allowed"}},
		{"whole body expression", Options{Models: map[string]string{"Email": email}, Routes: route("$request.body", map[string]string{"email": "Email"})}, []string{`route "sendMessage": modelSelectionExpression`}},
		{"models without expression", Options{Models: map[string]string{"Email": email}, Routes: route("", map[string]string{"$default": "Email"})}, []string{`route "sendMessage": requestModels without a modelSelectionExpression`}},
		{"expression without models", Options{Routes: route("$request.body.type", nil)}, []string{`route "sendMessage": modelSelectionExpression without requestModels`}},
		{"empty route", Options{Routes: route("", nil)}, []string{`route "sendMessage": no modelSelectionExpression`}},
		{"static selects nothing", Options{Models: map[string]string{"Email": email}, Routes: route("fax", map[string]string{"email": "Email"})}, []string{`always selects "fax"`}},
		{"empty key", Options{Models: map[string]string{"Email": email}, Routes: route("$request.body.t", map[string]string{"": "Email"})}, []string{"empty key"}},
		{"$connect", Options{Models: map[string]string{"Email": email}, Routes: map[string]Route{"$connect": {ModelSelectionExpression: `\$default`, RequestModels: map[string]string{"$default": "Email"}}}}, []string{`route "$connect"`}},
		{"reserved route key", Options{Models: map[string]string{"Email": email}, Routes: map[string]Route{"$other": {ModelSelectionExpression: `\$default`, RequestModels: map[string]string{"$default": "Email"}}}}, []string{`route "$other"`, "reserved"}},
		{"negative limits", Options{MaxMessageBytes: -1, MaxDepth: -1}, []string{"maxMessageBytes", "maxDepth"}},
		{"all problems at once", Options{
			Models: map[string]string{"A": `{"type":1}`, "B": `{"$ref":"C"}`, "Ok": `{}`},
			Routes: map[string]Route{
				"r1": {ModelSelectionExpression: "$request.body.t", RequestModels: map[string]string{"x": "Missing", "y": "A"}},
				"r2": {ModelSelectionExpression: "$nope", RequestModels: map[string]string{"x": "Ok"}},
			},
		}, []string{`model "A"`, `model "B"`, `route "r1": requestModels["x"]: unknown model "Missing"`, `route "r2"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := New(tt.opts)
			if err == nil {
				t.Fatalf("New succeeded (%v), want an error containing %q", s, tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not contain %q", err, w)
				}
			}
		})
	}
	// A model that failed is reported once, not again by each route using it.
	_, err := New(Options{
		Models: map[string]string{"A": `{"type":1}`},
		Routes: map[string]Route{"r": {ModelSelectionExpression: `\$default`, RequestModels: map[string]string{"$default": "A"}}},
	})
	if err == nil || strings.Contains(err.Error(), "unknown model") || strings.Contains(err.Error(), "always selects") || strings.Contains(err.Error(), `route "r"`) {
		t.Errorf("broken model used by a route: %v", err)
	}
}

func TestModelReferences(t *testing.T) {
	s := mustNew(t, Options{
		Models: map[string]string{
			"Address": `{"type":"string","definitions":{"zip":{"type":"string","pattern":"^[0-9]{5}$"}}}`,
			"Email":   `{"type":"object","properties":{"to":{"$ref":"Address"},"zip":{"$ref":"Address#/definitions/zip"}}}`,
			"Aws":     `{"type":"object","properties":{"to":{"$ref":"https://apigateway.amazonaws.com/restapis/a1b2c3/models/Address"}}}`,
			"Meta":    `{"$ref":"http://json-schema.org/draft-04/schema#"}`,
			"Later":   `{"$schema":"http://json-schema.org/draft-07/schema#","properties":{"to":{"$ref":"Address"}}}`,
		},
		Routes: map[string]Route{"r": {ModelSelectionExpression: "$request.body.m", RequestModels: map[string]string{
			"email": "Email", "aws": "Aws", "meta": "Meta", "later": "Later",
		}}},
	})
	tests := []struct {
		msg  string
		want error
	}{
		{`{"m":"email","to":"a@b.c","zip":"12345"}`, nil},
		{`{"m":"email","to":1}`, ErrInvalid},
		{`{"m":"email","zip":"1234"}`, ErrInvalid},
		{`{"m":"aws","to":"x"}`, nil},
		{`{"m":"aws","to":false}`, ErrInvalid},
		{`{"m":"meta","type":"string"}`, nil},
		{`{"m":"meta","type":"strnig"}`, ErrInvalid},
		{`{"m":"later","to":"x"}`, nil},
		{`{"m":"later","to":[]}`, ErrInvalid},
	}
	for _, tt := range tests {
		check(t, tt.msg, s.Validate("r", []byte(tt.msg)), tt.want)
	}
}

func TestNilSetAndNoModels(t *testing.T) {
	var s *Set
	if err := s.Validate("r", []byte("x")); err != nil || s.HasModels("r") {
		t.Errorf("nil Set: %v", err)
	}
	empty := mustNew(t, Options{})
	if err := empty.Validate("r", []byte("x")); err != nil {
		t.Errorf("empty Set: %v", err)
	}
	s = oneModel(t, `{}`)
	msg := []byte(`{"action":"sendMessage","data":"hello"}`)
	if n := testing.AllocsPerRun(100, func() { _ = s.Validate("other", msg) }); n != 0 {
		t.Errorf("route without models: %v allocs per call, want 0", n)
	}
}

func TestConcurrentValidate(t *testing.T) {
	s := oneModel(t, `{"type":"object","required":["a"],"properties":{"a":{"type":"integer","uniqueItems":true}}}`)
	done := make(chan struct{})
	for g := 0; g < 4; g++ {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := 0; i < 200; i++ {
				if err := s.Validate("r", []byte(`{"a":1}`)); err != nil {
					t.Error(err)
					return
				}
				if err := s.Validate("r", []byte(`{"a":"x"}`)); !errors.Is(err, ErrInvalid) {
					t.Error(err)
					return
				}
			}
		}()
	}
	for g := 0; g < 4; g++ {
		<-done
	}
}

func TestCheckLimitsScanner(t *testing.T) {
	// Unterminated strings, stray escapes and lone signs must not confuse
	// the scanner or make it read past the end.
	for _, in := range []string{`"`, `"\`, `\`, `-`, `1e`, `1e+`, `"abc\"`, `}}}}`, `-e9`, `1.2.3e4`, "\xff[", `[-]`} {
		_ = checkLimits([]byte(in), 4)
	}
	if got := checkLimits([]byte(`[[[`), 2); got == "" {
		t.Error("depth 3 > 2 not reported")
	}
	if got := checkLimits([]byte(`1e400`), 2); got != "" {
		t.Errorf("1e400: %s", got)
	}
	if got := checkLimits([]byte(`1e00000000000000000000000000000000000000401`), 2); got == "" {
		t.Error("long exponent not reported")
	}
	if got := checkLimits([]byte(`1e000000000000000000000000000000000000000040`), 2); got != "" {
		t.Errorf("exponent with leading zeros: %s", got)
	}
}

// A panic in the validator becomes ErrInternal instead of ending the process.
func TestValidatorPanicIsContained(t *testing.T) {
	broken := &compiledModel{name: "Broken"} // nil schema: Validate panics
	s := &Set{
		routes:   map[string]*routeModels{"r": {key: "r", static: broken}},
		maxBytes: DefaultMaxMessageBytes,
		maxDepth: DefaultMaxDepth,
	}
	err := s.Validate("r", []byte(`{}`))
	var e *Error
	if !errors.Is(err, ErrInternal) || !errors.As(err, &e) || e.Model != "Broken" {
		t.Errorf("got %v, want ErrInternal for model Broken", err)
	}
}

// TestFormatRegexIsParsedNotCompiled: "format": "regex" asks whether a
// client's string is a valid regular expression. Compiling it to answer
// costs what the program it describes costs: ".{1000}" a thousand times is
// a million instructions, and a 128 KiB message of such strings took
// seconds of CPU and 4 GB of garbage. Parsing answers the same question in
// time proportional to the string.
func TestFormatRegexIsParsedNotCompiled(t *testing.T) {
	s := oneModel(t, `{"items":{"format":"regex"}}`)
	check(t, "invalid", s.Validate("r", []byte(`["(("]`)), ErrInvalid)
	check(t, "too large", s.Validate("r", []byte(`["`+strings.Repeat(`.{1000}`, 5000)+`"]`)), ErrInvalid)
	check(t, "valid", s.Validate("r", []byte(`["^[a-z]+$", "\\d{3}"]`)), nil)

	one := `"` + strings.Repeat(`.{1000}`, 1000) + `"` // valid, and a million instructions compiled
	msg := "[" + one + strings.Repeat(","+one, DefaultMaxMessageBytes/len(one)-1) + "]"
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	check(t, "costly to compile", s.Validate("r", []byte(msg)), nil)
	runtime.ReadMemStats(&after)
	if mb := (after.TotalAlloc - before.TotalAlloc) >> 20; mb > 64 {
		t.Errorf("validating %d bytes of regular expressions allocated %d MiB", len(msg), mb)
	}

	// A schema's own patterns still work, and a bad one is still a load error.
	p := oneModel(t, `{"type":"string","pattern":"^[a-z]{2,3}$"}`)
	check(t, "pattern match", p.Validate("r", []byte(`"abc"`)), nil)
	check(t, "pattern mismatch", p.Validate("r", []byte(`"abcd"`)), ErrInvalid)
	if _, err := New(Options{Models: map[string]string{"M": `{"pattern":"x{1001}"}`}}); err == nil {
		t.Error("a pattern that does not parse was accepted")
	}
}
