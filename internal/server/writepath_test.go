package server_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws"

	sbt "github.com/switchboardgw/switchboard/internal/switchboardtest"
)

const echoYAML = sbt.ManagementYAML + `
integrations:
  echo: {type: MOCK, response: {body: $request.body}}
routes:
  $default: {integration: echo, routeResponseSelectionExpression: $default}
`

// postPlain posts to a connection of a gateway with management.auth: none.
func postPlain(t *testing.T, ts *sbt.TestServer, id string, data []byte) int {
	t.Helper()
	resp, err := http.Post(ts.HTTP+"/@connections/"+id, "application/octet-stream", bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// The writer goroutine's write deadline must not outlive it: a later
// direct flush would meet the expired deadline and drop a healthy client.
func TestWriteDeadlineDoesNotOutliveTheWriter(t *testing.T) {
	ts := sbt.RunServer(t, sbt.ManagementYAML+`
stage: {limits: {writeTimeout: 200ms}}
integrations:
  echo: {type: MOCK, response: {body: $request.body}}
routes:
  $default: {integration: echo, routeResponseSelectionExpression: $default}
`)
	c := sbt.MustDial(t, ts.URL)
	c.SendFrame(ws.OpPing, true, []byte("p")) // the pong goes through the writer goroutine
	if m, err := c.Read(5 * time.Second); err != nil || m.Op != ws.OpPong {
		t.Fatalf("pong: %v %v", m.Op, err)
	}
	time.Sleep(400 * time.Millisecond) // the scenario: quiet for longer than writeTimeout
	c.SendText("after")
	c.ExpectText("after")
}

// Replies to more pipelined messages than one writev takes (IOV_MAX) all
// arrive, in order.
func TestPipelinedRepliesBeyondIOVMax(t *testing.T) {
	ts := sbt.RunServer(t, echoYAML)
	c := sbt.MustDial(t, ts.URL)
	const n = 2000
	var buf bytes.Buffer
	for i := range n {
		ws.WriteFrame(&buf, ws.MaskFrame(ws.NewTextFrame([]byte(fmt.Sprint(i%10)))))
	}
	c.SendRaw(buf.Bytes()) // 7 bytes each: a few reads handle hundreds at once
	for i := range n {
		if m, err := c.Read(5 * time.Second); err != nil || m.Op != ws.OpText || string(m.Payload) != fmt.Sprint(i%10) {
			t.Fatalf("reply %d of %d: %v %q close %d, err %v", i, n, m.Op, m.Payload, m.Code, err)
		}
	}
}

// While the reader waits for an in-flight slot, messages for the client
// (here @connections posts, more than IOV_MAX of them) are delivered at
// once, not held back until a slot frees.
func TestDeliveryWhileReaderWaitsForSlot(t *testing.T) {
	var started atomic.Int64
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started.Add(1)
		io.Copy(io.Discard, r.Body)
		select {
		case <-time.After(10 * time.Second):
		case <-r.Context().Done():
		}
		io.WriteString(w, `{"statusCode":200}`)
	}))
	t.Cleanup(slow.Close)
	ts := sbt.RunServer(t, `
management: {auth: none}
stage: {limits: {maxInflightMessages: 1}}
integrations:
  who: {type: MOCK, response: {body: $context.connectionId}}
  slow: {type: AWS_PROXY, uri: "`+slow.URL+`"}
routes:
  who: {integration: who, routeResponseSelectionExpression: $default}
  $default: {integration: slow}
`)
	c := sbt.MustDial(t, ts.URL)
	c.SendText(`{"action":"who"}`)
	id := c.ReadText()
	c.SendText("slow1") // takes the only slot
	sbt.CheckFor(t, 5*time.Second, func() error {
		if started.Load() == 0 {
			return errors.New("backend not called yet")
		}
		return nil
	})
	c.SendText("slow2") // the reader waits for the slot
	const n = 1100
	start := time.Now()
	for i := range n {
		if st := postPlain(t, ts, id, []byte(fmt.Sprint(i))); st != 200 {
			t.Fatalf("post %d: %d", i, st)
		}
	}
	for i := range n {
		if m, err := c.Read(5 * time.Second); err != nil || m.Op != ws.OpText || string(m.Payload) != fmt.Sprint(i) {
			t.Fatalf("post %d of %d: got %v %q, err %v", i, n, m.Op, m.Payload, err)
		}
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("posts delivered after %v, while a backend call held the only slot", d.Round(time.Millisecond))
	}
}
