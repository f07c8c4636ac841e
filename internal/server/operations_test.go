package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/switchboardgw/switchboard/internal/config"
	"github.com/switchboardgw/switchboard/internal/server"
	sbt "github.com/switchboardgw/switchboard/internal/switchboardtest"
)

const opsEcho = `
integrations:
  echo: {type: MOCK, response: {body: "echo:$request.body"}}
routes:
  $default: {integration: echo, routeResponseSelectionExpression: $default}
`

func TestRequestModels(t *testing.T) {
	rec := newRecorder(t)
	ts := sbt.RunServer(t, sbt.ManagementYAML+`
models:
  Chat:
    type: object
    required: [action, text]
    properties: {text: {type: string, maxLength: 10}}
integrations:
  rec: {type: AWS_PROXY, uri: "`+rec.URL+`"}
routes:
  chat: {integration: rec, routeResponseSelectionExpression: $default,
         modelSelectionExpression: $default, requestModels: {$default: Chat}}
`)
	c := sbt.MustDial(t, ts.URL)
	c.SendText(`{"action":"chat","text":"hi"}`)
	c.ExpectText("ok")
	for _, bad := range []string{`{"action":"chat","text":"far too long a text"}`, `{"action":"chat"}`} {
		c.SendText(bad)
		got := c.ReadText()
		var frame struct{ Message, ConnectionID, MessageID string }
		if err := json.Unmarshal([]byte(got), &frame); err != nil || frame.Message != "Bad request body" ||
			!strings.HasPrefix(got, `{"message" : "Bad request body", "connectionId": "`) || len(frame.MessageID) != 16 {
			t.Errorf("%s: frame %s", bad, got)
		}
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if n := len(rec.events); n != 1 {
		t.Errorf("the backend got %d messages; invalid ones must not reach it", n)
	}
}

// throttledFrame reports whether a frame is the throttled-message frame.
func throttledFrame(s string) bool {
	return strings.HasPrefix(s, `{"message": "Too Many Requests", "connectionId":"`)
}

func TestRouteAndConnectionThrottles(t *testing.T) {
	ts := sbt.RunServer(t, sbt.ManagementYAML+`
stage:
  routeSettings: {$default: {throttlingBurstLimit: 3, throttlingRateLimit: 0.001}}
`+opsEcho)
	a, b := sbt.MustDial(t, ts.URL), sbt.MustDial(t, ts.URL)
	for i, c := range []*sbt.Client{a, a, b} { // the route's bucket is shared by every connection
		c.SendText("m")
		if got := c.ReadText(); got != "echo:m" {
			t.Fatalf("message %d: %s", i, got)
		}
	}
	b.SendText("m")
	if got := b.ReadText(); !throttledFrame(got) {
		t.Errorf("4th message on the route: %s, want the throttled frame", got)
	}

	perConn := sbt.RunServer(t, sbt.ManagementYAML+`
stage: {limits: {messageRateLimit: 0.001, messageBurstLimit: 2}}
`+opsEcho)
	a, b = sbt.MustDial(t, perConn.URL), sbt.MustDial(t, perConn.URL)
	for range 2 {
		a.SendText("m")
		a.ExpectText("echo:m")
	}
	a.SendText("m")
	if got := a.ReadText(); !throttledFrame(got) {
		t.Errorf("3rd message on one connection: %s, want the throttled frame", got)
	}
	b.SendText("m") // another connection has its own budget
	b.ExpectText("echo:m")
}

func TestPerIPLimits(t *testing.T) {
	ts := sbt.RunServer(t, sbt.ManagementYAML+`
stage: {limits: {maxConnectionsPerIp: 2}}
`+opsEcho)
	a := sbt.MustDial(t, ts.URL)
	sbt.MustDial(t, ts.URL)
	refusedWith(t, ts.URL, sbt.DialOptions{}, http.StatusTooManyRequests)
	a.Close(1000, "")
	sbt.CheckFor(t, 5*time.Second, func() error {
		_, err := sbt.Dial(t, ts.URL, sbt.DialOptions{})
		return err
	})

	rate := sbt.RunServer(t, sbt.ManagementYAML+`
stage: {limits: {handshakeRateLimitPerIp: 0.001, handshakeBurstLimitPerIp: 2}}
`+opsEcho)
	for range 2 {
		sbt.MustDial(t, rate.URL)
	}
	refusedWith(t, rate.URL, sbt.DialOptions{}, http.StatusTooManyRequests)
}

func TestAccessLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "access.log")
	rec := newRecorder(t)
	ts := sbt.RunServer(t, sbt.ManagementYAML+`
stage:
  accessLogSettings:
    destination: `+path+`
    format: '{"requestId":"$context.requestId","eventType":"$context.eventType","routeKey":"$context.routeKey","status":"$context.status","connectionId":"$context.connectionId","error":"$context.error.message"}'
integrations:
  rec: {type: AWS_PROXY, uri: "`+rec.URL+`"}
routes:
  $connect: {integration: rec}
  $disconnect: {integration: rec}
  $default: {integration: rec, routeResponseSelectionExpression: $default}
`)
	c := sbt.MustDial(t, ts.URL)
	c.SendText("hello")
	c.ExpectText("ok")
	id := rec.last(t, "MESSAGE")["connectionId"].(string)
	c.Close(1000, "bye")
	rec.last(t, "DISCONNECT")

	type line struct{ RequestID, EventType, RouteKey, Status, ConnectionID, Error string }
	var lines []line
	sbt.CheckFor(t, 5*time.Second, func() error {
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		lines = nil
		for sc := bufio.NewScanner(f); sc.Scan(); {
			var l line
			if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
				return fmt.Errorf("line %q: %v", sc.Text(), err)
			}
			lines = append(lines, l)
		}
		if len(lines) < 3 {
			return fmt.Errorf("%d lines so far", len(lines))
		}
		return nil
	})
	want := []line{
		{EventType: "CONNECT", RouteKey: "$connect", Status: "200", ConnectionID: id, Error: "-"},
		{EventType: "MESSAGE", RouteKey: "$default", Status: "200", ConnectionID: id, Error: "-"},
		{EventType: "DISCONNECT", RouteKey: "$disconnect", Status: "200", ConnectionID: id, Error: "-"},
	}
	for i, w := range want {
		got := lines[i]
		if len(got.RequestID) != 16 {
			t.Errorf("line %d: requestId %q", i, got.RequestID)
		}
		got.RequestID = ""
		if got != w {
			t.Errorf("line %d: %+v, want %+v", i, got, w)
		}
	}
}

func TestMetricsAndHealth(t *testing.T) {
	ts := sbt.RunServer(t, sbt.ManagementYAML+`
metrics: {listen: "127.0.0.1:0"}
stage:
  routeSettings: {$default: {detailedMetricsEnabled: true}}
  accessLogSettings: {destination: `+filepath.Join(t.TempDir(), "access.log")+`, format: "$context.requestId"}
`+opsEcho)
	h := ts.MetricsHandler()
	if h == nil {
		t.Fatal("no metrics handler")
	}
	web := httptest.NewServer(h)
	defer web.Close()
	get := func(path string) (int, string) {
		resp, err := http.Get(web.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	if code, _ := get("/healthz"); code != http.StatusOK {
		t.Errorf("/healthz %d", code)
	}
	// Serve marks itself ready once it accepts; a probe polls, as here.
	sbt.CheckFor(t, 5*time.Second, func() error {
		if code, _ := get("/readyz"); code != http.StatusOK {
			return fmt.Errorf("/readyz %d while serving", code)
		}
		return nil
	})
	c := sbt.MustDial(t, ts.URL)
	c.SendText("m")
	c.ExpectText("echo:m")
	_, body := get("/metrics")
	for _, want := range []string{
		`switchboard_message_count_total{api="`, `direction="in",route="$default",stage="dev"} 1`,
		`direction="out",route="$default",stage="dev"} 1`,
		`switchboard_open_connections{api="`,
		`switchboard_access_log_dropped_total{api="`, // the access log's losses are visible
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

// An access log destination that stops taking lines (a pipe nobody reads)
// does not hold shutdown past its deadline.
func TestShutdownWithAStuckAccessLog(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "access.pipe")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	// A reader that never reads, opened first so that the gateway's open
	// does not wait for one.
	r, err := os.OpenFile(fifo, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	cfg, err := config.Parse([]byte(sbt.ManagementYAML+`
stage: {accessLogSettings: {destination: `+fifo+`, format: "$context.requestId `+strings.Repeat("x", 1000)+`"}}
`+opsEcho), os.LookupEnv)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Listen = "127.0.0.1:0"
	srv, err := server.New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	c := sbt.MustDial(t, "ws://"+ln.Addr().String()+"/dev")
	for range 200 { // 200 KiB of lines: more than the pipe holds
		c.SendText("m")
		c.ExpectText("echo:m")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	start := time.Now()
	err = srv.Shutdown(ctx)
	if took := time.Since(start); took > 6*time.Second {
		t.Errorf("shutdown took %v with a 2 s deadline", took)
	}
	if err == nil || !strings.Contains(err.Error(), "access log") {
		t.Errorf("shutdown: %v, want the access log's error", err)
	}
	if err := <-served; err != nil {
		t.Errorf("serve: %v", err)
	}
}
