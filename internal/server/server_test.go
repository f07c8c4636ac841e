package server_test

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/switchboardgw/switchboard/internal/config"
	sbt "github.com/switchboardgw/switchboard/internal/switchboardtest"
)

var idRE = regexp.MustCompile(`^[A-Za-z0-9_-]{15}=$`)

func TestDemoAPI(t *testing.T) {
	ts := sbt.RunServer(t, string(config.DemoYAML()))
	c := sbt.MustDial(t, ts.URL)
	c.SendText("hello")
	c.ExpectText("hello")
	c.SendText(`{"action":"whoami"}`)
	var who struct {
		ConnectionID, SourceIP, Stage, APIID, RequestID, RouteKey string
		ConnectedAt                                               int64
	}
	if err := json.Unmarshal([]byte(c.ReadText()), &who); err != nil {
		t.Fatalf("whoami is not JSON: %v", err)
	}
	if !idRE.MatchString(who.ConnectionID) || !idRE.MatchString(who.RequestID) || who.ConnectionID == who.RequestID {
		t.Errorf("ids %q / %q", who.ConnectionID, who.RequestID)
	}
	if who.SourceIP != "127.0.0.1" || who.Stage != "dev" || who.RouteKey != "whoami" || who.APIID != ts.Config.API.ID {
		t.Errorf("whoami = %+v", who)
	}
	if d := time.Since(time.UnixMilli(who.ConnectedAt)); d < 0 || d > time.Minute {
		t.Errorf("connectedAt %d is %v ago", who.ConnectedAt, d)
	}
	// Fragmented message, reassembled before routing.
	c.SendFrame(ws.OpText, false, []byte(`{"action":`))
	c.SendFrame(ws.OpContinuation, false, []byte(`"who`))
	c.SendFrame(ws.OpContinuation, true, []byte(`ami"}`))
	if got := c.ReadText(); !strings.Contains(got, `"routeKey":"whoami"`) {
		t.Errorf("fragmented whoami answered %s", got)
	}
	// Pings are answered.
	c.SendFrame(ws.OpPing, true, []byte("p1"))
	if m, err := c.Read(5 * time.Second); err != nil || m.Op != ws.OpPong || string(m.Payload) != "p1" {
		t.Errorf("ping answered with %v %q, %v", m.Op, m.Payload, err)
	}
	if err := c.Close(1000, "bye"); err != nil {
		t.Errorf("close handshake: %v", err)
	}
}

const noDefaultYAML = sbt.ManagementYAML + `
integrations:
  echo: {type: MOCK, response: {body: "got $request.body.action"}}
routes:
  join: {integration: echo, routeResponseSelectionExpression: $default}
  quiet: {integration: echo}
`

func TestRoutingWithoutDefault(t *testing.T) {
	ts := sbt.RunServer(t, noDefaultYAML)
	c := sbt.MustDial(t, ts.URL)
	c.SendText(`{"action":"join"}`)
	c.ExpectText("got join")

	frameRE := regexp.MustCompile(`^\{"message": "Forbidden", "connectionId":"([A-Za-z0-9_-]{15}=)", "requestId":"([A-Za-z0-9_-]{15}=)"\}$`)
	for _, msg := range []string{`{"action":"leave"}`, `not json`, `{"action":"JOIN"}`, `{"other":1}`} {
		c.SendText(msg)
		got := c.ReadText()
		if !frameRE.MatchString(got) {
			t.Errorf("%s: got %s, want the Forbidden frame", msg, got)
		}
	}
	// One-way route: nothing comes back, and the socket is still open.
	c.SendText(`{"action":"quiet"}`)
	c.ExpectNothing(200 * time.Millisecond)
	c.SendText(`{"action":"join"}`)
	c.ExpectText("got join")
}

func TestLimitsAndCloseCodes(t *testing.T) {
	yaml := sbt.ManagementYAML + `
stage:
  limits: {maxFrameBytes: 1024, maxMessageBytes: 4096}
integrations:
  echo: {type: MOCK, response: {body: $request.body}}
routes:
  $default: {integration: echo, routeResponseSelectionExpression: $default}
`
	ts := sbt.RunServer(t, yaml)
	tests := []struct {
		name       string
		send       func(c *sbt.Client)
		wantCode   int
		wantReason string
	}{
		{"frame over maxFrameBytes", func(c *sbt.Client) { c.SendText(strings.Repeat("x", 1025)) }, 1009, "Frame too big"},
		{"message over maxMessageBytes", func(c *sbt.Client) {
			c.SendFrame(ws.OpText, false, []byte(strings.Repeat("x", 1024)))
			for range 3 {
				c.SendFrame(ws.OpContinuation, false, []byte(strings.Repeat("x", 1024)))
			}
			c.SendFrame(ws.OpContinuation, true, []byte("y"))
		}, 1009, "Message too big"},
		{"binary frame", func(c *sbt.Client) { c.SendFrame(ws.OpBinary, true, []byte{1, 2, 3}) }, 1003, "Binary frames are not supported"},
		{"invalid UTF-8", func(c *sbt.Client) { c.SendFrame(ws.OpText, true, []byte{0xff, 0xfe}) }, 1007, "Invalid UTF-8 in text message"},
		{"unmasked frame", func(c *sbt.Client) { c.SendRaw([]byte{0x81, 0x01, 'x'}) }, 1002, "Protocol error"},
		{"continuation first", func(c *sbt.Client) { c.SendFrame(ws.OpContinuation, true, []byte("x")) }, 1002, "Protocol error"},
		{"reserved opcode", func(c *sbt.Client) { c.SendFrame(ws.OpCode(0x3), true, []byte("x")) }, 1002, "Protocol error"},
		{"fragmented ping", func(c *sbt.Client) { c.SendFrame(ws.OpPing, false, []byte("x")) }, 1002, "Protocol error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := sbt.MustDial(t, ts.URL)
			c.SendText("before")
			c.ExpectText("before")
			tt.send(c)
			if reason := c.ExpectClose(tt.wantCode); reason != tt.wantReason {
				t.Errorf("reason %q, want %q", reason, tt.wantReason)
			}
		})
	}
	// Exactly at the limits is fine.
	c := sbt.MustDial(t, ts.URL)
	c.SendText(strings.Repeat("x", 1024))
	c.ExpectText(strings.Repeat("x", 1024))
	sbt.CheckFor(t, 5*time.Second, func() error {
		if n := ts.Connections(); n != 1 {
			return fmt.Errorf("%d connections open, want 1", n)
		}
		return nil
	})
}

func TestBinaryAllowed(t *testing.T) {
	yaml := sbt.ManagementYAML + `
stage:
  limits: {binaryFrames: allow, maxFrameBytes: 100, maxMessageBytes: 1000}
integrations:
  echo: {type: MOCK, response: {body: $request.body}}
routes:
  $default: {integration: echo, routeResponseSelectionExpression: $default}
`
	ts := sbt.RunServer(t, yaml)
	c := sbt.MustDial(t, ts.URL)
	c.SendFrame(ws.OpBinary, true, []byte{0, 1, 0xff})
	m, err := c.Read(5 * time.Second)
	if err != nil || m.Op != ws.OpBinary || string(m.Payload) != "\x00\x01\xff" {
		t.Fatalf("binary echo: %v %q %v", m.Op, m.Payload, err)
	}
	// Replies larger than maxFrameBytes are fragmented; the client
	// reassembles them.
	c.SendFrame(ws.OpText, false, []byte(strings.Repeat("a", 100)))
	c.SendFrame(ws.OpContinuation, false, []byte(strings.Repeat("b", 100)))
	c.SendFrame(ws.OpContinuation, true, []byte(strings.Repeat("c", 50)))
	c.ExpectText(strings.Repeat("a", 100) + strings.Repeat("b", 100) + strings.Repeat("c", 50))
}
