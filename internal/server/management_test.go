package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi/types"
	"github.com/aws/smithy-go"
	"github.com/gobwas/ws"

	sbt "github.com/switchboardgw/switchboard/internal/switchboardtest"
)

// whoamiYAML has a route that tells a client its own connection id.
const whoamiYAML = sbt.ManagementYAML + `
integrations:
  whoami: {type: MOCK, response: {body: $context.connectionId}}
routes:
  $default: {integration: whoami, routeResponseSelectionExpression: $default}
`

func connectionID(c *sbt.Client) string {
	c.SendText("who")
	return c.ReadText()
}

func TestManagementAPIWithSDK(t *testing.T) {
	ts := sbt.RunServer(t, whoamiYAML)
	mgmt := ts.Management()
	ctx := context.Background()
	c := sbt.MustDial(t, ts.URL)
	id := connectionID(c)
	before := time.Now()

	// PostToConnection: text, then non-UTF-8 (refused: binary frames off).
	if _, err := mgmt.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: aws.String(id), Data: []byte(`{"from":"backend"}`)}); err != nil {
		t.Fatalf("PostToConnection: %v", err)
	}
	c.ExpectText(`{"from":"backend"}`)
	_, err := mgmt.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: aws.String(id), Data: []byte{0xff, 0xfe}})
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "BadRequestException" {
		t.Errorf("non-UTF-8 post: %v, want BadRequestException", err)
	}

	// Over 128 KiB: 413 PayloadTooLargeException.
	_, err = mgmt.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: aws.String(id), Data: bytes.Repeat([]byte("x"), 128<<10+1)})
	var tooLarge *types.PayloadTooLargeException
	if !errors.As(err, &tooLarge) {
		t.Errorf("oversized post: %v, want PayloadTooLargeException", err)
	}
	// Exactly 128 KiB is delivered (fragmented into 32 KiB frames).
	if _, err := mgmt.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: aws.String(id), Data: bytes.Repeat([]byte("y"), 128<<10)}); err != nil {
		t.Fatalf("128 KiB post: %v", err)
	}
	c.ExpectText(strings.Repeat("y", 128<<10))

	// GetConnection.
	got, err := mgmt.GetConnection(ctx, &apigatewaymanagementapi.GetConnectionInput{ConnectionId: aws.String(id)})
	if err != nil {
		t.Fatalf("GetConnection: %v", err)
	}
	if got.Identity == nil || aws.ToString(got.Identity.SourceIp) != "127.0.0.1" || got.ConnectedAt == nil || got.LastActiveAt == nil {
		t.Fatalf("GetConnection = %+v", got)
	}
	if got.ConnectedAt.After(before) || got.LastActiveAt.Before(*got.ConnectedAt) || time.Since(*got.LastActiveAt) > time.Minute {
		t.Errorf("connectedAt %v lastActiveAt %v", got.ConnectedAt, got.LastActiveAt)
	}

	// Unknown and well-formed: 410 GoneException, for every operation.
	var gone *types.GoneException
	if _, err := mgmt.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: aws.String("AAAAAAAAAAAAAAA="), Data: []byte("x")}); !errors.As(err, &gone) {
		t.Errorf("post to unknown id: %v, want GoneException", err)
	}
	if _, err := mgmt.GetConnection(ctx, &apigatewaymanagementapi.GetConnectionInput{ConnectionId: aws.String("nope/../x")}); !errors.As(err, &gone) {
		t.Errorf("get unknown id: %v, want GoneException", err)
	}

	// DeleteConnection: 204, the client gets a close frame.
	if _, err := mgmt.DeleteConnection(ctx, &apigatewaymanagementapi.DeleteConnectionInput{ConnectionId: aws.String(id)}); err != nil {
		t.Fatalf("DeleteConnection: %v", err)
	}
	if reason := c.ExpectClose(1000); reason != "Connection Closed Normally" {
		t.Errorf("close reason %q", reason)
	}
	sbt.CheckFor(t, 5*time.Second, func() error {
		_, err := mgmt.DeleteConnection(ctx, &apigatewaymanagementapi.DeleteConnectionInput{ConnectionId: aws.String(id)})
		if !errors.As(err, &gone) {
			return fmt.Errorf("delete after close: %v, want GoneException", err)
		}
		return nil
	})
}

func TestManagementAuth(t *testing.T) {
	ts := sbt.RunServer(t, whoamiYAML)
	c := sbt.MustDial(t, ts.URL)
	id := connectionID(c)
	ctx := context.Background()
	var forbidden *types.ForbiddenException
	for name, client := range map[string]*apigatewaymanagementapi.Client{
		"wrong secret": sbt.ManagementClient(ts.HTTP, sbt.AccessKeyID, "wrong"),
		"unknown key":  sbt.ManagementClient(ts.HTTP, "AKIDUNKNOWN", sbt.SecretAccessKey),
	} {
		_, err := client.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: aws.String(id), Data: []byte("x")})
		if !errors.As(err, &forbidden) {
			t.Errorf("%s: %v, want ForbiddenException", name, err)
		}
	}
	// Unsigned requests, by hand, to both spellings of the path.
	for _, path := range []string{"/@connections/", "/%40connections/"} {
		req, _ := http.NewRequest(http.MethodPost, ts.HTTP+path+strings.ReplaceAll(id, "=", "%3D"), strings.NewReader("x"))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 403 || resp.Header.Get("x-amzn-ErrorType") != "ForbiddenException" || !strings.Contains(string(body), "Missing Authentication Token") {
			t.Errorf("unsigned %s: %d %s %s", path, resp.StatusCode, resp.Header.Get("x-amzn-ErrorType"), body)
		}
	}
	c.ExpectNothing(50 * time.Millisecond) // nothing was delivered

	// Wrong stage, or no stage: 403 like API Gateway, typed by the SDK.
	_, err := sbt.ManagementClient("http://"+ts.Addr+"/prod", sbt.AccessKeyID, sbt.SecretAccessKey).
		PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: aws.String(id), Data: []byte("x")})
	if !errors.As(err, &forbidden) {
		t.Errorf("wrong stage: %v, want ForbiddenException", err)
	}
}

func TestManagementAuthNone(t *testing.T) {
	ts := sbt.RunServer(t, strings.Replace(whoamiYAML, sbt.ManagementYAML, "management: {auth: none}\n", 1))
	c := sbt.MustDial(t, ts.URL)
	id := connectionID(c)
	resp, err := http.Post(ts.HTTP+"/@connections/"+id, "text/plain", strings.NewReader("plain curl"))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("unsigned post with auth none: %v %v", resp, err)
	}
	c.ExpectText("plain curl")
}

func TestPostDuringConnectIsGone(t *testing.T) {
	var ts *sbt.TestServer
	var mu sync.Mutex
	var during error
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev struct {
			RequestContext struct{ ConnectionID, EventType string } `json:"requestContext"`
		}
		json.NewDecoder(r.Body).Decode(&ev)
		if ev.RequestContext.EventType == "CONNECT" {
			_, err := ts.Management().PostToConnection(r.Context(), &apigatewaymanagementapi.PostToConnectionInput{
				ConnectionId: aws.String(ev.RequestContext.ConnectionID), Data: []byte("welcome")})
			mu.Lock()
			during = err
			mu.Unlock()
		}
		io.WriteString(w, `{"statusCode":200}`)
	}))
	defer backend.Close()
	ts = sbt.RunServer(t, sbt.ManagementYAML+`
integrations:
  be: {type: AWS_PROXY, uri: "`+backend.URL+`"}
routes:
  $connect: {integration: be}
  $default: {integration: be}
`)
	c := sbt.MustDial(t, ts.URL)
	mu.Lock()
	err := during
	mu.Unlock()
	var gone *types.GoneException
	if !errors.As(err, &gone) {
		t.Errorf("post during $connect: %v, want GoneException", err)
	}
	c.ExpectNothing(50 * time.Millisecond)
}

func TestSlowClientBackpressure(t *testing.T) {
	ts := sbt.RunServer(t, sbt.ManagementYAML+`
stage:
  limits: {sendQueueBytes: 262144, writeTimeout: 500ms}
integrations:
  whoami: {type: MOCK, response: {body: $context.connectionId}}
routes:
  $default: {integration: whoami, routeResponseSelectionExpression: $default}
`)
	// A client that stops reading, with a small receive buffer.
	c := sbt.MustDial(t, ts.URL)
	c.Conn.(*net.TCPConn).SetReadBuffer(4096)
	id := connectionID(c)
	mgmt := ts.Management()
	chunk := bytes.Repeat([]byte("z"), 100<<10)
	var limited *types.LimitExceededException
	var gone *types.GoneException
	// Keep posting: first the queue fills (429), then, once the kernel's
	// buffers are full too, the writer stalls past writeTimeout and the
	// client is cut (410 from then on).
	sawLimit, cut := false, false
	deadline := time.Now().Add(20 * time.Second)
	for !cut && time.Now().Before(deadline) {
		_, err := mgmt.PostToConnection(context.Background(), &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: aws.String(id), Data: chunk})
		switch {
		case errors.As(err, &limited):
			sawLimit = true
			time.Sleep(20 * time.Millisecond)
		case errors.As(err, &gone):
			cut = true
		case err != nil:
			t.Fatalf("post: %v", err)
		}
	}
	if !sawLimit || !cut {
		t.Fatalf("client that never reads: saw 429 %v, cut %v", sawLimit, cut)
	}
	if ts.Stats().QueueRejected.Load() == 0 || ts.Stats().SlowClosed.Load() == 0 {
		t.Errorf("counters: queue rejections %d, slow closes %d", ts.Stats().QueueRejected.Load(), ts.Stats().SlowClosed.Load())
	}
	_, err := mgmt.PostToConnection(context.Background(), &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: aws.String(id), Data: []byte("x")})
	if !errors.As(err, &gone) {
		t.Errorf("post after slow close: %v, want GoneException", err)
	}
}

// recorder is an AWS_PROXY URL backend that records events and answers
// 200 with body "ok" (sent to the client on two-way routes).
type recorder struct {
	*httptest.Server
	mu     sync.Mutex
	events []map[string]any
}

func newRecorder(t *testing.T) *recorder {
	rec := &recorder{}
	rec.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev map[string]any
		json.NewDecoder(r.Body).Decode(&ev)
		rec.mu.Lock()
		rec.events = append(rec.events, ev)
		rec.mu.Unlock()
		io.WriteString(w, `{"statusCode":200,"body":"ok"}`)
	}))
	t.Cleanup(rec.Close)
	return rec
}

// last returns the requestContext of the newest event of eventType,
// waiting for one.
func (rec *recorder) last(t *testing.T, eventType string) map[string]any {
	t.Helper()
	var found map[string]any
	sbt.CheckFor(t, 5*time.Second, func() error {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		for i := len(rec.events) - 1; i >= 0; i-- {
			if rc, _ := rec.events[i]["requestContext"].(map[string]any); rc["eventType"] == eventType {
				found = rc
				return nil
			}
		}
		return errors.New("no " + eventType + " event yet")
	})
	return found
}

// recordedWhoamiYAML is whoamiYAML with rec on $disconnect, and stage (a
// YAML stage section, or "") prepended.
func recordedWhoamiYAML(rec *recorder, stage string) string {
	return sbt.ManagementYAML + stage + `
integrations:
  whoami: {type: MOCK, response: {body: $context.connectionId}}
  rec: {type: AWS_PROXY, uri: "` + rec.URL + `"}
routes:
  $disconnect: {integration: rec}
  $default: {integration: whoami, routeResponseSelectionExpression: $default}
`
}

// disconnect waits for the DISCONNECT event of id and returns its code and reason.
func (rec *recorder) disconnect(t *testing.T, id string) (int, string) {
	t.Helper()
	var code int
	var reason string
	sbt.CheckFor(t, 10*time.Second, func() error {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		for _, ev := range rec.events {
			rc := ev["requestContext"].(map[string]any)
			if rc["eventType"] == "DISCONNECT" && rc["connectionId"] == id {
				code, reason = int(rc["disconnectStatusCode"].(float64)), rc["disconnectReason"].(string)
				return nil
			}
		}
		return fmt.Errorf("no $disconnect for %s", id)
	})
	return code, reason
}

func TestTimersAndDisconnectEvents(t *testing.T) {
	rec := newRecorder(t)
	// Wide margins: a loaded machine can stall a goroutine for a few
	// hundred milliseconds.
	ts := sbt.RunServer(t, recordedWhoamiYAML(rec, "stage: {limits: {idleTimeout: 1s, maxConnectionDuration: 3s}}\n"))
	// Idle: no message for 1s.
	idle := sbt.MustDial(t, ts.URL)
	idleID := connectionID(idle)
	if reason := idle.ExpectClose(1001); reason != "Going away" {
		t.Errorf("idle close reason %q", reason)
	}
	if code, reason := rec.disconnect(t, idleID); code != 1001 || reason != "Going away" {
		t.Errorf("idle $disconnect %d %q", code, reason)
	}

	// Busy but old: messages every 100ms keep it from idling, the maximum
	// duration still ends it.
	busy := sbt.MustDial(t, ts.URL)
	busyID := connectionID(busy)
	start := time.Now()
	var closedAfter time.Duration
	for closedAfter == 0 {
		busy.SendText("ping")
		m, err := busy.Read(5 * time.Second)
		if err != nil {
			t.Fatalf("busy connection: %v", err)
		}
		if m.Op == ws.OpClose {
			closedAfter = time.Since(start)
			if m.Code != 1001 {
				t.Errorf("max duration close %d", m.Code)
			}
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if closedAfter < 2*time.Second {
		t.Errorf("busy connection closed after %v: idle timer not reset by messages", closedAfter)
	}
	if code, _ := rec.disconnect(t, busyID); code != 1001 {
		t.Errorf("max duration $disconnect code %d", code)
	}

	// Client close frame without a code.
	c := sbt.MustDial(t, ts.URL)
	id := connectionID(c)
	c.SendFrame(ws.OpClose, true, nil)
	if code, reason := rec.disconnect(t, id); code != 1005 || reason != "Client-side close frame status not set" {
		t.Errorf("no-status close: $disconnect %d %q", code, reason)
	}
	// TCP drop without a close frame.
	c2 := sbt.MustDial(t, ts.URL)
	id2 := connectionID(c2)
	c2.Conn.Close()
	if code, _ := rec.disconnect(t, id2); code != 1006 {
		t.Errorf("dropped connection: $disconnect code %d, want 1006", code)
	}
}

func TestShutdownClosesWithGoingAway(t *testing.T) {
	rec := newRecorder(t)
	ts := sbt.RunServer(t, recordedWhoamiYAML(rec, ""))
	c := sbt.MustDial(t, ts.URL)
	id := connectionID(c)
	// A connection that never sends a request (SDK connection pools leave
	// these): net/http would wait 5 s for it; Shutdown must not.
	idle, err := net.Dial("tcp", ts.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	// Accepting is sequential and the backlog first-in first-out: once a
	// later connection's request is answered, the idle one was accepted.
	plain := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := plain.Get("http://" + ts.Addr + "/elsewhere")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
		defer cancel()
		done <- ts.Shutdown(ctx)
	}()
	c.ExpectClose(1001)
	if err := <-done; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	// Shutdown waited for the $disconnect delivery.
	rec.mu.Lock()
	n := len(rec.events)
	rec.mu.Unlock()
	if n != 1 {
		t.Fatalf("%d events delivered before Shutdown returned, want the $disconnect", n)
	}
	if code, reason := rec.disconnect(t, id); code != 1001 || reason != "Going away" {
		t.Errorf("$disconnect %d %q", code, reason)
	}
	if _, err := sbt.Dial(t, ts.URL, sbt.DialOptions{}); err == nil {
		t.Error("dial after shutdown succeeded")
	}
}
