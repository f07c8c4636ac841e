package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/gobwas/ws"

	sbt "github.com/switchboardgw/switchboard/internal/switchboardtest"
)

// A connection whose in-flight slots are all held by a slow backend must
// still close promptly: the reader stops waiting for a slot once the close
// starts, so the client's answer is read and $disconnect runs.
func TestCloseWhileInflightSlotsAreFull(t *testing.T) {
	rec := newRecorder(t)
	var started atomic.Int64
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started.Add(1)
		io.Copy(io.Discard, r.Body) // net/http notices a hang-up only after the body is read
		select {
		case <-time.After(20 * time.Second):
		case <-r.Context().Done():
		}
		io.WriteString(w, `{"statusCode":200}`)
	}))
	t.Cleanup(slow.Close) // after the gateway stops and cancels its call
	ts := sbt.RunServer(t, sbt.ManagementYAML+`
stage: {limits: {maxInflightMessages: 1}}
integrations:
  whoami: {type: MOCK, response: {body: $context.connectionId}}
  slow: {type: AWS_PROXY, uri: "`+slow.URL+`"}
  rec: {type: AWS_PROXY, uri: "`+rec.URL+`"}
routes:
  $disconnect: {integration: rec}
  who: {integration: whoami, routeResponseSelectionExpression: $default}
  $default: {integration: slow}
`)
	c := sbt.MustDial(t, ts.URL)
	c.SendText(`{"action":"who"}`)
	id := c.ReadText()
	c.SendText("a") // takes the only slot
	sbt.CheckFor(t, 5*time.Second, func() error {
		if started.Load() == 0 {
			return errors.New("backend not called yet")
		}
		return nil
	})
	c.SendText("b") // waits for a slot
	start := time.Now()
	if _, err := ts.Management().DeleteConnection(context.Background(), &apigatewaymanagementapi.DeleteConnectionInput{ConnectionId: aws.String(id)}); err != nil {
		t.Fatal(err)
	}
	c.ExpectClose(1000)
	if code, _ := rec.disconnect(t, id); code != 1000 {
		t.Errorf("$disconnect code %d", code)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("$disconnect came %v after DELETE, while a backend call was still running", d.Round(time.Millisecond))
	}
	if n := started.Load(); n != 1 {
		t.Errorf("backend called %d times; the waiting message should have been dropped", n)
	}
}

// A message that arrives after our close frame went out is not dispatched:
// the backend must never see a MESSAGE after it may have seen DISCONNECT.
func TestNoMessageAfterClose(t *testing.T) {
	rec := newRecorder(t)
	ts := sbt.RunServer(t, sbt.ManagementYAML+`
integrations:
  whoami: {type: MOCK, response: {body: $context.connectionId}}
  rec: {type: AWS_PROXY, uri: "`+rec.URL+`"}
routes:
  who: {integration: whoami, routeResponseSelectionExpression: $default}
  $default: {integration: rec}
  $disconnect: {integration: rec}
`)
	c := sbt.MustDial(t, ts.URL)
	c.SendText(`{"action":"who"}`)
	id := c.ReadText()
	if _, err := ts.Management().DeleteConnection(context.Background(), &apigatewaymanagementapi.DeleteConnectionInput{ConnectionId: aws.String(id)}); err != nil {
		t.Fatal(err)
	}
	c.SendText("after-delete") // the client has not read our close yet
	c.ExpectClose(1000)
	rec.disconnect(t, id)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for _, ev := range rec.events {
		if ev["requestContext"].(map[string]any)["eventType"] == "MESSAGE" {
			t.Errorf("backend got a MESSAGE after the connection was deleted: %v", ev["body"])
		}
	}
}

// A $connect answer that is not a usable HTTP status is a failed
// integration (502), never a panic or a 1xx.
func TestConnectStatusOutOfRange(t *testing.T) {
	for _, status := range []string{"42", "100", "101", "1000", "-1"} {
		t.Run(status, func(t *testing.T) {
			backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.WriteString(w, `{"statusCode":`+status+`}`)
			}))
			defer backend.Close()
			ts := sbt.RunServer(t, sbt.ManagementYAML+`
integrations:
  gate: {type: AWS_PROXY, uri: "`+backend.URL+`"}
routes:
  $connect: {integration: gate}
`)
			var se ws.StatusError
			if _, err := sbt.Dial(t, ts.URL, sbt.DialOptions{}); !errors.As(err, &se) || int(se) != http.StatusBadGateway {
				t.Errorf("dial: %v, want HTTP 502", err)
			}
		})
	}
}

// A route response over maxMessageBytes is the integration's failure, not
// the client's: it gets the error frame and stays connected.
func TestOversizedRouteResponse(t *testing.T) {
	big := strings.Repeat("x", 2<<20)
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev struct{ Body string }
		json.NewDecoder(r.Body).Decode(&ev)
		body := "small"
		if ev.Body == "big" {
			body = big
		}
		b, _ := json.Marshal(map[string]any{"statusCode": 200, "body": body})
		w.Write(b)
	}))
	defer backend.Close()
	ts := sbt.RunServer(t, sbt.ManagementYAML+`
integrations:
  be: {type: AWS_PROXY, uri: "`+backend.URL+`"}
routes:
  $default: {integration: be, routeResponseSelectionExpression: $default}
`)
	c := sbt.MustDial(t, ts.URL)
	c.SendText("big")
	if got := c.ReadText(); !strings.HasPrefix(got, `{"message": "Internal server error"`) {
		t.Errorf("oversized reply: got %.80s", got)
	}
	c.SendText("ok")
	c.ExpectText("small")
	if n := ts.Stats().SlowClosed.Load(); n != 0 {
		t.Errorf("%d slow-client closes", n)
	}
}

// Each request on a kept-alive connection gets its own headers in the
// $connect event, never an earlier request's.
func TestConnectHeadersOnKeptAliveConnection(t *testing.T) {
	rec := newRecorder(t)
	ts := sbt.RunServer(t, sbt.ManagementYAML+`
integrations:
  rec: {type: AWS_PROXY, uri: "`+rec.URL+`"}
routes:
  $connect: {integration: rec}
  $default: {integration: rec}
`)
	conn, err := net.Dial("tcp", ts.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	br := bufio.NewReader(conn)
	conn.Write([]byte("GET /dev HTTP/1.1\r\nHost: x\r\nX-Token: first\r\n\r\n")) // not an upgrade: 426
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	conn.Write([]byte("GET /dev HTTP/1.1\r\nHost: x\r\nx-token: second\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"))
	if resp, err := http.ReadResponse(br, nil); err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %v %v", resp, err)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.events) != 1 {
		t.Fatalf("%d events", len(rec.events))
	}
	h := rec.events[0]["headers"].(map[string]any)
	if h["X-Token"] == "first" || h["x-token"] == "first" {
		t.Errorf("$connect saw the earlier request's headers: %v", h)
	}
	if h["X-Token"] != "second" { // canonical spelling: only a connection's first request keeps the client's
		t.Errorf("$connect headers %v, want X-Token: second", h)
	}
}

// Concurrent handshakes cannot overshoot maxConnections.
func TestMaxConnectionsUnderConcurrency(t *testing.T) {
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(100 * time.Millisecond) // keeps handshakes pending together
		io.WriteString(w, `{"statusCode":200}`)
	}))
	defer slow.Close()
	ts := sbt.RunServer(t, sbt.ManagementYAML+`
stage: {limits: {maxConnections: 5}}
integrations:
  gate: {type: AWS_PROXY, uri: "`+slow.URL+`"}
routes:
  $connect: {integration: gate}
  $default: {integration: gate}
`)
	var ok atomic.Int64
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := sbt.Dial(t, ts.URL, sbt.DialOptions{}); err == nil {
				ok.Add(1)
			}
		}()
	}
	wg.Wait()
	if n := ok.Load(); n > 5 || n == 0 {
		t.Errorf("%d connections accepted with maxConnections: 5", n)
	}
	if n := ts.Connections(); n > 5 {
		t.Errorf("server holds %d connections", n)
	}

}
