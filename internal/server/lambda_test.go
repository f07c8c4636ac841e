package server_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/gobwas/ws"

	sbt "github.com/switchboardgw/switchboard/internal/switchboardtest"
)

const lambdaARN = "arn:aws:lambda:us-east-1:000000000000:function:chat"

const lambdaYAML = sbt.ManagementYAML + `
api: {id: a1b2c3d4e5, name: chat}
stage:
  name: prod
  variables: {fn: chat}
integrations:
  fn: {type: AWS_PROXY, uri: "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:000000000000:function:${stageVariables.fn}/invocations", timeoutInMillis: 3000}
routes:
  $connect: {integration: fn}
  $disconnect: {integration: fn}
  $default: {integration: fn, routeResponseSelectionExpression: $default}
  oneway: {integration: fn}
`

func decodeEvent(t *testing.T, payload []byte) events.APIGatewayWebsocketProxyRequest {
	t.Helper()
	var ev events.APIGatewayWebsocketProxyRequest
	if err := json.Unmarshal(payload, &ev); err != nil {
		t.Fatalf("event is not an APIGatewayWebsocketProxyRequest: %v\n%s", err, payload)
	}
	return ev
}

// lambdaChat answers like a typical handler: $connect checks a token,
// messages are echoed with a prefix, "boom" throws, "slow" sleeps past the
// integration timeout, "garbage" returns non-JSON.
func lambdaChat(inv sbt.Invocation) sbt.LambdaReply {
	var ev events.APIGatewayWebsocketProxyRequest
	json.Unmarshal(inv.Payload, &ev)
	switch ev.RequestContext.RouteKey {
	case "$connect":
		switch ev.QueryStringParameters["token"] {
		case "ok":
			// Like AWS's subprotocol sample: echo the first offered protocol.
			if offered := ev.Headers["Sec-WebSocket-Protocol"]; offered != "" {
				first, _, _ := strings.Cut(offered, ",")
				return sbt.LambdaReply{Payload: `{"statusCode":200,"headers":{"Sec-WebSocket-Protocol":"` + first + `"},"body":"dropped"}`}
			}
			return sbt.LambdaReply{Payload: `{"statusCode":200,"body":"dropped"}`}
		case "throw":
			return sbt.LambdaReply{Payload: `{"errorMessage":"kaput","errorType":"Error"}`, FunctionError: "Unhandled"}
		case "slow":
			return sbt.LambdaReply{Payload: `{"statusCode":200}`, Delay: 10 * time.Second}
		case "nothing":
			return sbt.LambdaReply{Payload: `null`}
		}
		return sbt.LambdaReply{Payload: `{"statusCode":401}`}
	case "$disconnect":
		return sbt.LambdaReply{Payload: `{"statusCode":200}`}
	}
	switch ev.Body {
	case "boom":
		return sbt.LambdaReply{Payload: `{"errorMessage":"boom","errorType":"Error"}`, FunctionError: "Unhandled"}
	case "slow":
		return sbt.LambdaReply{Payload: `{"statusCode":200,"body":"late"}`, Delay: 10 * time.Second}
	case "garbage":
		return sbt.LambdaReply{Payload: `<html>`}
	}
	reply, _ := json.Marshal(map[string]any{"statusCode": 200, "body": "lambda:" + ev.Body})
	return sbt.LambdaReply{Payload: string(reply)}
}

func TestLambdaIntegration(t *testing.T) {
	fake := sbt.NewFakeLambda(t, lambdaChat)
	ts := sbt.RunServer(t, lambdaYAML)

	// $connect: the handshake waits for the function, whose 2xx accepts and
	// whose Sec-WebSocket-Protocol header is honoured.
	hdr := http.Header{"X-Api-Key": {"k1"}, "User-Agent": {"switchboard-test/1.0"}}
	c, err := sbt.Dial(t, ts.URL+"?token=ok&room=a&room=b", sbt.DialOptions{Header: hdr, Protocols: []string{"chat.v1", "chat.v2"}})
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	if c.Protocol != "chat.v1" {
		t.Errorf("subprotocol %q, want chat.v1 from the $connect response", c.Protocol)
	}
	calls := fake.WaitCalls(t, 1)
	if calls[0].Function != lambdaARN {
		t.Errorf("invoked %q, want %q", calls[0].Function, lambdaARN)
	}
	conn := decodeEvent(t, calls[0].Payload)
	rc := conn.RequestContext
	if rc.EventType != "CONNECT" || rc.RouteKey != "$connect" || rc.Stage != "prod" || rc.APIID != "a1b2c3d4e5" ||
		rc.DomainName != ts.Addr || rc.Identity.SourceIP != "127.0.0.1" || !idRE.MatchString(rc.ConnectionID) ||
		!idRE.MatchString(rc.RequestID) || rc.MessageID != nil || rc.MessageDirection != "IN" {
		t.Errorf("CONNECT requestContext = %+v", rc)
	}
	if _, err := time.Parse("02/Jan/2006:15:04:05 -0700", rc.RequestTime); err != nil || rc.RequestTimeEpoch < rc.ConnectedAt {
		t.Errorf("requestTime %q epoch %d connectedAt %d", rc.RequestTime, rc.RequestTimeEpoch, rc.ConnectedAt)
	}
	// Header names as the client spelled them (the Go dialer writes these).
	for _, name := range []string{"Host", "Sec-WebSocket-Key", "Sec-WebSocket-Version", "Sec-WebSocket-Protocol", "X-Api-Key", "X-Forwarded-For", "X-Forwarded-Port", "X-Forwarded-Proto"} {
		if _, ok := conn.Headers[name]; !ok {
			t.Errorf("CONNECT headers lack %q: %v", name, conn.Headers)
		}
	}
	if conn.Headers["X-Forwarded-For"] != "127.0.0.1" || conn.QueryStringParameters["room"] != "b" ||
		len(conn.MultiValueQueryStringParameters["room"]) != 2 || conn.StageVariables["fn"] != "chat" {
		t.Errorf("CONNECT event: headers %v query %v stageVariables %v", conn.Headers, conn.MultiValueQueryStringParameters, conn.StageVariables)
	}
	connID := rc.ConnectionID

	// A message: two-way route returns the body.
	c.SendText("hi")
	c.ExpectText("lambda:hi")
	msg := decodeEvent(t, fake.WaitCalls(t, 2)[1].Payload)
	if msg.RequestContext.EventType != "MESSAGE" || msg.RequestContext.RouteKey != "$default" || msg.Body != "hi" ||
		msg.RequestContext.ConnectionID != connID || msg.RequestContext.MessageID == nil || len(msg.Headers) != 0 {
		t.Errorf("MESSAGE event = %+v", msg)
	}
	if msg.RequestContext.Identity.UserAgent != "switchboard-test/1.0" {
		t.Errorf("identity.userAgent = %q", msg.RequestContext.Identity.UserAgent)
	}

	// One-way: the function runs, the client hears nothing.
	c.SendText(`{"action":"oneway"}`)
	fake.WaitCalls(t, 3)
	c.ExpectNothing(100 * time.Millisecond)

	// Failures, each with its frame; the socket stays open.
	errFrame := func(message string) string {
		t.Helper()
		got := c.ReadText()
		var f struct{ Message, ConnectionID, RequestID string }
		if err := json.Unmarshal([]byte(got), &f); err != nil || f.Message != message || f.ConnectionID != connID || !idRE.MatchString(f.RequestID) {
			t.Fatalf("frame %s, want message %q for %s", got, message, connID)
		}
		if !strings.HasPrefix(got, `{"message": "`+message+`", "connectionId":"`) {
			t.Errorf("frame %s is not byte-shaped like API Gateway's", got)
		}
		return f.RequestID
	}
	c.SendText("boom")
	errFrame("Internal server error")
	c.SendText("garbage")
	errFrame("Internal server error")
	c.SendText("slow")
	errFrame("Endpoint request timed out")
	c.SendText("still here")
	c.ExpectText("lambda:still here")

	// Client close: $disconnect carries the client's code and reason.
	if err := c.Close(4001, "leaving"); err != nil {
		t.Fatal(err)
	}
	var disc events.APIGatewayWebsocketProxyRequest
	sbt.CheckFor(t, 5*time.Second, func() error {
		for _, inv := range fake.Calls() {
			if ev := decodeEvent(t, inv.Payload); ev.RequestContext.EventType == "DISCONNECT" {
				disc = ev
				return nil
			}
		}
		return errors.New("no DISCONNECT event yet")
	})
	if disc.RequestContext.ConnectionID != connID || disc.RequestContext.DisconnectStatusCode != 4001 ||
		disc.RequestContext.DisconnectReason == nil || *disc.RequestContext.DisconnectReason != "leaving" ||
		disc.Headers["Host"] != ts.Addr || disc.RequestContext.RouteKey != "$disconnect" {
		t.Errorf("DISCONNECT event = %+v", disc)
	}
}

func TestLambdaConnectOutcomes(t *testing.T) {
	sbt.NewFakeLambda(t, lambdaChat)
	ts := sbt.RunServer(t, lambdaYAML)
	tests := []struct {
		token      string
		wantStatus int // 0: connected
	}{
		{"ok", 0},
		{"nothing", 0},  // a handler that returns nothing accepts
		{"denied", 401}, // the function's statusCode
		{"throw", 502},  // function error
		{"slow", 504},   // integration timeout
	}
	for _, tt := range tests {
		t.Run(tt.token, func(t *testing.T) {
			c, err := sbt.Dial(t, ts.URL+"?token="+tt.token, sbt.DialOptions{})
			var se ws.StatusError
			switch {
			case tt.wantStatus == 0 && err != nil:
				t.Fatalf("connect refused: %v", err)
			case tt.wantStatus == 0:
				c.SendText("x")
				c.ExpectText("lambda:x")
			case !errors.As(err, &se) || int(se) != tt.wantStatus:
				t.Fatalf("handshake error %v, want HTTP %d", err, tt.wantStatus)
			}
		})
	}
}
