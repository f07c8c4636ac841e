package server_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"

	sbt "github.com/switchboardgw/switchboard/internal/switchboardtest"
)

// seenRequest is what an HTTP_PROXY backend received.
type seenRequest struct {
	Method, Path, Query, Body, ContentType string
	Header                                 http.Header
}

func TestHTTPProxy(t *testing.T) {
	var mu sync.Mutex
	var seen []seenRequest
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		seen = append(seen, seenRequest{r.Method, r.URL.Path, r.URL.RawQuery, string(body), r.Header.Get("Content-Type"), r.Header.Clone()})
		mu.Unlock()
		switch {
		case r.URL.Path == "/connect" && r.URL.Query().Get("user") == "":
			w.WriteHeader(http.StatusForbidden)
		case r.URL.Path == "/connect":
			w.Header().Set("Sec-WebSocket-Protocol", "graphql-ws")
		default:
			io.WriteString(w, "relayed:"+string(body))
		}
	}))
	defer backend.Close()
	addr := strings.TrimPrefix(backend.URL, "http://")
	ts := sbt.RunServer(t, sbt.ManagementYAML+`
stage:
  variables: {backend: "`+addr+`", tenant: acme}
integrations:
  connect:
    type: HTTP_PROXY
    uri: "http://${stageVariables.backend}/connect"
    integrationMethod: GET
    requestParameters:
      integration.request.querystring.user: route.request.querystring.user
      integration.request.header.X-Client-Key: route.request.header.x-client-key
  relay:
    type: HTTP_PROXY
    uri: "http://${stageVariables.backend}/relay"
    requestParameters:
      integration.request.header.connectionId: context.connectionId
      integration.request.header.X-Tenant: stageVariables.tenant
      integration.request.header.X-Static: "'fixed value'"
      integration.request.querystring.room: route.request.body.room
routes:
  $connect: {integration: connect}
  $default: {integration: relay, routeResponseSelectionExpression: $default}
`)
	// Refused by the backend's 403.
	var se ws.StatusError
	if _, err := sbt.Dial(t, ts.URL, sbt.DialOptions{}); !asStatus(err, &se) || int(se) != 403 {
		t.Fatalf("connect without user: %v, want HTTP 403", err)
	}
	c, err := sbt.Dial(t, ts.URL+"?user=ada", sbt.DialOptions{
		Header:    http.Header{"X-Client-Key": {"k-123"}},
		Protocols: []string{"graphql-ws"},
	})
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	if c.Protocol != "graphql-ws" {
		t.Errorf("subprotocol %q", c.Protocol)
	}
	c.SendText(`{"room":"lobby","text":"hi"}`)
	c.ExpectText(`relayed:{"room":"lobby","text":"hi"}`)
	c.SendText(`plain words`)
	c.ExpectText(`relayed:plain words`)

	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 4 {
		t.Fatalf("backend saw %d requests, want 4", len(seen))
	}
	conn := seen[1]
	if conn.Method != "GET" || conn.Query != "user=ada" || conn.Header.Get("X-Client-Key") != "k-123" || conn.Body != "" {
		t.Errorf("$connect request = %+v", conn)
	}
	msg := seen[2]
	if msg.Method != "POST" || msg.Body != `{"room":"lobby","text":"hi"}` || msg.Query != "room=lobby" || msg.ContentType != "application/json" ||
		!idRE.MatchString(msg.Header.Get("connectionId")) || msg.Header.Get("X-Tenant") != "acme" || msg.Header.Get("X-Static") != "fixed value" {
		t.Errorf("message request = %+v", msg)
	}
	if plain := seen[3]; plain.ContentType != "text/plain; charset=utf-8" || plain.Query != "" {
		t.Errorf("non-JSON message request = %+v", plain)
	}
}

func asStatus(err error, se *ws.StatusError) bool {
	s, ok := err.(ws.StatusError)
	if ok {
		*se = s
	}
	return ok
}

func TestURLBackendFailures(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev struct {
			Body string `json:"body"`
		}
		json.NewDecoder(r.Body).Decode(&ev)
		switch ev.Body {
		case "500":
			http.Error(w, "backend broke", http.StatusInternalServerError)
		case "slow":
			select {
			case <-time.After(5 * time.Second):
			case <-r.Context().Done():
			}
		case "b64":
			io.WriteString(w, `{"statusCode":200,"body":"aGVsbG8=","isBase64Encoded":true}`)
		case "status-only":
			io.WriteString(w, `{"statusCode":500}`)
		default:
			io.WriteString(w, `{"statusCode":200,"body":"ok:`+ev.Body+`"}`)
		}
	}))
	defer backend.Close()
	ts := sbt.RunServer(t, sbt.ManagementYAML+`
integrations:
  be: {type: AWS_PROXY, uri: "`+backend.URL+`/events", timeoutInMillis: 500}
routes:
  $default: {integration: be, routeResponseSelectionExpression: $default}
`)
	c := sbt.MustDial(t, ts.URL)
	frame := func(message string) {
		t.Helper()
		if got := c.ReadText(); !strings.HasPrefix(got, `{"message": "`+message+`", "connectionId":"`) {
			t.Errorf("got %s, want the %q frame", got, message)
		}
	}
	c.SendText("a")
	c.ExpectText("ok:a")
	c.SendText("500")
	frame("Internal server error")
	c.SendText("slow")
	frame("Endpoint request timed out")
	c.SendText("b64")
	c.ExpectText("hello")
	c.SendText("status-only") // a valid proxy response with an empty body: nothing to send
	c.ExpectNothing(100 * time.Millisecond)
	c.SendText("b")
	c.ExpectText("ok:b")
}

// A backend that hangs on one connection's messages must not delay
// another connection's, nor that connection's other in-flight messages.
func TestSlowBackendDoesNotBlockOthers(t *testing.T) {
	release := make(chan struct{})
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev struct {
			Body string `json:"body"`
		}
		json.NewDecoder(r.Body).Decode(&ev)
		if ev.Body == "hang" {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}
		io.WriteString(w, `{"statusCode":200,"body":"done:`+ev.Body+`"}`)
	}))
	defer backend.Close()
	defer close(release)
	ts := sbt.RunServer(t, sbt.ManagementYAML+`
integrations:
  be: {type: AWS_PROXY, uri: "`+backend.URL+`"}
routes:
  $default: {integration: be, routeResponseSelectionExpression: $default}
`)
	a := sbt.MustDial(t, ts.URL)
	b := sbt.MustDial(t, ts.URL)
	for range 5 {
		a.SendText("hang")
	}
	a.SendText("quick")
	a.ExpectText("done:quick")
	start := time.Now()
	b.SendText("quick")
	b.ExpectText("done:quick")
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("other connection waited %v", d)
	}
}
