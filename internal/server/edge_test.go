package server_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/gobwas/ws"

	sbt "github.com/switchboardgw/switchboard/internal/switchboardtest"
)

func TestPostBinaryWhenAllowed(t *testing.T) {
	ts := sbt.RunServer(t, strings.Replace(whoamiYAML, "integrations:", "stage: {limits: {binaryFrames: allow}}\nintegrations:", 1))
	c := sbt.MustDial(t, ts.URL)
	id := connectionID(c)
	data := []byte{0x00, 0xff, 0x80, 'x'}
	if _, err := ts.Management().PostToConnection(context.Background(), &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: aws.String(id), Data: data}); err != nil {
		t.Fatal(err)
	}
	m, err := c.Read(5 * time.Second)
	if err != nil || m.Op != ws.OpBinary || string(m.Payload) != string(data) {
		t.Fatalf("got %v %q %v, want a binary frame", m.Op, m.Payload, err)
	}
}

func TestMaxConnections(t *testing.T) {
	ts := sbt.RunServer(t, strings.Replace(whoamiYAML, "integrations:", "stage: {limits: {maxConnections: 2}}\nintegrations:", 1))
	a := sbt.MustDial(t, ts.URL)
	sbt.MustDial(t, ts.URL)
	var se ws.StatusError
	if _, err := sbt.Dial(t, ts.URL, sbt.DialOptions{}); !errors.As(err, &se) || int(se) != http.StatusTooManyRequests {
		t.Fatalf("third connection: %v, want HTTP 429", err)
	}
	a.Close(1000, "")
	sbt.CheckFor(t, 5*time.Second, func() error {
		_, err := sbt.Dial(t, ts.URL, sbt.DialOptions{})
		return err
	})
}

func TestPlainHTTPOnWebSocketPath(t *testing.T) {
	ts := sbt.RunServer(t, whoamiYAML)
	resp, err := http.Get(ts.HTTP)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUpgradeRequired || resp.Header.Get("Upgrade") != "websocket" || !strings.Contains(string(body), "WebSocket") {
		t.Errorf("plain GET: %d %v %q", resp.StatusCode, resp.Header, body)
	}
	resp, err = http.Post(ts.HTTP, "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST to the WebSocket path: %d", resp.StatusCode)
	}
	resp, err = http.Get("http://" + ts.Addr + "/other")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || resp.Header.Get("x-amzn-ErrorType") != "ForbiddenException" {
		t.Errorf("unknown path: %d", resp.StatusCode)
	}
}

func TestMockConnectRefuses(t *testing.T) {
	ts := sbt.RunServer(t, sbt.ManagementYAML+`
integrations:
  gate: {type: MOCK, response: {statusCode: 403}}
  echo: {type: MOCK, response: {body: $request.body}}
routes:
  $connect: {integration: gate}
  $default: {integration: echo}
`)
	var se ws.StatusError
	if _, err := sbt.Dial(t, ts.URL, sbt.DialOptions{}); !errors.As(err, &se) || int(se) != http.StatusForbidden {
		t.Fatalf("dial: %v, want HTTP 403 from the MOCK $connect", err)
	}
	if n := ts.Connections(); n != 0 {
		t.Errorf("%d connections after a refused handshake", n)
	}
}

func TestInvalidClientCloseCode(t *testing.T) {
	rec := newRecorder(t)
	ts := sbt.RunServer(t, recordedWhoamiYAML(rec, ""))
	for _, code := range []int{1005, 999, 2000} {
		c := sbt.MustDial(t, ts.URL)
		id := connectionID(c)
		c.SendFrame(ws.OpClose, true, ws.NewCloseFrameBody(ws.StatusCode(code), ""))
		c.ExpectClose(1002)
		if got, reason := rec.disconnect(t, id); got != 1002 || reason != "Protocol error" {
			t.Errorf("close code %d from the client: $disconnect %d %q", code, got, reason)
		}
	}
}

func TestPingsDoNotResetIdle(t *testing.T) {
	ts := sbt.RunServer(t, strings.Replace(whoamiYAML, "integrations:", "stage: {limits: {idleTimeout: 500ms}}\nintegrations:", 1))
	c := sbt.MustDial(t, ts.URL)
	start := time.Now()
	for {
		c.SendFrame(ws.OpPing, true, nil)
		m, err := c.Read(5 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if m.Op == ws.OpClose {
			if m.Code != 1001 {
				t.Fatalf("close %d, want 1001", m.Code)
			}
			break
		}
		if time.Since(start) > 5*time.Second {
			t.Fatalf("pinging kept the connection open for %v with a 500ms idle timeout", time.Since(start))
		}
		time.Sleep(50 * time.Millisecond)
	}
}
