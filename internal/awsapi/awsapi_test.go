package awsapi

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

func baseEvent(t EventType) Event {
	return Event{
		Type: t, RouteKey: "$default", ConnectionID: "R1kmxc2VNjMCFIA=", RequestID: "R1knPH17NjMFftw=",
		ConnectedAt: 1705751697419, RequestTime: 1705751700453, Stage: "prod", APIID: "gy415nuibc",
		DomainName: "127.0.0.1:8080", SourceIP: "49.105.91.154", UserAgent: "Mozilla/5.0 \"quoted\"",
	}
}

func decode(t *testing.T, e *Event) (events.APIGatewayWebsocketProxyRequest, map[string]any) {
	t.Helper()
	raw := e.AppendJSON(nil)
	var typed events.APIGatewayWebsocketProxyRequest
	if err := json.Unmarshal(raw, &typed); err != nil {
		t.Fatalf("event is not valid JSON for aws-lambda-go: %v\n%s", err, raw)
	}
	var generic map[string]any
	if err := json.Unmarshal(raw, &generic); err != nil {
		t.Fatal(err)
	}
	return typed, generic
}

func TestMessageEvent(t *testing.T) {
	e := baseEvent(Message)
	e.MessageID = "R1knPc2ntjMCFIA="
	e.Body = []byte("{\r\n\t\"a\": 1\r\n}")
	typed, generic := decode(t, &e)
	rc := typed.RequestContext
	if rc.EventType != "MESSAGE" || rc.RouteKey != "$default" || rc.MessageID != "R1knPc2ntjMCFIA=" ||
		rc.ConnectionID != e.ConnectionID || rc.RequestID != e.RequestID || rc.ExtendedRequestID != e.RequestID ||
		rc.RequestTime != "20/Jan/2024:11:55:00 +0000" || rc.RequestTimeEpoch != 1705751700453 ||
		rc.ConnectedAt != 1705751697419 || rc.MessageDirection != "IN" || rc.Stage != "prod" || rc.APIID != "gy415nuibc" ||
		rc.DomainName != "127.0.0.1:8080" || rc.Identity.SourceIP != "49.105.91.154" || rc.Identity.UserAgent != e.UserAgent {
		t.Errorf("requestContext = %+v", rc)
	}
	if typed.Body != string(e.Body) || typed.IsBase64Encoded {
		t.Errorf("body = %q, base64 %v", typed.Body, typed.IsBase64Encoded)
	}
	for _, absent := range []string{"headers", "multiValueHeaders", "queryStringParameters", "stageVariables"} {
		if _, ok := generic[absent]; ok {
			t.Errorf("MESSAGE event has %q; API Gateway sends none", absent)
		}
	}
	ctx := generic["requestContext"].(map[string]any)
	for _, absent := range []string{"disconnectStatusCode", "disconnectReason", "authorizer", "error"} {
		if _, ok := ctx[absent]; ok {
			t.Errorf("MESSAGE requestContext has %q", absent)
		}
	}
}

func TestConnectEvent(t *testing.T) {
	e := baseEvent(Connect)
	e.RouteKey = "$connect"
	e.Headers = []Header{{"Host", "127.0.0.1:8080"}, {"Sec-WebSocket-Key", "k"}, {"x-custom", "1"}, {"X-Custom", "2"}}
	e.Query = url.Values{"token": {"a", "b"}, "room": {"lobby"}}
	e.StageVariables = map[string]string{"backend": "127.0.0.1:9000"}
	typed, generic := decode(t, &e)
	if typed.RequestContext.EventType != "CONNECT" {
		t.Errorf("eventType %q", typed.RequestContext.EventType)
	}
	if typed.Headers["Sec-WebSocket-Key"] != "k" || typed.Headers["x-custom"] != "2" || typed.Headers["Host"] != "127.0.0.1:8080" {
		t.Errorf("headers keep the client's spelling, last value wins: %v", typed.Headers)
	}
	if got := typed.MultiValueHeaders["x-custom"]; len(got) != 2 || got[0] != "1" {
		t.Errorf("multiValueHeaders[x-custom] = %v", got)
	}
	if typed.QueryStringParameters["token"] != "b" || len(typed.MultiValueQueryStringParameters["token"]) != 2 || typed.QueryStringParameters["room"] != "lobby" {
		t.Errorf("query = %v / %v", typed.QueryStringParameters, typed.MultiValueQueryStringParameters)
	}
	if typed.StageVariables["backend"] != "127.0.0.1:9000" {
		t.Errorf("stageVariables = %v", typed.StageVariables)
	}
	if _, ok := generic["body"]; ok {
		t.Error("CONNECT event has a body")
	}
	if _, ok := generic["requestContext"].(map[string]any)["messageId"]; ok {
		t.Error("CONNECT event has a messageId")
	}

	e.Query = nil
	_, generic = decode(t, &e)
	if _, ok := generic["queryStringParameters"]; ok {
		t.Error("queryStringParameters present without a query string")
	}
}

func TestDisconnectEvent(t *testing.T) {
	e := baseEvent(Disconnect)
	e.RouteKey = "$disconnect"
	e.DisconnectStatusCode = 1001
	e.DisconnectReason = "Going away"
	typed, _ := decode(t, &e)
	rc := typed.RequestContext
	if rc.EventType != "DISCONNECT" || rc.DisconnectStatusCode != 1001 || rc.DisconnectReason == nil || *rc.DisconnectReason != "Going away" {
		t.Errorf("requestContext = %+v", rc)
	}
	want := map[string]string{"Host": "127.0.0.1:8080", "x-api-key": "", "X-Forwarded-For": "", "x-restapi": ""}
	if len(typed.Headers) != len(want) {
		t.Errorf("headers = %v, want %v", typed.Headers, want)
	}
	for k, v := range want {
		if got, ok := typed.Headers[k]; !ok || got != v {
			t.Errorf("headers[%q] = %q, %v", k, got, ok)
		}
	}
}

func TestBinaryMessageEvent(t *testing.T) {
	e := baseEvent(Message)
	e.Body = []byte{0xff, 0x00, 0x10}
	e.IsBase64Encoded = true
	typed, _ := decode(t, &e)
	if !typed.IsBase64Encoded || typed.Body != "/wAQ" {
		t.Errorf("binary body = %q base64 %v", typed.Body, typed.IsBase64Encoded)
	}
}

func TestErrorFrameBytes(t *testing.T) {
	got := string(AppendErrorFrame(nil, FrameForbidden, "XDmENcnwIE0CFEQ=", "XDmGEE2RoE0FRdQ="))
	want := `{"message": "Forbidden", "connectionId":"XDmENcnwIE0CFEQ=", "requestId":"XDmGEE2RoE0FRdQ="}`
	if got != want {
		t.Errorf("frame = %s\nwant    %s", got, want)
	}
}

func TestParseProxyResponse(t *testing.T) {
	tests := []struct {
		in         string
		wantStatus int
		wantBody   string
		wantErr    bool
	}{
		{`{"statusCode":200,"body":"hi"}`, 200, "hi", false},
		{` {"statusCode":403} `, 403, "", false},
		{`{}`, 200, "", false},
		{`null`, 200, "", false},
		{`{"statusCode":200,"body":"aGk=","isBase64Encoded":true}`, 200, "hi", false},
		{`{"statusCode":200,"body":"!!","isBase64Encoded":true}`, 200, "", true},
		{`"just a string"`, 0, "", true},
		{`not json`, 0, "", true},
		{``, 0, "", true},
		{`{"statusCode":"200"}`, 0, "", true},
	}
	for _, tt := range tests {
		r, err := ParseProxyResponse([]byte(tt.in))
		if err == nil {
			var body []byte
			body, err = r.BodyBytes()
			if err == nil && (r.StatusCode != tt.wantStatus || string(body) != tt.wantBody) {
				t.Errorf("%s: status %d body %q", tt.in, r.StatusCode, body)
			}
		}
		if (err != nil) != tt.wantErr {
			t.Errorf("%s: err = %v, wantErr %v", tt.in, err, tt.wantErr)
		}
	}
}

func TestParseLambdaURI(t *testing.T) {
	fn := "arn:aws:lambda:us-east-1:000000000000:function:chat-connect"
	for _, uri := range []string{fn, "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/" + fn + "/invocations"} {
		got, err := ParseLambdaURI(uri)
		if err != nil || got.ARN != fn || got.Region != "us-east-1" {
			t.Errorf("ParseLambdaURI(%q) = %+v, %v", uri, got, err)
		}
	}
	if got, err := ParseLambdaURI(fn + ":live"); err != nil || got.ARN != fn+":live" {
		t.Errorf("qualified ARN: %+v, %v", got, err)
	}
	for _, bad := range []string{"arn:aws:lambda:us-east-1:1:fn:x", "arn:aws:s3:::bucket", "arn:aws:apigateway:us-east-1:lambda:path/functions/x",
		"arn:aws:lambda::1:function:x", "arn:aws:lambda:us-east-1:1:function:", "http://x"} {
		if _, err := ParseLambdaURI(bad); err == nil {
			t.Errorf("ParseLambdaURI(%q) accepted", bad)
		}
	}
}

func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "plain", "quote\" backslash\\ nl\n", "\x00\x1f", "\xff\xfe", "日本\u2028"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ours := AppendJSONString(nil, s)
		var back string
		if err := json.Unmarshal(ours, &back); err != nil {
			t.Fatalf("%q encoded to invalid JSON %s: %v", s, ours, err)
		}
		std, _ := json.Marshal(s)
		var stdBack string
		_ = json.Unmarshal(std, &stdBack)
		if back != stdBack {
			t.Fatalf("%q round-trips to %q, encoding/json gives %q", s, back, stdBack)
		}
		if strings.ContainsRune(string(ours), '\n') {
			t.Fatalf("raw newline in %s", ours)
		}
	})
}
