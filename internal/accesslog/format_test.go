package accesslog

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/switchboardgw/switchboard/internal/awsapi"
)

func testAuth() *awsapi.Auth {
	return &awsapi.Auth{
		Custom: &awsapi.CustomAuth{
			PrincipalID: "user-7", IntegrationLatency: 12,
			Context: map[string]string{"tenant": "acme", "numKey": "1", "my-key": "dash"},
		},
		APIKey: "key-abc", APIKeyID: "kid1",
		AccountID: "123456789012", Caller: "AIDAEXAMPLE", User: "AIDAUSER", UserArn: "arn:aws:iam::123456789012:user/alice",
	}
}

func testEvent(t awsapi.EventType, requestID string, requestTime int64) *awsapi.Event {
	return &awsapi.Event{
		Type: t, RouteKey: "$default", ConnectionID: "R1kmxc2VNjMCFIA=", RequestID: requestID,
		ConnectedAt: 1705751697419, RequestTime: requestTime, Stage: "prod", APIID: "gy415nuibc",
		DomainName: "ws.example.com", SourceIP: "49.105.91.154", UserAgent: `Mozilla/5.0 "quoted"`,
		Auth: testAuth(),
	}
}

// testRecords returns a populated record of each event type: a CONNECT that
// went through every authorization step and the integration, a MESSAGE that
// failed validation, a DISCONNECT.
func testRecords() (connect, message, disconnect *Record) {
	ce := testEvent(awsapi.Connect, "R1knPH17NjMFftw=", 1705751697420)
	ce.RouteKey = "$connect"
	connect = &Record{
		Event: ce, Status: 200,
		Authenticate: Step{Latency: 3 * time.Millisecond, Status: 200},
		Authorize:    Step{Latency: 1500 * time.Microsecond, Status: 200},
		Authorizer: AuthorizerStep{
			Step:               Step{Latency: 15 * time.Millisecond, Status: 200},
			IntegrationLatency: 12 * time.Millisecond, IntegrationStatus: 200, RequestID: "auth-req-1",
		},
		Integration: IntegrationStep{
			Step:              Step{Latency: 25 * time.Millisecond, Status: 200},
			IntegrationStatus: 200, RequestID: "lambda-req-1",
		},
	}

	me := testEvent(awsapi.Message, "R1knQ0W7tjMFd4Q=", 1705751700453)
	me.RouteKey = "sendMessage"
	me.MessageID = "R1knPc2ntjMCFIA="
	message = &Record{
		Event: me, Status: 400,
		Error: ErrorInfo{
			Message: "Bad request body", ResponseType: "BAD_REQUEST_BODY",
			ValidationError: `[object has missing required properties (["action"])]`,
		},
	}

	de := testEvent(awsapi.Disconnect, "R1koAHvWtjMFd4Q=", 1705751760001)
	de.RouteKey = "$disconnect"
	de.MessageID = "ignored"
	de.DisconnectStatusCode = 1001
	de.DisconnectReason = "Going away"
	disconnect = &Record{
		Event: de, Status: 200,
		Integration: IntegrationStep{
			Step:              Step{Latency: 5 * time.Millisecond, Status: 500, Error: "Function\nfailed"},
			IntegrationStatus: 200, RequestID: "lambda-req-3",
		},
	}
	return connect, message, disconnect
}

// render renders $context.NAME alone, in a text format.
func render(t *testing.T, name string, rec *Record) string {
	t.Helper()
	f, err := Compile("$context.requestId|${context." + name + "}")
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	line := string(f.Append(nil, rec))
	_, v, _ := strings.Cut(line, "|")
	return v
}

func TestEveryVariable(t *testing.T) {
	c, m, d := testRecords()
	ct, mt, dt := awsapi.RequestTimeCLF(c.Event.RequestTime), awsapi.RequestTimeCLF(m.Event.RequestTime), awsapi.RequestTimeCLF(d.Event.RequestTime)
	// name -> CONNECT, MESSAGE, DISCONNECT
	cases := map[string][3]string{
		"apiId":             {"gy415nuibc", "gy415nuibc", "gy415nuibc"},
		"connectedAt":       {"1705751697419", "1705751697419", "1705751697419"},
		"connectionId":      {"R1kmxc2VNjMCFIA=", "R1kmxc2VNjMCFIA=", "R1kmxc2VNjMCFIA="},
		"domainName":        {"ws.example.com", "ws.example.com", "ws.example.com"},
		"eventType":         {"CONNECT", "MESSAGE", "DISCONNECT"},
		"extendedRequestId": {"R1knPH17NjMFftw=", "R1knQ0W7tjMFd4Q=", "R1koAHvWtjMFd4Q="},
		"requestId":         {"R1knPH17NjMFftw=", "R1knQ0W7tjMFd4Q=", "R1koAHvWtjMFd4Q="},
		"messageId":         {"-", "R1knPc2ntjMCFIA=", "-"},
		"requestTime":       {ct, mt, dt},
		"requestTimeEpoch":  {"1705751697420", "1705751700453", "1705751760001"},
		"routeKey":          {"$connect", "sendMessage", "$disconnect"},
		"stage":             {"prod", "prod", "prod"},
		"status":            {"200", "400", "200"},

		"identity.sourceIp":  {"49.105.91.154", "49.105.91.154", "49.105.91.154"},
		"identity.userAgent": {`Mozilla/5.0 \"quoted\"`, `Mozilla/5.0 \"quoted\"`, `Mozilla/5.0 \"quoted\"`},
		"identity.accountId": {"123456789012", "123456789012", "123456789012"},
		"identity.apiKey":    {"key-abc", "key-abc", "key-abc"},
		"identity.apiKeyId":  {"kid1", "kid1", "kid1"},
		"identity.caller":    {"AIDAEXAMPLE", "AIDAEXAMPLE", "AIDAEXAMPLE"},
		"identity.user":      {"AIDAUSER", "AIDAUSER", "AIDAUSER"},
		"identity.userArn": {"arn:aws:iam::123456789012:user/alice", "arn:aws:iam::123456789012:user/alice",
			"arn:aws:iam::123456789012:user/alice"},
		"identity.cognitoAuthenticationProvider": {"-", "-", "-"},
		"identity.cognitoAuthenticationType":     {"-", "-", "-"},
		"identity.cognitoIdentityId":             {"-", "-", "-"},
		"identity.cognitoIdentityPoolId":         {"-", "-", "-"},
		"identity.principalOrgId":                {"-", "-", "-"},

		"authorizer.principalId": {"user-7", "user-7", "user-7"},
		"authorizer.tenant":      {"acme", "acme", "acme"},
		"authorizer.numKey":      {"1", "1", "1"},
		"authorizer.my-key":      {"dash", "dash", "dash"},
		"authorizer.absent":      {"-", "-", "-"},

		"error.message":               {"-", "Bad request body", "-"},
		"error.messageString":         {`"-"`, `"Bad request body"`, `"-"`},
		"error.responseType":          {"-", "BAD_REQUEST_BODY", "-"},
		"error.validationErrorString": {"-", `[object has missing required properties ([\"action\"])]`, "-"},

		"authenticate.error":   {"-", "-", "-"},
		"authenticate.latency": {"3", "-", "-"},
		"authenticate.status":  {"200", "-", "-"},
		"authorize.error":      {"-", "-", "-"},
		"authorize.latency":    {"1", "-", "-"},
		"authorize.status":     {"200", "-", "-"},

		"authorizer.error":              {"-", "-", "-"},
		"authorizer.latency":            {"15", "-", "-"},
		"authorizer.status":             {"200", "-", "-"},
		"authorizer.integrationLatency": {"12", "-", "-"},
		"authorizer.integrationStatus":  {"200", "-", "-"},
		"authorizer.requestId":          {"auth-req-1", "-", "-"},

		"integration.error":             {"-", "-", `Function\nfailed`},
		"integration.integrationStatus": {"200", "-", "200"},
		"integration.latency":           {"25", "-", "5"},
		"integration.requestId":         {"lambda-req-1", "-", "lambda-req-3"},
		"integration.status":            {"200", "-", "500"},
		"integrationLatency":            {"25", "-", "5"},
		"integrationErrorMessage":       {"-", "-", `Function\nfailed`},
		"awsEndpointRequestId":          {"lambda-req-1", "-", "lambda-req-3"},
		"integrationStatus":             {"200", "-", "500"},

		"disconnectStatusCode": {"-", "-", "1001"},
		"disconnectReason":     {"-", "-", "Going away"},

		"waf.error":   {"-", "-", "-"},
		"waf.latency": {"-", "-", "-"},
		"waf.status":  {"-", "-", "-"},
	}
	for name := range variables {
		if _, ok := cases[name]; !ok {
			t.Errorf("no test case for $context.%s", name)
		}
	}
	for name, want := range cases {
		for i, rec := range []*Record{c, m, d} {
			if got := render(t, name, rec); got != want[i] {
				t.Errorf("$context.%s on %s = %q, want %q", name, rec.Event.Type, got, want[i])
			}
		}
	}
}

func TestAuthorizerIntegrationLatencyFallsBackToTheEvent(t *testing.T) {
	c, _, _ := testRecords()
	c.Authorizer.IntegrationLatency = 0
	c.Event.Auth.Custom.IntegrationLatency = 34
	if got := render(t, "authorizer.integrationLatency", c); got != "34" {
		t.Errorf("got %q, want the event's 34", got)
	}
}

func TestJWTClaims(t *testing.T) {
	c, _, _ := testRecords()
	c.Event.Auth = &awsapi.Auth{JWT: &awsapi.JWTAuth{Claims: map[string]string{"sub": "alice", "email": "a@example.com"}}}
	for name, want := range map[string]string{
		"authorizer.claims.sub": "alice", "authorizer.claims.email": "a@example.com",
		"authorizer.claims.absent": "-", "authorizer.principalId": "-", "authorizer.sub": "-",
	} {
		if got := render(t, name, c); got != want {
			t.Errorf("$context.%s = %q, want %q", name, got, want)
		}
	}
}

func TestNoEventNoValues(t *testing.T) {
	names := append(slices.Clone(variableNames), "authorizer.tenant")
	f := mustParse(t, "$context.requestId ${context."+strings.Join(names, "} ${context.")+"}")
	fields := strings.Split(string(f.Append(nil, &Record{})), " ")
	if fields[0] != "-" {
		t.Errorf("requestId of an empty record = %q, want -", fields[0])
	}
	for i, name := range names {
		want := "-"
		if name == "error.messageString" {
			want = `"-"`
		}
		if got := fields[i+1]; got != want {
			t.Errorf("$context.%s of an empty record = %q, want %q", name, got, want)
		}
	}
}

func mustParse(t testing.TB, src string) *Format {
	t.Helper()
	f, err := parse(src)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestCommonFormats(t *testing.T) {
	c, m, _ := testRecords()
	f := MustCompile(DefaultFormat)
	if !f.JSON() {
		t.Fatal("DefaultFormat is not a JSON format")
	}
	line := f.Append(nil, c)
	var got map[string]string
	if err := json.Unmarshal(line, &got); err != nil {
		t.Fatalf("%v: %s", err, line)
	}
	want := map[string]string{
		"requestId": "R1knPH17NjMFftw=", "ip": "49.105.91.154", "caller": "AIDAEXAMPLE", "user": "AIDAUSER",
		"requestTime": awsapi.RequestTimeCLF(c.Event.RequestTime), "eventType": "CONNECT",
		"routeKey": "$connect", "status": "200", "connectionId": "R1kmxc2VNjMCFIA=",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}

	clf := MustCompile(`$context.identity.sourceIp - $context.identity.caller [$context.requestTime] "$context.eventType $context.routeKey" $context.status $context.requestId "$context.identity.userAgent"` + "\n")
	if clf.JSON() {
		t.Fatal("a CLF format is not JSON")
	}
	want2 := `49.105.91.154 - AIDAEXAMPLE [` + awsapi.RequestTimeCLF(m.Event.RequestTime) +
		`] "MESSAGE sendMessage" 400 R1knQ0W7tjMFd4Q= "Mozilla/5.0 \"quoted\""`
	if got := string(clf.Append(nil, m)); got != want2 {
		t.Errorf("CLF line\n got %s\nwant %s", got, want2)
	}
}

func TestJSONStaysValid(t *testing.T) {
	nasty := "a\"b\\c\nd\re\tf\x00g\x7fh\xffi\u2028j </script> ünïcødé"
	c, _, _ := testRecords()
	c.Event.UserAgent = nasty
	c.Event.RouteKey = nasty
	c.Event.Auth.Custom.Context["tenant"] = nasty
	c.Error.Message = nasty
	c.Integration.Latency = 0 // missing, outside a string: null
	f := MustCompile(`{"requestId":"$context.requestId","ua":"$context.identity.userAgent","t":"x $context.authorizer.tenant y",` +
		`"route":$context.routeKey,"status":$context.status,"lat":$context.integrationLatency,"epoch":$context.requestTimeEpoch,` +
		`"err":$context.error.messageString,"errIn":"$context.error.messageString","time":$context.requestTime,"waf":$context.waf.status,` +
		`"q\"$context.stage":"\\$context.stage"}`)
	line := f.Append(nil, c)
	var got map[string]any
	if err := json.Unmarshal(line, &got); err != nil {
		t.Fatalf("%v: %s", err, line)
	}
	clean := strings.ToValidUTF8(nasty, "\ufffd")
	want := map[string]any{
		"requestId": "R1knPH17NjMFftw=", "ua": clean, "t": "x " + clean + " y", "route": clean,
		"status": 200.0, "lat": nil, "epoch": 1705751697420.0, "err": clean, "errIn": `"` + clean + `"`,
		"time": awsapi.RequestTimeCLF(c.Event.RequestTime), "waf": nil, `q"prod`: `\prod`,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %#v, want %#v", k, got[k], v)
		}
	}
	if len(got) != len(want) {
		t.Errorf("got %d keys, want %d: %s", len(got), len(want), line)
	}
}

func TestTextStaysOneLine(t *testing.T) {
	_, _, d := testRecords()
	d.Event.DisconnectReason = "bye\r\nInjected: line"
	f := MustCompile("$context.requestId $context.disconnectReason $context.error.messageString $context.integration.error")
	d.Error.Message = `say "hi"`
	got := string(f.Append(nil, d))
	want := `R1koAHvWtjMFd4Q= bye\r\nInjected: line "say \"hi\"" Function\nfailed`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestCompileErrors(t *testing.T) {
	for _, tc := range []struct{ format, want string }{
		{"", "must include $context.requestId"},
		{`{"ip":"$context.identity.sourceIp"}`, "must include $context.requestId"},
		{"$context.requestIdXxx", "unknown variable $context.requestIdXxx at offset 0 (did you mean $context.requestId?)"},
		{"$context.requestId $context.requestID", "did you mean $context.requestId?"},
		{"$context.requestId $context.identity.sourceIP", "did you mean $context.identity.sourceIp?"},
		{"$context.requestId $context.sourceIp", "unknown variable $context.sourceIp at offset 19 (did you mean $context.identity.sourceIp?)"},
		{"$context.requestId $context.integration.latncy", "did you mean $context.integration.latency?"},
		{"$context.requestId $context.authorize.principalId", "did you mean $context.authorizer.principalId?"},
		{"$context.requestId $context.bogusThing", "unknown variable $context.bogusThing at offset 19"},
		{"$context.requestId $context.error", "(did you mean $context.error.message, $context.error.messageString, $context.error.responseType or $context.error.validationErrorString?)"},
		{"$context.requestId $context.latency", "(did you mean $context.authenticate.latency, $context.authorize.latency, $context.authorizer.latency or $context.integration.latency?)"},
		{"$context.requestId $context.identity", "$context.identity.accountId, $context.identity.apiKey, $context.identity.apiKeyId, $context.identity.caller, ...?)"},
		{"$context.requestId $contxt.stage", "unknown variable $contxt.stage at offset 19 (did you mean $context.stage?)"},
		{"$context.requestId $stageVariables.x", "unknown variable $stageVariables.x at offset 19: access-log formats have only $context variables"},
		{"$context.requestId $context", "$context at offset 19 needs a variable name"},
		{"$context.requestId $context.httpMethod", "$context.httpMethod at offset 19 is a REST/HTTP API variable; WebSocket APIs do not have it"},
		{"$context.requestId $context.identity.clientCert.pem", "REST/HTTP API variable"},
		{"$context.requestId ${context.stage", "unterminated ${ at offset 19"},
		{"$context.requestId ${context.}", "unknown variable $context."},
		{"$context.requestId ${context.authorizer.}", "unknown variable $context.authorizer."},
		{"$context.requestId\n$context.stage", "single line: line break at offset 18"},
		{"$context.requestId\r$context.stage", "single line"},
		{"$context.requestId\n\n", "single line"},
	} {
		_, err := Compile(tc.format)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Compile(%q) = %v, want an error containing %q", tc.format, err, tc.want)
		}
	}
	// Variables that never have a value are not suggested.
	if _, err := Compile("$context.requestId $context.wafStatus"); err == nil || strings.Contains(err.Error(), "did you mean") {
		t.Errorf("$context.wafStatus: %v, want an error without a suggestion", err)
	}
}

func TestCompileAccepts(t *testing.T) {
	for _, tc := range []struct{ format, want string }{
		{"$context.requestId", "R1knPH17NjMFftw="},
		{"$context.extendedRequestId", "R1knPH17NjMFftw="},
		{"$context.requestId\n", "R1knPH17NjMFftw="},
		{"$context.requestId\r\n", "R1knPH17NjMFftw="},
		{"${context.requestId}x", "R1knPH17NjMFftw=x"},
		{"$context.requestId.", "R1knPH17NjMFftw=."},
		{"$context.requestId.$context.stage", "R1knPH17NjMFftw=.prod"},
		{"$5 $ $$ $context.requestId$", "$5 $ $$ R1knPH17NjMFftw=$"},
		{"[$context.requestId]", "[R1knPH17NjMFftw=]"},
	} {
		c, _, _ := testRecords()
		f, err := Compile(tc.format)
		if err != nil {
			t.Errorf("Compile(%q): %v", tc.format, err)
			continue
		}
		if got := string(f.Append(nil, c)); got != tc.want {
			t.Errorf("%q renders %q, want %q", tc.format, got, tc.want)
		}
		if f.String() != tc.format {
			t.Errorf("String() = %q, want %q", f.String(), tc.format)
		}
	}
}

func TestSizeLimit(t *testing.T) {
	base := "$context.requestId "
	ok := base + strings.Repeat("x", MaxFormatBytes-len(base))
	if _, err := Compile(ok); err != nil {
		t.Errorf("a %d-byte format: %v", len(ok), err)
	}
	if _, err := Compile(ok + "x"); err == nil || !strings.Contains(err.Error(), "format is 3073 bytes; the limit is 3072") {
		t.Errorf("a 3073-byte format: %v", err)
	}
}

func TestRequestTimeCLF(t *testing.T) {
	for _, ms := range []int64{1, 1705751697419, 946684799999, 4102444800000, 253402300799999, 253402300800000, -62135596800001} {
		rec := &Record{Event: &awsapi.Event{RequestID: "r", RequestTime: ms}}
		if got, want := render(t, "requestTime", rec), awsapi.RequestTimeCLF(ms); got != want {
			t.Errorf("requestTime(%d) = %q, want %q", ms, got, want)
		}
	}
}

func TestAppendDoesNotAllocate(t *testing.T) {
	f := MustCompile(benchFormat)
	all := mustParse(t, everyVariableFormat())
	c, m, d := testRecords()
	buf := make([]byte, 0, 16<<10)
	for _, rec := range []*Record{c, m, d, {}} {
		if allocs := testing.AllocsPerRun(200, func() { buf = f.Append(buf[:0], rec) }); allocs != 0 {
			t.Errorf("Append (10 variables) on %+v: %v allocations per line, want 0", rec.Event, allocs)
		}
		if allocs := testing.AllocsPerRun(200, func() { buf = all.Append(buf[:0], rec) }); allocs != 0 {
			t.Errorf("Append (every variable) on %+v: %v allocations per line, want 0", rec.Event, allocs)
		}
	}
}

// everyVariableFormat is a JSON format (over MaxFormatBytes) with every
// variable both inside a string and outside.
func everyVariableFormat() string {
	var b strings.Builder
	b.WriteString(`{"requestId":"$context.requestId"`)
	for _, name := range append(slices.Clone(variableNames), "authorizer.tenant", "authorizer.claims.sub") {
		b.WriteString(`,"` + name + `":"${context.` + name + `}","` + name + `!":${context.` + name + `}`)
	}
	b.WriteString("}")
	return b.String()
}

func TestEveryVariableJSONIsValid(t *testing.T) {
	f := mustParse(t, everyVariableFormat())
	c, m, d := testRecords()
	jwt, _, _ := testRecords()
	jwt.Event.Auth = &awsapi.Auth{JWT: &awsapi.JWTAuth{Claims: map[string]string{"sub": "alice"}}}
	for _, rec := range []*Record{c, m, d, jwt, {}} {
		if line := f.Append(nil, rec); !json.Valid(line) {
			t.Errorf("invalid JSON: %s", line)
		}
	}
}

func FuzzCompile(f *testing.F) {
	f.Add(DefaultFormat)
	f.Add(`$context.identity.sourceIp [$context.requestTime] "$context.routeKey" $context.status $context.requestId`)
	f.Add(`{"r":"$context.requestId","s":$context.status,"e":$context.error.messageString,"a":"${context.authorizer.x-y}"}`)
	f.Add(`{"a":"\"$context.requestId\\"}`)
	c, m, d := testRecords()
	c.Event.UserAgent = "a\"b\\c\nd\x00\xff"
	m.Error.Message = "x\r\ny\"z"
	f.Fuzz(func(t *testing.T, src string) {
		fm, err := Compile(src)
		if err != nil {
			return
		}
		for _, rec := range []*Record{c, m, d, {}} {
			line := fm.Append(nil, rec)
			if strings.ContainsAny(string(line), "\r\n") {
				t.Fatalf("%q renders a line break: %q", src, line)
			}
			// A format that is itself valid JSON (its variables all
			// inside strings) renders valid JSON.
			if fm.JSON() && json.Valid([]byte(strings.TrimSuffix(src, "\n"))) && !json.Valid(line) {
				t.Fatalf("%q renders invalid JSON: %s", src, line)
			}
		}
	})
}

// FuzzHostileValues puts one arbitrary string in every string a record
// carries and renders every variable, inside JSON strings and outside them:
// the line must be valid JSON, one line, and give the value back (each
// invalid byte replaced).
func FuzzHostileValues(f *testing.F) {
	for _, s := range []string{"", `"`, `\`, "\n\r\t\x00\x1f\x7f", "\xff\xfe", "\u2028\u2029", "\xed\xa0\x80", `\u0000`, "-", "ü\xc3"} {
		f.Add(s)
	}
	all := mustParse(f, everyVariableFormat())
	one := MustCompile(`{"requestId":"$context.requestId","ua":"$context.identity.userAgent","ua!":$context.identity.userAgent}`)
	f.Fuzz(func(t *testing.T, v string) {
		c, m, d := testRecords()
		for _, rec := range []*Record{c, m, d} {
			e := rec.Event
			e.RouteKey, e.UserAgent, e.SourceIP, e.DisconnectReason, e.DomainName = v, v, v, v, v
			e.Auth.Custom.Context["tenant"], e.Auth.Custom.PrincipalID, e.Auth.Caller = v, v, v
			rec.Error = ErrorInfo{Message: v, ResponseType: v, ValidationError: v}
			rec.Integration.Error, rec.Authorizer.Error, rec.Authorizer.RequestID = v, v, v
			line := all.Append(nil, rec)
			if !json.Valid(line) || strings.ContainsAny(string(line), "\r\n") {
				t.Fatalf("value %q: not one line of JSON: %s", v, line)
			}
		}
		var got map[string]any
		if err := json.Unmarshal(one.Append(nil, c), &got); err != nil {
			t.Fatalf("value %q: %v", v, err)
		}
		want := any(string([]rune(v))) // each invalid byte becomes U+FFFD, as encoding/json does
		if v == "" {
			want = "-"
		}
		if got["ua"] != want || (v != "" && got["ua!"] != want) || (v == "" && got["ua!"] != nil) {
			t.Fatalf("value %q rendered as %#v and %#v", v, got["ua"], got["ua!"])
		}
	})
}
