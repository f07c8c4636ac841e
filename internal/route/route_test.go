package route

import (
	"strings"
	"testing"
)

// The examples from the API Gateway developer guide, evaluated against
// {"service":"chat","action":"join","data":{"room":"room1234"}}.
func TestEvalDocExamples(t *testing.T) {
	body := []byte(`{"service":"chat","action":"join","data":{"room":"room1234"}}`)
	tests := []struct{ expr, want string }{
		{`$request.body.action`, "join"},
		{`${request.body.action}`, "join"},
		{`${request.body.service}/${request.body.action}`, "chat/join"},
		{`${request.body.action}-${request.body.invalidPath}`, "join-"},
		{`action`, "action"},
		{`\$default`, "$default"},
		{`$request.body.data.room`, "room1234"},
		{`$request.body['data']['room']`, "room1234"},
		{`$request.body.data['room']`, "room1234"},
		{`v1.$request.body.action`, "v1.join"},
		{`$request.body.action.`, "join."},
		{`$request.body.action-x`, "join-x"},
		{`cost: 5$`, "cost: 5$"},
		{`\$request.body.action`, "$request.body.action"},
	}
	for _, tt := range tests {
		e, err := Compile(tt.expr, Selection)
		if err != nil {
			t.Fatalf("Compile(%q): %v", tt.expr, err)
		}
		got, ok := e.Eval(&Input{Body: body})
		if !ok || got != tt.want {
			t.Errorf("Eval(%q) = %q, %v; want %q", tt.expr, got, ok, tt.want)
		}
	}
}

func TestEvalStringification(t *testing.T) {
	body := []byte(`{"n":1,"f":1.50,"t":true,"z":false,"nil":null,"s":"x y","a":["item1","item2"],` +
		`"o":{"k":"v","n":2},"nested":[1,[2,3],{"a":null}],"key.with.dots":"dotted","arr":[{"id":"first"}]}`)
	tests := []struct{ expr, want string }{
		{`$request.body.n`, "1"},
		{`$request.body.f`, "1.50"},
		{`$request.body.t`, "true"},
		{`$request.body.z`, "false"},
		{`$request.body.nil`, ""},
		{`$request.body.s`, "x y"},
		{`$request.body.a`, "[item1, item2]"},
		{`$request.body.o`, "{k=v, n=2}"},
		{`$request.body.nested`, "[1, [2, 3], {a=}]"},
		{`$request.body['key.with.dots']`, "dotted"},
		{`$request.body.arr[0].id`, "first"},
		{`$request.body.a[1]`, "item2"},
		{`$request.body.a[9]`, ""},
	}
	for _, tt := range tests {
		e := MustCompile(tt.expr, Selection)
		if got, ok := e.Eval(&Input{Body: body}); !ok || got != tt.want {
			t.Errorf("Eval(%q) = %q, %v; want %q", tt.expr, got, ok, tt.want)
		}
	}
}

func TestEvalNonJSON(t *testing.T) {
	e := MustCompile(`$request.body.action`, Selection)
	for _, body := range []string{"", "hello", `{"action":"join"`, `{"action":}`, "\xff"} {
		if _, ok := e.Eval(&Input{Body: []byte(body)}); ok {
			t.Errorf("Eval on %q: ok = true, want false (not JSON)", body)
		}
	}
	// A static expression needs no JSON.
	if got, ok := MustCompile("static", Selection).Eval(&Input{Body: []byte("not json")}); !ok || got != "static" {
		t.Errorf("static expression on non-JSON = %q, %v", got, ok)
	}
}

func TestEvalTemplate(t *testing.T) {
	in := &Input{
		Body: []byte(`{"action":"whoami"}`),
		Context: func(name string) (string, bool) {
			m := map[string]string{"connectionId": "abc=", "identity.sourceIp": "127.0.0.1"}
			v, ok := m[name]
			return v, ok
		},
		StageVariables: map[string]string{"env": "dev"},
	}
	tests := []struct{ expr, want string }{
		{`$request.body`, `{"action":"whoami"}`},
		{`{"id":"$context.connectionId","ip":"${context.identity.sourceIp}"}`, `{"id":"abc=","ip":"127.0.0.1"}`},
		{`$stageVariables.env/${stageVariables.missing}`, "dev/"},
		{`$context.nope`, ""},
		{`You said: $request.body`, `You said: {"action":"whoami"}`},
	}
	for _, tt := range tests {
		e, err := Compile(tt.expr, Template)
		if err != nil {
			t.Fatalf("Compile(%q): %v", tt.expr, err)
		}
		if got, ok := e.Eval(in); !ok || got != tt.want {
			t.Errorf("Eval(%q) = %q, %v; want %q", tt.expr, got, ok, tt.want)
		}
	}
	// The whole body needs no JSON: a template can echo anything.
	if got, ok := MustCompile(`$request.body`, Template).Eval(&Input{Body: []byte("plain text")}); !ok || got != "plain text" {
		t.Errorf("echo of non-JSON = %q, %v", got, ok)
	}
}

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		expr    string
		allowed Vars
		wantErr string
	}{
		{`${request.body.action`, Selection, "unterminated"},
		{`$request.body`, Selection, "needs a path"},
		{`$context.connectionId`, Selection, "not allowed"},
		{`$stageVariables.x`, Selection, "not allowed"},
		{`$request.header.x`, Template, "unknown variable"},
		{`$default`, Selection, `\$default`},
		{`${request.body..a}`, Selection, "empty path segment"},
		{`$request.body..a`, Selection, "needs a path"},
		{`$request.body.a[x]`, Selection, "bad index"},
		{`${request.body.a[}`, Selection, "unterminated ["},
		{`${request.body}`, Selection, "needs a path"},
	}
	for _, tt := range tests {
		_, err := Compile(tt.expr, tt.allowed)
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("Compile(%q) error = %v, want containing %q", tt.expr, err, tt.wantErr)
		}
	}
}

func TestTableSelect(t *testing.T) {
	routes := map[string]string{
		Connect:       "connect",
		Disconnect:    "disconnect",
		Default:       "default",
		"sendMessage": "send",
		"chat/join":   "join",
		"1":           "one",
	}
	tests := []struct {
		expr, body       string
		wantKey, wantVal string
	}{
		{`$request.body.action`, `{"action":"sendMessage"}`, "sendMessage", "send"},
		{`$request.body.action`, `{"action":"SendMessage"}`, Default, "default"}, // exact match only
		{`$request.body.action`, `{"action":"sendMessage "}`, Default, "default"},
		{`$request.body.action`, `{"other":1}`, Default, "default"},
		{`$request.body.action`, `not json`, Default, "default"},
		{`$request.body.action`, `{"action":1}`, "1", "one"},
		{`$request.body.action`, `{"action":"$connect"}`, Default, "default"}, // predefined keys are not message routes
		{`${request.body.service}/${request.body.action}`, `{"service":"chat","action":"join"}`, "chat/join", "join"},
	}
	for _, tt := range tests {
		tab := NewTable(MustCompile(tt.expr, Selection), routes)
		key, val, ok := tab.Select([]byte(tt.body))
		if !ok || key != tt.wantKey || val != tt.wantVal {
			t.Errorf("%s on %s = %q, %q, %v; want %q, %q", tt.expr, tt.body, key, val, ok, tt.wantKey, tt.wantVal)
		}
	}

	noDefault := NewTable(MustCompile(`$request.body.action`, Selection), map[string]string{"a": "A"})
	if _, _, ok := noDefault.Select([]byte(`{"action":"b"}`)); ok {
		t.Error("no $default and no match: ok = true, want false")
	}
	if _, _, ok := noDefault.Select([]byte(`garbage`)); ok {
		t.Error("no $default and non-JSON: ok = true, want false")
	}
}

func TestValidateKey(t *testing.T) {
	for _, k := range []string{Connect, Disconnect, Default, "sendMessage", "chat/join"} {
		if err := ValidateKey(k); err != nil {
			t.Errorf("ValidateKey(%q) = %v", k, err)
		}
	}
	for _, k := range []string{"", "$custom", "$Default"} {
		if err := ValidateKey(k); err == nil {
			t.Errorf("ValidateKey(%q) = nil, want error", k)
		}
	}
}

func TestSelectDoesNotAllocate(t *testing.T) {
	tab := NewTable(MustCompile(`$request.body.action`, Selection), map[string]int{"sendMessage": 1, Default: 0})
	body := []byte(`{"action":"sendMessage","data":"hello"}`)
	allocs := testing.AllocsPerRun(100, func() { tab.Select(body) })
	if allocs != 0 {
		t.Errorf("Select allocated %v times per run, want 0", allocs)
	}
}

func FuzzCompileEval(f *testing.F) {
	for _, s := range []string{`$request.body.action`, `${request.body.a}-${request.body.b}`, `\$default`,
		`$request.body['a']`, `$request.body.a[0]`, `${`, `$`, `\`, `$context.x`} {
		f.Add(s, `{"action":"join","a":[1,{"b":"c"}]}`)
	}
	f.Fuzz(func(t *testing.T, expr, body string) {
		e, err := Compile(expr, Template)
		if err != nil {
			return
		}
		out, ok := e.Eval(&Input{Body: []byte(body), StageVariables: map[string]string{}})
		if e.IsStatic() && (!ok || out != staticText(e)) {
			t.Fatalf("static %q evaluated to %q, %v", expr, out, ok)
		}
		tab := NewTable(e, map[string]int{Default: 0, out: 1})
		if _, _, ok := tab.Select([]byte(body)); !ok {
			t.Fatalf("table with $default did not select for %q on %q", expr, body)
		}
	})
}

func staticText(e *Expr) string {
	var b strings.Builder
	for _, p := range e.parts {
		b.WriteString(p.text)
	}
	return b.String()
}
