package dispatch_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/switchboardgw/switchboard/internal/awsapi"
	"github.com/switchboardgw/switchboard/internal/config"
	"github.com/switchboardgw/switchboard/internal/dispatch"
	"github.com/switchboardgw/switchboard/internal/integration"
	"github.com/switchboardgw/switchboard/internal/integration/mock"
	"github.com/switchboardgw/switchboard/internal/registry"
	"github.com/switchboardgw/switchboard/internal/route"
	"github.com/switchboardgw/switchboard/internal/session"
)

// idShape is API Gateway's: 15 URL-safe base64 characters and "=".
var idShape = regexp.MustCompile(`^[A-Za-z0-9_-]{15}=$`)

const testConnID = "AAAAAAAAAAAAAAA="

// newDispatcher routes every message to $default, a two-way route to in.
func newDispatcher(in integration.Integration) *dispatch.Dispatcher {
	routes := map[string]*dispatch.Route{
		route.Default: {Key: route.Default, Integration: in, Timeout: 29 * time.Second, TwoWay: true},
	}
	return build(context.Background(), routes, dispatch.Checks{}, slog.New(slog.DiscardHandler))
}

// build returns a dispatcher running routes, selected by
// $request.body.action, with checks.
func build(ctx context.Context, routes map[string]*dispatch.Route, checks dispatch.Checks, log *slog.Logger) *dispatch.Dispatcher {
	d := dispatch.New(ctx, registry.NewIDs(), checks.Metrics, log)
	d.Use(d.Build(route.MustCompile("$request.body.action", route.Selection), routes,
		dispatch.Stage{Name: "dev", APIID: "abcdef1234", MaxMessageBytes: config.DefaultMaxMessageBytes}, checks))
	return d
}

// loopback returns both ends of a loopback TCP connection, closed when the
// test ends.
func loopback(tb testing.TB) (server, client net.Conn) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		tb.Fatal(err)
	}
	server, err = ln.Accept()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		server.Close()
		client.Close()
	})
	return server, client
}

// newSession wraps the server end with the default limits. It is not
// served: the test calls the dispatcher as the reader would.
func newSession(server net.Conn) *session.Conn {
	opts := &session.Options{
		IdleTimeout: time.Hour, MaxDuration: time.Hour,
		MaxMessageBytes: config.DefaultMaxMessageBytes, MaxFrameBytes: config.DefaultMaxFrameBytes,
		SendQueueBytes: config.DefaultSendQueueBytes, WriteTimeout: 10 * time.Second,
		MaxInflight: config.DefaultMaxInflightMessages, CloseGrace: time.Second,
		AllowBinary: true,
	}
	info := session.Info{ID: testConnID, SourceIP: "127.0.0.1", UserAgent: "test", DomainName: "localhost",
		ConnectedAt: time.Now().UnixMilli()}
	return session.New(server, info, opts, ignoreHandler{})
}

// ignoreHandler is the session's handler; the tests call the dispatcher
// themselves.
type ignoreHandler struct{}

func (ignoreHandler) HandleMessage(*session.Conn, []byte, bool) {}
func (ignoreHandler) HandleClose(*session.Conn, int, string)    {}

// readFrame reads one server frame of at most 64 KiB within 5 s.
func readFrame(t *testing.T, client net.Conn) ws.Frame {
	t.Helper()
	client.SetReadDeadline(time.Now().Add(5 * time.Second))
	h, err := ws.ReadHeader(client)
	if err != nil {
		t.Fatal(err)
	}
	if h.Length > 64<<10 {
		t.Fatalf("frame of %d bytes", h.Length)
	}
	p := make([]byte, h.Length)
	if _, err := io.ReadFull(client, p); err != nil {
		t.Fatal(err)
	}
	return ws.Frame{Header: h, Payload: p}
}

// The MOCK echo answers every message with itself, in order, as a text
// frame unless the message is not valid UTF-8; events reused between
// messages carry nothing over.
func TestMockEchoInOrder(t *testing.T) {
	echo, err := mock.New(&config.MockResponse{StatusCode: 200, Body: "$request.body"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	d := newDispatcher(echo)
	server, client := loopback(t)
	c := newSession(server)
	msgs := []struct {
		body   string
		binary bool
		op     ws.OpCode
	}{
		{`{"action":"echo","n":1}`, false, ws.OpText},
		{"\xff\xfe", true, ws.OpBinary},
		{"text in a binary frame", true, ws.OpText}, // valid UTF-8 goes back as text
		{"", false, ws.OpText},                      // an empty reply is not sent
		{`{"n":5}`, false, ws.OpText},
	}
	for _, m := range msgs {
		d.HandleMessage(c, []byte(m.body), m.binary)
	}
	for _, m := range msgs {
		if m.body == "" {
			continue
		}
		f := readFrame(t, client)
		if string(f.Payload) != m.body || f.Header.OpCode != m.op {
			t.Errorf("reply %q (op %d), want %q (op %d)", f.Payload, f.Header.OpCode, m.body, m.op)
		}
	}
}

// A MOCK template reading the context sees each message's own ids: fresh
// and distinct, never those of an earlier message.
func TestMockContextIDsPerMessage(t *testing.T) {
	tmpl := `{"requestId":"$context.requestId","messageId":"$context.messageId","connectionId":"$context.connectionId",` +
		`"routeKey":"$context.routeKey","eventType":"$context.eventType","body":$request.body}`
	m, err := mock.New(&config.MockResponse{StatusCode: 200, Body: tmpl}, nil)
	if err != nil {
		t.Fatal(err)
	}
	d := newDispatcher(m)
	server, client := loopback(t)
	c := newSession(server)
	const n = 50
	for i := range n {
		body, _ := json.Marshal(map[string]int{"n": i})
		d.HandleMessage(c, body, false)
	}
	seen := map[string]bool{}
	for i := range n {
		f := readFrame(t, client)
		var got struct {
			RequestID, MessageID, ConnectionID, RouteKey, EventType string
			Body                                                    struct{ N int }
		}
		if err := json.Unmarshal(f.Payload, &got); err != nil {
			t.Fatalf("reply %q: %v", f.Payload, err)
		}
		if got.Body.N != i || got.ConnectionID != testConnID || got.RouteKey != route.Default || got.EventType != "MESSAGE" {
			t.Errorf("reply %d: %+v", i, got)
		}
		for _, id := range []string{got.RequestID, got.MessageID} {
			if !idShape.MatchString(id) || seen[id] {
				t.Fatalf("reply %d: id %q malformed or seen before", i, id)
			}
			seen[id] = true
		}
	}
}

// recorder passes a copy of every event it is given to events; it is
// inline or not as told, and fails with err.
type recorder struct {
	inline bool
	events chan awsapi.Event
	err    error
}

func newRecorder(inline bool, err error) *recorder {
	return &recorder{inline: inline, events: make(chan awsapi.Event, 16), err: err}
}

func (r *recorder) Inline() bool { return r.inline }

func (r *recorder) Invoke(_ context.Context, ev *awsapi.Event) (*integration.Response, error) {
	r.events <- *ev
	return &integration.Response{StatusCode: 200}, r.err
}

// next returns the next event the recorder was given.
func (r *recorder) next(t *testing.T) awsapi.Event {
	t.Helper()
	select {
	case ev := <-r.events:
		return ev
	case <-time.After(5 * time.Second):
		t.Fatal("no event after 5 s")
		return awsapi.Event{}
	}
}

// Inline and I/O integrations see the same MESSAGE events.
func TestMessageEvent(t *testing.T) {
	for _, inline := range []bool{true, false} {
		rec := newRecorder(inline, nil)
		d := newDispatcher(rec)
		server, _ := loopback(t)
		c := newSession(server)
		before := time.Now().UnixMilli()
		d.HandleMessage(c, []byte(`{"action":"x"}`), false)
		d.HandleMessage(c, []byte("\x00\x01"), true)
		events := []awsapi.Event{rec.next(t), rec.next(t)}
		if !inline && string(events[0].Body) != `{"action":"x"}` {
			events[0], events[1] = events[1], events[0] // I/O calls may finish in either order
		}
		for i, want := range []struct {
			body   string
			binary bool
		}{{`{"action":"x"}`, false}, {"\x00\x01", true}} {
			ev := events[i]
			if ev.Type != awsapi.Message || ev.RouteKey != route.Default || string(ev.Body) != want.body ||
				ev.IsBase64Encoded != want.binary || ev.ConnectionID != testConnID || ev.Stage != "dev" ||
				ev.APIID != "abcdef1234" || ev.SourceIP != "127.0.0.1" || ev.UserAgent != "test" ||
				ev.DomainName != "localhost" || ev.RequestTime < before || ev.RequestTime > time.Now().UnixMilli() {
				t.Errorf("inline %v: event %d: %+v", inline, i, ev)
			}
			if !idShape.MatchString(ev.RequestID) || !idShape.MatchString(ev.MessageID) || ev.RequestID == ev.MessageID {
				t.Errorf("inline %v: event %d: ids %q, %q", inline, i, ev.RequestID, ev.MessageID)
			}
		}
		if events[0].RequestID == events[1].RequestID || events[0].MessageID == events[1].MessageID {
			t.Errorf("inline %v: two messages share ids", inline)
		}
	}
}

// A failing inline integration answers with the gateway's error frame
// carrying its event's request id.
func TestInlineErrorFrame(t *testing.T) {
	rec := newRecorder(true, errors.New("boom"))
	d := newDispatcher(rec)
	server, client := loopback(t)
	c := newSession(server)
	d.HandleMessage(c, []byte(`{}`), false)
	f := readFrame(t, client)
	want := string(awsapi.AppendErrorFrame(nil, awsapi.FrameInternalError, testConnID, rec.next(t).RequestID))
	if string(f.Payload) != want {
		t.Errorf("frame %q, want %q", f.Payload, want)
	}
}

// Execution logs follow each route's level: INFO logs every message (with
// the data trace when on), ERROR only failures, and a route without
// settings nothing.
func TestExecutionLog(t *testing.T) {
	echo, err := mock.New(&config.MockResponse{StatusCode: 200, Body: "echo:$request.body"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	routes := map[string]*dispatch.Route{
		"info":  {Key: "info", Integration: echo, Timeout: time.Second, TwoWay: true},
		"error": {Key: "error", Integration: echo, Timeout: time.Second, TwoWay: true},
		"quiet": {Key: "quiet", Integration: echo, Timeout: time.Second, TwoWay: true},
	}
	var buf strings.Builder
	var mu sync.Mutex
	log := slog.New(slog.NewTextHandler(lockedWriter{&mu, &buf}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	d := build(context.Background(), routes, dispatch.Checks{Logging: map[string]dispatch.RouteLogging{
		"info":  {Level: slog.LevelInfo, DataTrace: true},
		"error": {Level: slog.LevelError},
	}}, log)
	server, client := loopback(t)
	c := newSession(server)
	for _, r := range []string{"info", "error", "quiet"} {
		d.HandleMessage(c, []byte(`{"action":"`+r+`"}`), false)
		readFrame(t, client)
	}
	mu.Lock()
	defer mu.Unlock()
	out := buf.String()
	if n := strings.Count(out, `msg="message handled"`); n != 1 {
		t.Fatalf("%d execution log lines, want 1 (the INFO route's):\n%s", n, out)
	}
	for _, want := range []string{`route=info`, `status=200`, `body="{\"action\":\"info\"}"`, `response="echo:{\"action\":\"info\"}"`} {
		if !strings.Contains(out, want) {
			t.Errorf("execution log lacks %s:\n%s", want, out)
		}
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
